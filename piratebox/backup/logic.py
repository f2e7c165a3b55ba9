"""Backup to a USB stick (piratebox/backup/restore.py reads it back on a fresh device).

The backup lives in `cocote-backup/<box id>/` on the stick:

    manifest.json              what the backup holds, with every file's SHA-256 and size
    database-<backup id>.db    a consistent snapshot made with SQLite's online backup,
                               the keys taken out of it
    secrets-<backup id>.sealed the keys, sealed with the mediator's backup passphrase
                               (piratebox/sealed.py); absent when none was set
    config.ini                 the box's settings file, if it has one
    blobs/ab/<sha256>          photos and shared files, content-addressed

No key is on the stick in clear: not the hub's or the boxes' sync keys, not the key that
signs sessions, not the admin password's hash. With the passphrase, a restore gives the
box back whole; without it, everything but the keys: the hub then enrols the box again
(it keeps its history) and the mediator sets a new admin password.

Everything is FAT-safe (hex names, no permissions, no file over 4 GB) and written under
a temporary name, then renamed. The manifest is written last and names the database of
its own backup, so until it is renamed into place the previous backup stays whole; blobs
the new manifest does not need are removed only after. A blob already on the stick is
not written again: the second backup of a box costs what changed since the first.
"""

import hashlib
import json
import sqlite3
from pathlib import Path

from peewee import fn

from models import Blob, Setting, db, new_id
from piratebox import box, sealed
from piratebox.blobs import BlobStore, blob_path
from piratebox.errors import PirateboxError
from piratebox.i18n import N_, Message, print_progress
from piratebox.storage import (
    CONFIG_NAME,
    atomic_copy,
    atomic_write,
    disk_usage,
    file_digest,
    fsync_dir,
    shred,
)
from piratebox.units import GB, MB

BACKUP_FOLDER = "cocote-backup"
FORMAT = "cocote-backup"
VERSION = "1.0"
FAT_MAX_FILE = 4 * GB - 1
CHUNK = MB


class BackupError(PirateboxError):
    status = 400


def digest_of(path):
    with open(path, "rb") as handle:
        return file_digest(handle, CHUNK)


def stick_error(error, stick):
    return BackupError(N_("Could not write the backup on {stick}: {error}. Is the stick full or "
                          "pulled out? The previous backup is still whole."),
                       stick=stick, error=error.strerror or error)


# --- backup ---------------------------------------------------------------------------------

# What never goes on the stick in clear: the peers' sync keys (the `peer` table's `key`),
# these settings, and the key that signs sessions (the data directory's secret_key).
SECRET_SETTINGS = ("admin_password", "pending_enrolment")
BACKUP_KEY = "backup_key"  # the sealing key, derived from the passphrase: never backed up
SECRET_KEY_FILE = "secret_key.txt"  # noqa: S105 - a file name: older backups carried it in clear
MIN_PASSPHRASE = 8


def set_passphrase(passphrase, rounds):
    """The mediator's backup passphrase: the box keeps the key derived from it (never the
    passphrase), to seal the keys of every backup without asking again."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(N_("The passphrase is too short: use at least {length} characters "
                             "(a sentence is best)."), length=MIN_PASSPHRASE)
    salt = sealed.new_salt()
    with db.atomic():
        Setting.put(BACKUP_KEY, sealed.derive(passphrase, salt, rounds).hex())
        Setting.put("backup_salt", salt.hex())
        Setting.put("backup_rounds", rounds)


def has_passphrase():
    return bool(Setting.get_value(BACKUP_KEY))


def summary(manifest):
    """What a backup did, as a message."""
    text = N_("backup refreshed: {new} new photos and files; the keys sealed with the "
              "passphrase")
    if not manifest.get("secrets"):
        text = N_("backup refreshed: {new} new photos and files; no keys in it (no backup "
                  "passphrase set: a restore will need a new enrolment)")
    return Message(text, new=manifest["blobs_written"])


def room_for(data_dir, stick):
    """Is there space on the stick for a full backup (the upper bound: nothing there yet)?"""
    needed = data_dir.database.stat().st_size + (
        Blob.select(fn.SUM(Blob.size)).scalar() or 0)
    return disk_usage(stick).free > needed


def backup(here, stick, say=print_progress):
    """Back up the box `here` to `stick`; returns the manifest."""
    from piratebox.database import is_postgres

    if is_postgres():
        raise BackupError(N_("This hub's database is PostgreSQL: back it up with pg_dump and "
                             "copy the data directory (see docs/hub-postgresql.md)."))
    me, data_dir, now = box.identity(), here.data_dir, here.clock.now()
    folder = Path(stick) / BACKUP_FOLDER / me["id"]
    backup_id = new_id()
    snapshot = data_dir.scratch() / f"snapshot-{backup_id}.db"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "blobs").mkdir(exist_ok=True)
        # from the snapshot until its blobs are copied, none of them may be collected
        with here.blobs.keeping():
            say(Message(N_("database snapshot")))
            _snapshot(data_dir.database, snapshot)
            keys = _take_out_secrets(snapshot, data_dir)
            if snapshot.stat().st_size > FAT_MAX_FILE:
                raise BackupError(N_("The database is larger than 4 GB, more than a FAT stick "
                                     "holds in one file: back up to a stick formatted exFAT "
                                     "or ext4."))
            database_name = f"database-{backup_id}.db"
            database = {"path": database_name, "sha256": digest_of(snapshot),
                        "size": snapshot.stat().st_size}
            atomic_copy(snapshot, folder / database_name)
            files = [database] + _settings(data_dir, folder)
            secrets = _seal(keys, folder, backup_id)
            if secrets:
                files.append(secrets.pop("entry"))
            blobs, written = _blobs(data_dir, folder, say)
        manifest = {"format": FORMAT, "version": VERSION, "backup_id": backup_id,
                    "box": me, "created_at": now, "database": database_name,
                    "secrets": secrets, "files": files, "blobs": blobs}
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


def _take_out_secrets(snapshot, data_dir):
    """Read the keys out of the snapshot, then take them out of it so that no byte of
    them is left in the file (SQLite's secure_delete, then VACUUM); returns them, with the
    key that signs sessions."""
    connection = sqlite3.connect(snapshot)
    try:
        connection.execute("PRAGMA journal_mode = DELETE")
        connection.execute("PRAGMA secure_delete = ON")
        keys = {
            "peers": dict(connection.execute("SELECT id, key FROM peer WHERE key <> ''")),
            "settings": dict(connection.execute(
                "SELECT key, value FROM setting WHERE key IN (?, ?)", SECRET_SETTINGS)),
            "secret_key": data_dir.secret_key(),
        }
        with connection:
            connection.execute("UPDATE peer SET key = ''")
            connection.execute("DELETE FROM setting WHERE key IN (?, ?, ?)",
                               (*SECRET_SETTINGS, BACKUP_KEY))
        connection.execute("VACUUM")
    finally:
        connection.close()
    return keys


def _seal(keys, folder, backup_id):
    """The keys sealed with the backup passphrase's key, next to the database: the
    manifest's `secrets` ({"path", "salt", "rounds"}, and the file's entry), or None when
    the mediator set no passphrase (the keys then stay on the box only)."""
    values = Setting.values(BACKUP_KEY, "backup_salt", "backup_rounds")
    if not values.get(BACKUP_KEY):
        return None
    name = f"secrets-{backup_id}.sealed"
    data = sealed.seal(bytes.fromhex(values[BACKUP_KEY]),
                       json.dumps(keys, sort_keys=True).encode("utf-8"))
    atomic_write(folder / name, data)
    return {"path": name, "salt": values["backup_salt"], "rounds": int(values["backup_rounds"]),
            "entry": {"path": name, "sha256": hashlib.sha256(data).hexdigest(),
                      "size": len(data)}}


def _settings(data_dir, folder):
    """config.ini, if the box has one."""
    if not data_dir.config_file.is_file():
        return []
    atomic_copy(data_dir.config_file, folder / CONFIG_NAME)
    return [{"path": CONFIG_NAME, "sha256": digest_of(data_dir.config_file),
             "size": data_dir.config_file.stat().st_size}]


def _blobs(data_dir, folder, say):
    store = BlobStore(data_dir)
    listed, written = [], 0
    rows = list(Blob.select(Blob.hash, Blob.size).tuples())
    for number, (digest, size) in enumerate(rows, 1):
        source = store.path(digest)
        if not source.is_file():
            continue  # lost on the box already: `piratebox check` reports it
        target = folder / "blobs" / blob_path(digest)
        if not (target.is_file() and target.stat().st_size == size):
            target.parent.mkdir(exist_ok=True)
            atomic_copy(source, target)
            written += 1
        listed.append({"sha256": digest, "size": size})
        if number % 50 == 0 or number == len(rows):
            say(Message(N_("photos and files {number}/{total} ({new} new)"), number=number,
                        total=len(rows), new=written))
    return listed, written


def _prune(folder, manifest):
    """Remove what the new manifest does not name: older databases and sealed keys, the
    key an older version left in clear (overwritten first), deleted blobs."""
    keep_files = {entry["path"] for entry in manifest["files"]} | {"manifest.json"}
    for path in folder.iterdir():
        if path.is_file() and not path.name.startswith(".") and path.name not in keep_files:
            shred(path)
    keep_blobs = {entry["sha256"] for entry in manifest["blobs"]}
    for path in (folder / "blobs").glob("*/*"):
        if path.name not in keep_blobs:
            path.unlink(missing_ok=True)
    for pattern in (".*.partial", ".*.tmp"):  # what a cut-off backup left
        for leftover in folder.rglob(pattern):
            leftover.unlink(missing_ok=True)
