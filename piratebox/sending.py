"""Answers that are files (photos, shared files, the poster): sent from the file itself.

waitress sends a file a view hands it through `wsgi.file_wrapper` straight from the
file, a block at a time, from its loop: no worker thread waits for the phone, nothing is
copied into its buffers. Werkzeug answers a Range request otherwise: an iterator reads the
file from its start and hands the server the range a block at a time, which waitress holds
in its buffers (up to 16 MB a connection, on the disk past 1 MB) while a worker thread
waits for the phone to read them. A range is therefore sent here as a whole file is.
"""

import io

from flask import request, send_file
from werkzeug.wsgi import wrap_file


def send_stored(path, **options):
    """Flask's send_file, with a Range answer sent from the file itself."""
    response = send_file(path, **options)
    content_range = response.content_range
    if response.status_code == 206 and content_range and content_range.stop is not None:
        whole = response.response
        response.response = wrap_file(request.environ, FileRange(
            path, content_range.start, content_range.stop - content_range.start))
        if hasattr(whole, "close"):
            whole.close()
    return response


class FileRange(io.RawIOBase):
    """`length` bytes of a file from `start`, read as if they were the whole file."""

    def __init__(self, path, start, length):
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 - closed with this object
        self._start, self._length = start, length
        self._file.seek(start)

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self._file.tell() - self._start

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.tell(), io.SEEK_END: self._length}[whence]
        position = min(max(0, base + offset), self._length)
        self._file.seek(self._start + position)
        return position

    def read(self, size=-1):
        left = self._length - self.tell()
        return self._file.read(left if size is None or size < 0 else min(size, left))

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self):
        self._file.close()
        super().close()
