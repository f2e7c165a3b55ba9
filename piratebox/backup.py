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

import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

from peewee import fn

from models import Blob, Item, Setting, SharedFile, Tally, db, new_id
from piratebox import box
from piratebox.blobs import HASH_PATTERN, BlobStore
from piratebox.errors import PirateboxError
from piratebox.i18n import N_, print_progress
from piratebox.storage import CONFIG_NAME, atomic_copy, atomic_write, fsync_dir

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
        say(N_("database snapshot"))
        _snapshot(data_dir.database, snapshot)
        if snapshot.stat().st_size > FAT_MAX_FILE:
            raise BackupError(N_("The database is larger than 4 GB, more than a FAT stick holds "
                                 "in one file: back up to a stick formatted exFAT or ext4."))
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


def verify_backup(folder, say=print_progress):
    """Read the manifest and check every file it names; returns the manifest."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BackupError(N_("The backup's manifest cannot be read: the backup is damaged."
                             )) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(N_("This is not a CoCoTe backup."))
    if int(str(manifest.get("version", "0")).split(".")[0] or 0) > 1:
        raise BackupError(N_("This backup was made by a newer version: upgrade the software, "
                             "then restore."))
    entries = [(folder / entry["path"], entry) for entry in manifest.get("files", [])]
    entries += [(folder / "blobs" / entry["sha256"][:2] / entry["sha256"], entry)
                for entry in manifest.get("blobs", [])]
    for number, (path, entry) in enumerate(entries, 1):
        name = path.relative_to(folder).as_posix()
        safe = (name in ("secret_key.txt", CONFIG_NAME) or name == manifest.get("database")
                or (name.startswith("blobs/") and HASH_PATTERN.match(path.name or "")))
        if not safe or ".." in name or not path.is_file() \
                or path.stat().st_size != entry.get("size") or file_digest(path) != entry["sha256"]:
            raise BackupError(N_("The backup is damaged or was changed: {name} does not match "
                                 "its manifest. Nothing was restored."), name=name)
        if number % 50 == 0 or number == len(entries):
            say(N_("verified %(number)d/%(total)d"), number=number, total=len(entries))
    if manifest["database"] not in {entry["path"] for entry in manifest["files"]}:
        raise BackupError(N_("The backup names no database. Nothing was restored."))
    return manifest


def restore(data_dir, stick, box_id=None, say=print_progress):
    """Rebuild a box from its backup on a fresh device; returns the manifest."""
    if data_dir.exists():
        raise BackupError(N_("{path} already holds a box: restore only into a new, empty data "
                             "directory."), path=data_dir.path)
    folder = find_backup(stick, box_id)
    manifest = verify_backup(folder, say)
    data_dir.create()
    for name, target in (("secret_key.txt", data_dir.secret_key_file),
                         (CONFIG_NAME, data_dir.config_file)):
        if (folder / name).is_file():
            atomic_copy(folder / name, target)
    os.chmod(data_dir.secret_key_file, 0o600)
    for number, entry in enumerate(manifest["blobs"], 1):
        digest = entry["sha256"]
        target = data_dir.blobs / digest[:2] / digest
        target.parent.mkdir(exist_ok=True)
        atomic_copy(folder / "blobs" / digest[:2] / digest, target)
        if number % 50 == 0 or number == len(manifest["blobs"]):
            say(N_("photos and files %(number)d/%(total)d"), number=number,
                total=len(manifest["blobs"]))
    # the database last: until it is in place, the folder is not a box
    atomic_copy(folder / manifest["database"], data_dir.database)
    fsync_dir(data_dir.path)
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

