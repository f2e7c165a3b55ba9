"""Backup to a USB stick, restore on a fresh device, and the integrity check.

The backup lives in `cocote-backup/<box id>/` on the stick:

    manifest.json              what the backup holds, with every file's SHA-256 and size
    database-<backup id>.db    a consistent snapshot made with SQLite's online backup
    secret_key.txt, config.ini the box's settings (config.ini only if the box has one)
    blobs/ab/<sha256>          photos and shared files, content-addressed

Everything is FAT-safe (hex names, no permissions, no file over 4 GB) and written under
a temporary name, then renamed. The manifest is written last and names the database of
its own backup, so until it is renamed into place the previous backup stays whole; blobs
the new manifest does not need are removed only after. A blob already on the stick is
not written again: the second backup of a box costs what changed since the first.
"""

import contextlib
import hashlib
import json
import os
import re
import shutil
import sqlite3
import stat
from pathlib import Path
from urllib.parse import quote

from peewee import fn

from models import Blob, Item, Setting, SharedFile, Tally, db, new_id
from piratebox import box, jsonstream
from piratebox.blobs import HASH_PATTERN, BlobStore
from piratebox.errors import PirateboxError
from piratebox.i18n import N_, print_progress
from piratebox.rules import ID
from piratebox.storage import CONFIG_NAME, atomic_copy, atomic_file, atomic_write, fsync_dir

BACKUP_FOLDER = "cocote-backup"
FORMAT = "cocote-backup"
VERSION = "1.0"
FAT_MAX_FILE = 4 * 1024**3 - 1
CHUNK = 1024 * 1024


class BackupError(PirateboxError):
    status = 400


def file_digest(path):
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def stick_error(error, stick):
    return BackupError(N_("Could not write the backup on {stick}: {error}. Is the stick full or "
                          "pulled out? The previous backup is still whole."),
                       stick=stick, error=error.strerror or error)


# --- backup ---------------------------------------------------------------------------------

def room_for(data_dir, stick):
    """Is there space on the stick for a full backup (the upper bound: nothing there yet)?"""
    needed = data_dir.database.stat().st_size + (
        Blob.select(fn.SUM(Blob.size)).scalar() or 0)
    return shutil.disk_usage(stick).free > needed


def backup(data_dir, stick, now, say=print_progress):
    """Back up the open box to `stick`; returns the manifest."""
    from piratebox.database import is_postgres

    if is_postgres():
        raise BackupError(N_("This hub's database is PostgreSQL: back it up with pg_dump and "
                             "copy the data directory (see docs/hub-postgresql.md)."))
    me = box.identity()
    folder = Path(stick) / BACKUP_FOLDER / me["id"]
    backup_id = new_id()
    snapshot = data_dir.scratch() / f"snapshot-{backup_id}.db"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "blobs").mkdir(exist_ok=True)
        # from the snapshot until its blobs are copied, none of them may be collected
        with BlobStore(data_dir).keeping():
            say(N_("database snapshot"))
            _snapshot(data_dir.database, snapshot)
            if snapshot.stat().st_size > FAT_MAX_FILE:
                raise BackupError(N_("The database is larger than 4 GB, more than a FAT stick "
                                     "holds in one file: back up to a stick formatted exFAT "
                                     "or ext4."))
            database_name = f"database-{backup_id}.db"
            database = {"path": database_name, "sha256": file_digest(snapshot),
                        "size": snapshot.stat().st_size}
            atomic_copy(snapshot, folder / database_name)
            files = [database] + _settings(data_dir, folder)
            blobs, written = _blobs(data_dir, folder, say)
        manifest = {"format": FORMAT, "version": VERSION, "backup_id": backup_id,
                    "box": me, "created_at": now, "database": database_name,
                    "files": files, "blobs": blobs}
        atomic_write(folder / "manifest.json",
                     json.dumps(manifest, indent=1, ensure_ascii=False).encode("utf-8"))
        fsync_dir(folder)
    except OSError as error:
        raise stick_error(error, stick) from None
    finally:
        snapshot.unlink(missing_ok=True)
    _prune(folder, manifest)
    Setting.put("last_backup", json.dumps({"at": now, "stick": str(stick),
                                           "blobs_written": written}))
    manifest["blobs_written"] = written
    return manifest


def _snapshot(database, target):
    """SQLite's online backup: a consistent copy while the box keeps serving."""
    source = sqlite3.connect(database)
    copy = sqlite3.connect(target)
    try:
        with copy:
            source.backup(copy)
    finally:
        copy.close()
        source.close()


def _settings(data_dir, folder):
    """The secret key and config.ini, under FAT-safe names."""
    files = []
    for source, name in ((data_dir.secret_key_file, "secret_key.txt"),
                         (data_dir.config_file, CONFIG_NAME)):
        if source.is_file():
            atomic_copy(source, folder / name)
            files.append({"path": name, "sha256": file_digest(source),
                          "size": source.stat().st_size})
    return files


def _blobs(data_dir, folder, say):
    store = BlobStore(data_dir)
    listed, written = [], 0
    rows = list(Blob.select(Blob.hash, Blob.size).tuples())
    for number, (digest, size) in enumerate(rows, 1):
        source = store.path(digest)
        if not source.is_file():
            continue  # lost on the box already: `piratebox check` reports it
        target = folder / "blobs" / digest[:2] / digest
        if not (target.is_file() and target.stat().st_size == size):
            target.parent.mkdir(exist_ok=True)
            atomic_copy(source, target)
            written += 1
        listed.append({"sha256": digest, "size": size})
        if number % 50 == 0 or number == len(rows):
            say(N_("photos and files %(number)d/%(total)d (%(new)d new)"), number=number,
                total=len(rows), new=written)
    return listed, written


def _prune(folder, manifest):
    """Remove what the new manifest does not name: older databases, deleted blobs."""
    keep_files = {entry["path"] for entry in manifest["files"]}
    for path in folder.glob("database-*.db"):
        if path.name not in keep_files:
            path.unlink(missing_ok=True)
    keep_blobs = {entry["sha256"] for entry in manifest["blobs"]}
    for path in (folder / "blobs").glob("*/*"):
        if path.name not in keep_blobs:
            path.unlink(missing_ok=True)
    for pattern in (".*.partial", ".*.tmp"):  # what a cut-off backup left
        for leftover in folder.rglob(pattern):
            leftover.unlink(missing_ok=True)


# --- restore --------------------------------------------------------------------------------

def find_backup(stick, box_id=None):
    root = Path(stick) / BACKUP_FOLDER
    found = sorted(path.parent for path in root.glob("*/manifest.json"))
    if box_id:
        found = [path for path in found if path.name == box_id]
    if not found:
        raise BackupError(N_("No backup on {stick} ({folder}/ is missing or empty)."),
                          stick=stick, folder=BACKUP_FOLDER)
    if len(found) > 1:
        raise BackupError(N_("{stick} holds backups of several boxes ({boxes}): choose one "
                             "with --box."), stick=stick,
                          boxes=", ".join(path.name for path in found))
    return found[0]


# A stick is not trusted until its backup is verified: every name in the manifest is one
# a backup writes (so it stays inside its folder), every value has its type, no link is
# followed, every file has its size and hash, and the database is the box's the manifest
# names. Restore then copies exactly the bytes it verified, checking them again.

# The manifest is read as a stream (piratebox/jsonstream.py): each field bounded, the list
# of blobs an entry at a time, each entry checked as it comes and its file looked at on
# the stick, never the whole list in memory. A hub's half a million blobs cost a chunk of
# memory, and a hostile list is refused at its first entry that is not a backup's.
MAX_MANIFEST = 64 * 1024 * 1024  # some 500,000 blobs
MAX_MANIFEST_FIELD = 64 * 1024  # any field but the list of blobs: a few lines
MAX_BLOB_ENTRY = 1024  # {"sha256": 64 hex digits, "size": a number}
SETTINGS_FILES = {"secret_key.txt": "secret_key_file", CONFIG_NAME: "config_file"}
DATABASE_NAME = re.compile(r"^database-[a-z2-7]{26}\.db$")


def damaged(name):
    return BackupError(N_("The backup is damaged or was changed: {name} does not match its "
                          "manifest. Nothing was restored."), name=name)


def malformed(what):
    return BackupError(N_("The backup's manifest is damaged or was changed ({what}). Nothing "
                          "was restored."), what=what)


def unreadable():
    return BackupError(N_("The backup's manifest cannot be read: the backup is damaged."))


class Blobs:
    """A manifest's list of blobs: counted once, read again from the stick at each use,
    each entry checked (its shape, and its file there with its size); a manifest that
    changed since it was first read stops the reading."""

    def __init__(self, folder):
        self.folder = folder
        self.count, self.digest, self.fields = 0, None, {}
        for _entry in self:
            self.count += 1

    def __len__(self):
        return self.count

    def __iter__(self):
        try:
            with _open_regular(self.folder / "manifest.json") as handle:
                if os.fstat(handle.fileno()).st_size > MAX_MANIFEST:
                    raise unreadable()
                reading = jsonstream.read_object(handle, "blobs", MAX_MANIFEST_FIELD,
                                                 MAX_BLOB_ENTRY)
                number = 0
                while True:
                    entry = next(reading)
                    if not _is_entry(entry):
                        raise malformed(f"blobs[{number}]")
                    name = _blob_name(entry["sha256"])
                    try:
                        present = os.lstat(self.folder / name).st_size == entry["size"]
                    except OSError:
                        present = False
                    if not present:
                        raise damaged(name)
                    yield entry
                    number += 1
        except StopIteration as finished:
            self.fields, digest = finished.value
        except (OSError, ValueError):
            raise unreadable() from None
        if self.digest not in (None, digest):
            raise damaged("manifest.json")
        self.digest = digest


def read_manifest(folder):
    """The manifest, every field checked for its type and every name for its shape; its
    `blobs` read as a stream (Blobs)."""
    blobs = Blobs(folder)
    manifest = {**blobs.fields, "blobs": blobs}
    if manifest.get("format") != FORMAT:
        raise BackupError(N_("This is not a CoCoTe backup."))
    version = manifest.get("version")
    if not isinstance(version, str) or not re.fullmatch(r"\d+\.\d+", version):
        raise malformed("version")
    if int(version.split(".")[0]) > 1:
        raise BackupError(N_("This backup was made by a newer version: upgrade the software, "
                             "then restore."))
    me = manifest.get("box")
    if not isinstance(me, dict) or not _is_id(me.get("id")) or not isinstance(
            me.get("name"), str):
        raise malformed("box")
    if not _is_id(manifest.get("backup_id")):
        raise malformed("backup_id")
    database = manifest.get("database")
    if not isinstance(database, str) or not DATABASE_NAME.match(database):
        raise malformed("database")
    files = manifest.get("files")
    if not isinstance(files, list) or "blobs" not in blobs.fields:
        raise malformed("files, blobs")
    for number, entry in enumerate(files):
        if not _is_entry(entry) or not isinstance(entry.get("path"), str) or (
                entry["path"] not in SETTINGS_FILES and entry["path"] != database):
            raise malformed(f"files[{number}]")
    names = [entry["path"] for entry in files]
    if len(set(names)) != len(names) or database not in names:
        raise malformed("files")
    return manifest


def _is_id(value):
    return isinstance(value, str) and bool(ID.match(value))


def _is_entry(entry):
    return (isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
            and bool(HASH_PATTERN.match(entry["sha256"])) and type(entry.get("size")) is int
            and entry["size"] >= 0)


def _members(manifest):
    """(name in the backup folder, manifest entry) of every file the backup holds."""
    for entry in manifest["files"]:
        yield entry["path"], entry
    for entry in manifest["blobs"]:
        yield _blob_name(entry["sha256"]), entry


def _blob_name(digest):
    return f"blobs/{digest[:2]}/{digest}"


def _open_regular(path):
    """Open a file for reading, refusing a link (at the end of the path) or anything but a
    plain file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        raise damaged(Path(path).name) from None
    handle = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        raise damaged(Path(path).name)
    return handle


def _no_link_on_the_way(folder, name):
    """The path of `name` below `folder`, when no folder on the way is a link."""
    path = folder
    for part in Path(name).parts[:-1]:
        path = path / part
        try:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                raise damaged(name)
        except OSError:
            raise damaged(name) from None
    return folder / name


def _copy_verified(folder, name, entry, target):
    """Copy a member of the backup to `target`, hashing what is read: `target` appears only
    if those very bytes match the manifest."""
    hasher, size = hashlib.sha256(), 0
    sink = atomic_file(target, suffix=".partial") if target else contextlib.nullcontext()
    with _open_regular(_no_link_on_the_way(folder, name)) as reader, sink as writer:
        for chunk in iter(lambda: reader.read(CHUNK), b""):
            size += len(chunk)
            if size > entry["size"]:
                raise damaged(name)
            hasher.update(chunk)
            if writer:
                writer.write(chunk)
        if size != entry["size"] or hasher.hexdigest() != entry["sha256"]:
            raise damaged(name)


def database_identity(path):
    """The box id a database file says it is, read without trusting the file: read-only,
    nothing in its schema run, or BackupError."""
    uri = f"file:{quote(str(path))}?mode=ro&immutable=1"
    try:
        connection = sqlite3.connect(uri, uri=True)
        try:
            connection.execute("PRAGMA trusted_schema = OFF")
            if connection.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise damaged(path.name)
            kind = connection.execute(
                "SELECT type FROM sqlite_master WHERE name = 'setting'").fetchone()
            row = connection.execute(
                "SELECT value FROM setting WHERE key = 'box_id'").fetchone() \
                if kind == ("table",) else None
        finally:
            connection.close()
    except sqlite3.Error:
        raise damaged(path.name) from None
    return row[0] if row else None


def verify_backup(folder, say=print_progress):
    """Check the whole backup in `folder` against its manifest; returns the manifest."""
    for path in (folder.parent, folder):
        if os.path.islink(path):
            raise damaged(path.name)
    manifest = read_manifest(folder)
    if manifest["box"]["id"] != folder.name:
        raise malformed("box")
    count = len(manifest["files"]) + len(manifest["blobs"])
    for number, (name, entry) in enumerate(_members(manifest), 1):
        _copy_verified(folder, name, entry, None)
        if number % 50 == 0 or number == count:
            say(N_("verified %(number)d/%(total)d"), number=number, total=count)
    found = database_identity(folder / manifest["database"])
    if found != manifest["box"]["id"]:
        raise BackupError(N_("This backup's database is the box {found}, not the box {named} its "
                             "manifest names: it was changed. Nothing was restored."),
                          found=found or "?", named=manifest["box"]["id"])
    return manifest


def restore(data_dir, stick, box_id=None, say=print_progress):
    """Rebuild a box from its backup on a fresh device; returns the manifest.

    Nothing is written before the whole backup is verified; if a file then differs from
    what was verified (a stick that changes, or is pulled out), what was written is
    removed again.
    """
    if data_dir.exists():
        raise BackupError(N_("{path} already holds a box: restore only into a new, empty data "
                             "directory."), path=data_dir.path)
    folder = find_backup(stick, box_id)
    manifest = verify_backup(folder, say)
    created = not data_dir.path.exists()
    written = []
    try:
        data_dir.create()
        for entry in manifest["files"]:
            if entry["path"] in SETTINGS_FILES:
                target = getattr(data_dir, SETTINGS_FILES[entry["path"]])
                _copy_verified(folder, entry["path"], entry, target)
                written.append(target)
        os.chmod(data_dir.secret_key_file, 0o600)
        blobs = manifest["blobs"]
        for number, entry in enumerate(blobs, 1):
            target = data_dir.blobs / entry["sha256"][:2] / entry["sha256"]
            target.parent.mkdir(exist_ok=True)
            _copy_verified(folder, _blob_name(entry["sha256"]), entry, target)
            written.append(target)
            if number % 50 == 0 or number == len(blobs):
                say(N_("photos and files %(number)d/%(total)d"), number=number,
                    total=len(blobs))
        # the database last: until it is in place, the folder is not a box
        database = next(entry for entry in manifest["files"]
                        if entry["path"] == manifest["database"])
        _copy_verified(folder, manifest["database"], database, data_dir.database)
        fsync_dir(data_dir.path)
    except (BackupError, OSError) as error:
        if created:
            shutil.rmtree(data_dir.path, ignore_errors=True)
        else:
            for path in written:
                path.unlink(missing_ok=True)
        if isinstance(error, BackupError):
            raise
        raise BackupError(N_("Could not restore from {stick}: {error}. Nothing was restored."),
                          stick=stick, error=error.strerror or error) from None
    return manifest


def start_new_epoch():
    """After a restore: the hub takes this box as the same box continuing, not a clone.
    The new epoch names the one it continues, so the hub can tell an old card from it."""
    with db.atomic():
        Setting.put("sync_parent_epoch", Setting.get_value("sync_epoch") or box.identity()["id"])
        Setting.put("sync_epoch", new_id())
        Setting.put("last_bundle_id", "")


# --- check ----------------------------------------------------------------------------------

def check(data_dir, repair=False, say=print_progress):
    """Database integrity, and every record's blobs present with the right hash.

    Returns a list of problems (text). With `repair`, what cannot be had back is removed
    cleanly (a photo from its object, a shared file's record), and the list says what was
    lost; orphan blob files are deleted.
    """
    from piratebox.database import is_postgres

    problems = []
    if not is_postgres():  # PostgreSQL checks its own pages; amcheck is the DBA's tool
        result = db.execute_sql("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            problems.append(f"database: {result} (restore from a backup)")
    store = BlobStore(data_dir)
    bad = set()
    rows = list(Blob.select(Blob.hash).tuples())
    for number, (digest,) in enumerate(rows, 1):
        if not store.verify(digest):
            bad.add(digest)
            problems.append(f"blob {digest[:12]}… missing or damaged")
        if number % 200 == 0 or number == len(rows):
            say(N_("checked %(number)d/%(total)d photos and files"), number=number,
                total=len(rows))
    known = {digest for (digest,) in rows}
    lost = _records_needing(known - bad)
    problems += [f"{what} needs a missing blob" for what, _record in lost]
    orphans = [path for path in data_dir.blobs.glob("*/*") if path.name not in known]
    problems += [f"file blobs/{path.parent.name}/{path.name[:12]}… is in no record"
                 for path in orphans]
    if repair:
        _repair(bad, lost, orphans, store, say)
    return problems


def _records_needing(good):
    lost = []
    for model in (Item, Tally):
        for record in model.live():
            hashes = {photo.get(size) for photo in record.photo_list()
                      for size in ("full", "thumb")}
            if hashes - good:
                label = getattr(record, "title", None) or f"tally {record.week_of}"
                lost.append((f"{model.__name__.lower()} {label!r}", record))
    me = box.identity()["id"]
    for record in SharedFile.live():
        # a file from another box without `network` never had its content here
        if record.blob not in good and (record.origin == me or record.network):
            lost.append((f"shared file {record.name!r}", record))
    return lost


def _repair(bad, lost, orphans, store, say):
    actor_id, now = box.identity()["id"], float(Setting.get_value("clock_floor", 0))
    with db.atomic():
        for digest in bad:
            Blob.delete().where(Blob.hash == digest).execute()
            store.path(digest).unlink(missing_ok=True)
        for what, record in lost:
            if isinstance(record, SharedFile):
                record.tombstone(actor_id, now)
            else:
                kept = [photo for photo in record.photo_list()
                        if store.exists(photo.get("full", "")) and store.exists(
                            photo.get("thumb", ""))]
                record.photos = json.dumps(kept)
                record.save_change(actor_id, now)
            say(N_("lost: %(what)s"), what=what)
    for path in orphans:
        path.unlink(missing_ok=True)

