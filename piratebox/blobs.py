"""The content-addressed blob store: each file is named by the SHA-256 of its bytes.

The same photo or file uploaded twice is stored once. A blob is written to the data
directory's tmp/, flushed, then renamed into blobs/ab/abcdef...; the database row that
needs it is written after, so a power cut leaves at worst an unreferenced blob, never a
row pointing at nothing.

Deleted means gone: `collect()` gives back the space of blobs no live record uses
(models.BlobUse says which). It never runs while a blob may be about to be used or is
being read: whoever stores a blob for a record it is about to save, and whoever copies
blobs out (an export, a backup), holds a shared lock on the store (`keeping()`); the
collector takes it exclusively, and only when nobody holds it, inside a write
transaction. It removes the files first and the rows after, so a power cut in between
leaves rows that the next collection removes, never a live record without its blob.
"""

import contextlib
import fcntl
import hashlib
import os
import stat
from pathlib import Path

from peewee import fn

from models import BATCH, Blob, BlobUse, PeerBlob
from piratebox.patterns import SHA256
from piratebox.storage import atomic_write, file_digest, fsync_dir


def unused():
    """The blobs no live record uses."""
    return Blob.select(Blob.hash).where(
        ~fn.EXISTS(BlobUse.select().where(BlobUse.hash == Blob.hash)))


def blob_path(digest):
    """Where a blob lies below a folder of blobs (the store's, a backup's): ab/abcdef..., so
    that no folder holds more than a few thousand files."""
    if not SHA256.match(digest or ""):
        raise ValueError("not a blob hash")
    return Path(digest[:2]) / digest


class BlobStore:
    def __init__(self, data_dir):
        self.data_dir = data_dir

    def path(self, digest):
        return self.data_dir.blobs / blob_path(digest)

    def exists(self, digest):
        return self.path(digest).is_file()

    def put_bytes(self, data, kind, now):
        """Store `data` (if new) and record it; returns its hash."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, data, scratch=self.data_dir.scratch())
        Blob.note(digest, len(data), kind, now)
        return digest

    def adopt(self, temporary, digest, size, kind, now):
        """Take a finished, flushed file whose hash is known (an upload) into the store."""
        target = self.path(digest)
        if target.is_file():
            os.unlink(temporary)  # the same content is already here: keep one copy
        else:
            self._move_into_place(temporary, target)
        Blob.note(digest, size, kind, now)
        return digest

    @contextlib.contextmanager
    def keeping(self):
        """Hold the store so that no blob is collected: while blobs are stored for a record
        not yet saved, or copied out of the store."""
        with self._locked(fcntl.LOCK_SH) as held:
            yield held

    @contextlib.contextmanager
    def _locked(self, mode):
        self.data_dir.tmp.mkdir(exist_ok=True)
        fd = os.open(self.data_dir.blob_lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, mode)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)  # closing releases the lock

    def collect(self):
        """Delete the blobs no live record uses, unless the store is in use; returns how
        many. Call outside any transaction: it opens its own, exclusive one."""
        from piratebox.database import exclusive

        if not unused().exists():
            return 0  # the usual case, seen without waiting for the write lock
        with exclusive(), self._locked(fcntl.LOCK_EX | fcntl.LOCK_NB) as held:
            if not held:
                return 0  # someone is storing or copying blobs: next time
            unused_now = [digest for (digest,) in unused().tuples()]
            for digest in unused_now:
                self.path(digest).unlink(missing_ok=True)
            for folder in {self.path(digest).parent for digest in unused_now}:
                fsync_dir(folder)
            for start in range(0, len(unused_now), BATCH):
                batch = unused_now[start:start + BATCH]
                Blob.delete().where(Blob.hash.in_(batch)).execute()
                PeerBlob.delete().where(PeerBlob.hash.in_(batch)).execute()
        return len(unused_now)

    def _move_into_place(self, temporary, target):
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temporary, target)
        fsync_dir(target.parent)

    def verify(self, digest):
        """Is the stored blob a plain file (never a link, followed) that hashes to its name?"""
        try:
            fd = os.open(self.path(digest), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:  # missing, or a link
            return False
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return False
            return file_digest(handle) == digest
