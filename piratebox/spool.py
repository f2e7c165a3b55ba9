"""Receiving a file: streamed to disk, hashed on the way, stopped before the disk is full.

Werkzeug's form parser asks the request for a stream to write each file part into; for
a body whose rule says so (the file share's upload, the mediator's bundle: see
piratebox/bodies.py) that stream is an `UploadSpool` in this process's scratch folder.
Memory stays flat whatever the size. Before the first byte is written the upload is
checked against the rate limit (piratebox/web.py) and, when the browser announced its
length, against the free space above the reserve; while it streams, the free space is
looked at every few megabytes, and a full disk aborts it. Whatever is not adopted into
the blob store by the end of the request is deleted (see `discard_unadopted`).

Under the server, all that happens after waitress has the whole body in a temporary
file of its own, deleted once the answer is sent: while it travels an upload takes
COPIES times its size, and the server's guard (piratebox/serving.py) refuses at the
headers an upload the disk cannot take twice.
"""

import contextlib
import errno
import hashlib
import os
import secrets

from flask import current_app, g

from piratebox.errors import PirateboxError
from piratebox.i18n import N_
from piratebox.storage import disk_usage
from piratebox.units import MB

# The first bytes of a file, kept as it streams: enough for every signature the file
# share tells a type by (piratebox/files/names.py).
HEAD_BYTES = 16
FREE_SPACE_CHECK_EVERY = 4 * MB
MULTIPART_OVERHEAD = 1 * MB  # the form's other fields and part headers
COPIES = 2  # the server's temporary copy of the body, then the spool (measured: 2.00)
# One phone's bodies on their way may take at most this share of the room the others
# leave: a phone trickling the largest upload it can still leaves the rest of the box room
# for everyone else's photos and files.
ADDRESS_SHARE = 2


class FileTooLarge(PirateboxError):
    status = 413

    def __init__(self, limit):
        super().__init__(N_("A file is larger than {size} MB, the most this box accepts. "
                            "Nothing was kept."), size=limit // MB)


class DiskFull(PirateboxError):
    status = 507

    def __init__(self):
        super().__init__(N_("The box is almost full: this upload would leave it no room to "
                            "work. Nothing was kept. Ask the mediator to make room."))


class BoxFull(PirateboxError):
    status = 507

    def __init__(self):
        super().__init__(N_("The box is almost full: it takes nothing new until the mediator "
                            "makes room. Nothing was kept; everything can still be read."))


def check_room_to_write(data_dir, config):
    """Refuse a visitor's write (a post, a message, a change) once the free space is down
    to half the reserve: the database grows with each, and takes its room from the reserve
    the file share leaves, never from the last of the disk."""
    usage = disk_usage(data_dir.path)
    if usage.free < reserve_bytes(config, usage.total) // 2:
        raise BoxFull()


def reserve_bytes(config, total):
    """Free space the file share never uses: a percentage of the disk or a floor, the larger."""
    return max(total * config["FILES_RESERVE_PERCENT"] // 100, config["FILES_RESERVE_MB"] * MB)


def largest_upload(data_dir, config):
    """The most one upload may bring now: the limit, or what a phone's share of the room
    can take twice (see `fits`)."""
    share = room(data_dir, config) // ADDRESS_SHARE
    return max(0, min(config["FILES_MAX_MB"] * MB, share // COPIES))


def fits(room_now, others, own):
    """May one phone hold `own` bytes of disk for its bodies on their way, while the other
    phones' hold `others`, with `room_now` free above the reserve?"""
    return own <= (room_now - others) // ADDRESS_SHARE


def room(data_dir, config):
    """Bytes an upload may still use on the data disk."""
    usage = disk_usage(data_dir.path)
    return usage.free - reserve_bytes(config, usage.total)


def disk_figures(data_dir, config):
    """The data disk as the file share's page tells it: total, used, available above the
    reserve, the reserve, and the largest upload it takes now."""
    usage = disk_usage(data_dir.path)
    reserve = reserve_bytes(config, usage.total)
    return {"total": usage.total, "used": usage.total - usage.free,
            "available": max(0, usage.free - reserve), "reserve": reserve,
            "largest_upload": largest_upload(data_dir, config)}


class UploadSpool:
    """A writable file that hashes, counts and guards what Werkzeug writes into it."""

    def __init__(self, folder, data_dir, config, max_bytes):
        self.path = folder / f"upload-{secrets.token_hex(8)}"
        self._file = open(self.path, "w+b")  # noqa: SIM115 - closed by close() or discard
        self._hash = hashlib.sha256()
        self._data_dir = data_dir
        self._config = config
        self._max_bytes = max_bytes
        self._since_check = FREE_SPACE_CHECK_EVERY  # look at the disk before the first write
        self.size = 0
        self.head = b""
        self.adopted = False

    def write(self, data):
        self.size += len(data)
        if self.size > self._max_bytes:
            raise FileTooLarge(self._max_bytes)
        self._since_check += len(data)
        if self._since_check >= FREE_SPACE_CHECK_EVERY:
            self._since_check = 0
            if room(self._data_dir, self._config) < len(data):
                raise DiskFull()
        if len(self.head) < HEAD_BYTES:
            self.head = (self.head + data[:HEAD_BYTES])[:HEAD_BYTES]
        self._hash.update(data)
        with disk_full_is_refused():
            self._file.write(data)
        return len(data)

    @property
    def digest(self):
        return self._hash.hexdigest()

    def finish(self):
        """Flush to the device and close; the file is then ready to be renamed into place.
        Once is enough: a stick's import finishes each file as soon as it is copied."""
        if self._file.closed:
            return
        with disk_full_is_refused():
            self._file.flush()
            os.fsync(self._file.fileno())
        self._file.close()

    # What Werkzeug and FileStorage call on the stream besides write(). Writes are
    # buffered, so a full disk may only show when the buffer is flushed.
    def seek(self, offset, whence=0):
        with disk_full_is_refused():
            return self._file.seek(offset, whence)

    def tell(self):
        return self._file.tell()

    def read(self, size=-1):
        return self._file.read(size)

    def close(self):
        self._file.close()

    def discard(self):
        with contextlib.suppress(OSError):  # a full disk: the buffer is thrown away anyway
            self._file.close()
        self.path.unlink(missing_ok=True)


@contextlib.contextmanager
def disk_full_is_refused():
    try:
        yield
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull() from None
        raise


def is_first():
    """Is the next file part this request's first to spool?"""
    return not g.get("upload_spools")


def open_spool(total_content_length, max_bytes):
    """Werkzeug's stream factory for a form whose files go to the data disk (the file
    share's upload, the mediator's bundle)."""
    spools = g.setdefault("upload_spools", [])
    data_dir = current_app.extensions["box"].data_dir
    config = current_app.config
    if not spools and total_content_length and total_content_length > room(data_dir, config):
        raise DiskFull()  # refused before anything is written
    spool = UploadSpool(data_dir.scratch(), data_dir, config, max_bytes)
    spools.append(spool)
    return spool


def discard_unadopted(_error=None):
    """At the end of every request: delete what a refused or failed upload wrote."""
    for spool in g.pop("upload_spools", []):
        if not spool.adopted:
            spool.discard()
