"""The data directory on disk: where things live, atomic writes, free space.

Everything the box writes goes below one directory. A file is written to a temporary
name in the same directory, flushed to the device, then renamed, so a power cut leaves
either the old file or the new one, never half of one.
"""

import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
import threading
from pathlib import Path

from piratebox.units import KB, MB

DATABASE_NAME = "piratebox.db"
SECRET_KEY_NAME = "secret_key"  # noqa: S105 - a file name, not a secret
CONFIG_NAME = "config.ini"
TMP_DIR = "tmp"
BLOB_DIR = "blobs"
CACHE_DIR = "cache"
PRINTED_DIR = "printed"
LOCK_SUFFIX = ".lock"

# One scratch folder per process and data directory, held by an flock for the process's
# life: start-up cleaning removes what dead processes left, never what a live one (the
# server while `piratebox sync` runs, or a second server process) is still writing.
_scratches = {}
_scratches_lock = threading.Lock()
BLOB_LOCK_NAME = "blobs.lock"  # in tmp/: see piratebox/blobs.py
SYNC_LOCK_NAME = "sync.lock"  # in tmp/: one sync of a box at a time (piratebox/sync/stick.py)


class DataDir:
    def __init__(self, path):
        self.path = Path(path).absolute()

    @property
    def database(self):
        return self.path / DATABASE_NAME

    @property
    def secret_key_file(self):
        return self.path / SECRET_KEY_NAME

    @property
    def config_file(self):
        return self.path / CONFIG_NAME

    @property
    def tmp(self):
        return self.path / TMP_DIR

    @property
    def blob_lock(self):
        """The file whose lock says the blob store is in use (never removed: a lock held on
        a removed file would no longer exclude anyone)."""
        return self.tmp / BLOB_LOCK_NAME

    @property
    def sync_lock(self):
        return self.tmp / SYNC_LOCK_NAME

    @property
    def blobs(self):
        return self.path / BLOB_DIR

    @property
    def cache(self):
        """What the box can make again from its code (compiled templates, read catalogues):
        never backed up."""
        return self.path / CACHE_DIR

    @property
    def printed(self):
        """Printables drawn once and served again (the poster)."""
        return self.path / PRINTED_DIR

    def exists(self):
        return self.database.exists()

    def create(self):
        for folder in (self.path, self.tmp, self.blobs):
            folder.mkdir(parents=True, exist_ok=True)

    def secret_key(self):
        """The key that signs sessions: made once, kept with mode 0600."""
        try:
            return self.secret_key_file.read_text().strip()
        except FileNotFoundError:
            key = secrets.token_hex(32)
            atomic_write(self.secret_key_file, key.encode("ascii"), mode=0o600)
            return key

    def scratch(self):
        """This process's folder for files being written (uploads, blobs, bundles)."""
        key = str(self.tmp)
        with _scratches_lock:
            if key in _scratches and not _scratches[key][0].is_dir():
                os.close(_scratches.pop(key)[1])  # the data directory was removed under us
            if key not in _scratches:
                self.tmp.mkdir(parents=True, exist_ok=True)
                name = f"p{os.getpid()}-{secrets.token_hex(4)}"
                lock = os.open(self.tmp / (name + LOCK_SUFFIX), os.O_WRONLY | os.O_CREAT, 0o600)
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                folder = self.tmp / name
                folder.mkdir()
                _scratches[key] = (folder, lock)
            return _scratches[key][0]

    def clean_tmp(self):
        """Remove what interrupted writes left behind; called at start-up.

        A scratch folder whose lock nobody holds belonged to a process that is gone.
        """
        removed = 0
        if not self.tmp.is_dir():
            return removed
        for lock_file in self.tmp.glob("*" + LOCK_SUFFIX):
            if lock_file in (self.blob_lock, self.sync_lock) or _owner_alive(lock_file):
                continue
            folder = lock_file.with_suffix("")
            if folder.is_dir():
                removed += sum(1 for _ in folder.iterdir())
                shutil.rmtree(folder, ignore_errors=True)
            lock_file.unlink(missing_ok=True)
        live = {path.with_suffix("") for path in self.tmp.glob("*" + LOCK_SUFFIX)}
        for leftover in self.tmp.iterdir():
            if leftover in live or leftover.suffix == LOCK_SUFFIX:
                continue
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
            removed += 1
        return removed


def _owner_alive(lock_file):
    try:
        fd = os.open(lock_file, os.O_WRONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock we may just have taken
    return False


@contextlib.contextmanager
def atomic_file(path, mode=0o644, suffix=".tmp", scratch=None):
    """A file handle whose content appears at `path` only once it is complete.

    It writes to a temporary name in the same directory (or in `scratch`, a folder of the
    same filesystem that start-up cleans: the blob store's folders hold blobs alone); on
    success the file is flushed to the device, renamed over `path` and the rename made
    durable, so readers see the old content or the new, never a mix. On any error the
    temporary file is removed.
    """
    path = Path(path)
    tmp = (Path(scratch) if scratch else path.parent) / \
        f".{path.name}.{secrets.token_hex(4)}{suffix}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write(path, data, mode=0o644, scratch=None):
    """Write bytes to `path` atomically (see atomic_file)."""
    with atomic_file(path, mode, scratch=scratch) as handle:
        handle.write(data)


def atomic_copy(source, target, chunk=MB):
    """Copy a file atomically; memory stays at one chunk whatever the size (backups of
    photos and shared files)."""
    with open(source, "rb") as reader, atomic_file(target, suffix=".partial") as writer:
        shutil.copyfileobj(reader, writer, chunk)


def fsync_dir(folder):
    """Make a rename durable: the directory entry itself must reach the device."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (FAT on a stick) refuse fsync on a directory
    finally:
        os.close(fd)


def disk_usage(path):
    """The disk that holds `path`: its total, used and free bytes (named as shutil's)."""
    return shutil.disk_usage(path)


def file_digest(handle, chunk=256 * KB):
    """The SHA-256 (hex) of what an open binary file has left to read, a chunk at a time."""
    hasher = hashlib.sha256()
    for block in iter(lambda: handle.read(chunk), b""):
        hasher.update(block)
    return hasher.hexdigest()


def shred(path):
    """Delete a file that held a secret, overwriting its bytes first: a FAT stick keeps a
    deleted file's clusters until they are reused, so unlinking alone would leave the key
    there for anyone with an undelete tool."""
    path = Path(path)
    try:
        with open(path, "r+b") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(0)
            handle.write(b"\0" * size)
            handle.flush()
            os.fsync(handle.fileno())
    except FileNotFoundError:
        return
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)
