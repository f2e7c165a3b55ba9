"""The content-addressed blob store: each file is named by the SHA-256 of its bytes.

The same photo or file uploaded twice is stored once. A blob is written to the data
directory's tmp/, flushed, then renamed into blobs/ab/abcdef...; the database row that
needs it is written after, so a power cut leaves at worst an unreferenced blob, never a
row pointing at nothing.
"""

import hashlib
import os
import re
import secrets
import stat

from models import Blob
from piratebox.storage import fsync_dir

HASH_PATTERN = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 256 * 1024


class BlobStore:
    def __init__(self, data_dir):
        self.data_dir = data_dir

    def path(self, digest):
        if not HASH_PATTERN.match(digest or ""):
            raise ValueError("not a blob hash")
        return self.data_dir.blobs / digest[:2] / digest

    def exists(self, digest):
        return self.path(digest).is_file()

    def put_bytes(self, data, kind, now):
        """Store `data` (if new) and record it; returns its hash."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.is_file():
            temporary = self.data_dir.scratch() / f"blob-{secrets.token_hex(8)}"
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            self._move_into_place(temporary, target)
        Blob.insert(hash=digest, size=len(data), kind=kind, created_at=now).on_conflict_ignore(
        ).execute()
        return digest

    def adopt(self, temporary, digest, size, kind, now):
        """Take a finished, flushed file whose hash is known (an upload) into the store."""
        target = self.path(digest)
        if target.is_file():
            os.unlink(temporary)  # the same content is already here: keep one copy
        else:
            self._move_into_place(temporary, target)
        Blob.insert(hash=digest, size=size, kind=kind, created_at=now).on_conflict_ignore(
        ).execute()
        return digest

    def release(self, digest, kind):
        """Forget a blob of `kind` nothing refers to any more (the caller checked) and free
        its space. A blob first stored as another kind (a photo also shared as a file) stays."""
        deleted = Blob.delete().where((Blob.hash == digest) & (Blob.kind == kind)).execute()
        if deleted:
            self.path(digest).unlink(missing_ok=True)
        return bool(deleted)

    def _move_into_place(self, temporary, target):
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temporary, target)
        fsync_dir(target.parent)

    def verify(self, digest):
        """Is the stored blob a plain file (never a link, followed) that hashes to its name?"""
        hasher = hashlib.sha256()
        try:
            fd = os.open(self.path(digest), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:  # missing, or a link
            return False
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return False
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                hasher.update(chunk)
        return hasher.hexdigest() == digest
