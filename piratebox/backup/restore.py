"""Restore a box from its backup on a fresh device, trusting nothing on the stick first.

A stick is not trusted until its backup is verified: every name in the manifest is one a
backup writes (so it stays inside its folder), every value has its type, no link is
followed, every file has its size and hash, and the database is the box's the manifest
names. Restore then copies exactly the bytes it verified, checking them again, and puts
back the keys the backup sealed when the mediator gives its passphrase (see
piratebox/backup/logic.py for what a backup holds).
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

from models import Setting, db, new_id
from piratebox import box, jsonstream, sealed
from piratebox.backup.logic import (
    BACKUP_FOLDER,
    BACKUP_KEY,
    CHUNK,
    FORMAT,
    SECRET_KEY_FILE,
    SECRET_SETTINGS,
    BackupError,
)
from piratebox.blobs import blob_path
from piratebox.i18n import N_, Message, print_progress
from piratebox.patterns import ID, ID_TEXT, SHA256
from piratebox.storage import CONFIG_NAME, atomic_file, atomic_write, fsync_dir
from piratebox.units import KB, MB


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
MAX_MANIFEST = 64 * MB  # some 500,000 blobs
MAX_MANIFEST_FIELD = 64 * KB  # any field but the list of blobs: a few lines
MAX_BLOB_ENTRY = 1024  # {"sha256": 64 hex digits, "size": a number}
SETTINGS_FILES = {SECRET_KEY_FILE: "secret_key_file", CONFIG_NAME: "config_file"}
DATABASE_NAME = re.compile(rf"^database-{ID_TEXT}\.db$")
SECRETS_NAME = re.compile(rf"^secrets-{ID_TEXT}\.sealed$")


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
                entry["path"] not in SETTINGS_FILES and entry["path"] != database
                and not SECRETS_NAME.match(entry["path"])):
            raise malformed(f"files[{number}]")
    names = [entry["path"] for entry in files]
    if len(set(names)) != len(names) or database not in names:
        raise malformed("files")
    secrets = manifest.get("secrets")
    if secrets is not None and not (
            isinstance(secrets, dict) and secrets.get("path") in names
            and SECRETS_NAME.match(secrets["path"]) and isinstance(secrets.get("salt"), str)
            and re.fullmatch(r"[0-9a-f]{32}", secrets["salt"])
            and type(secrets.get("rounds")) is int and 1 <= secrets["rounds"] <= 10**8):
        raise malformed("secrets")
    return manifest


def _is_id(value):
    return isinstance(value, str) and bool(ID.match(value))


def _is_entry(entry):
    return (isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
            and bool(SHA256.match(entry["sha256"])) and type(entry.get("size")) is int
            and entry["size"] >= 0)


def _members(manifest):
    """(name in the backup folder, manifest entry) of every file the backup holds."""
    for entry in manifest["files"]:
        yield entry["path"], entry
    for entry in manifest["blobs"]:
        yield _blob_name(entry["sha256"]), entry


def _blob_name(digest):
    return f"blobs/{blob_path(digest).as_posix()}"


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
            say(Message(N_("verified {number}/{total}"), number=number, total=count))
    found = database_identity(folder / manifest["database"])
    if found != manifest["box"]["id"]:
        raise BackupError(N_("This backup's database is the box {found}, not the box {named} its "
                             "manifest names: it was changed. Nothing was restored."),
                          found=found or "?", named=manifest["box"]["id"])
    return manifest


def restore(data_dir, stick, box_id=None, say=print_progress, passphrase=lambda: None):
    """Rebuild a box from its backup on a fresh device; returns (the manifest, whether its
    keys came back). `passphrase()` is asked only when the backup holds sealed keys; no
    answer restores everything but the keys.

    Nothing is written before the whole backup is verified (the sealed keys opened, when a
    passphrase is given); if a file then differs from what was verified (a stick that
    changes, or is pulled out), what was written is removed again.
    """
    if data_dir.exists():
        raise BackupError(N_("{path} already holds a box: restore only into a new, empty data "
                             "directory."), path=data_dir.path)
    folder = find_backup(stick, box_id)
    manifest = verify_backup(folder, say)
    secrets = manifest.get("secrets")
    given = passphrase() if secrets else None
    keys = _unseal(folder, manifest, given) if given else None
    created = not data_dir.path.exists()
    written = []
    try:
        data_dir.create()
        for entry in manifest["files"]:
            if entry["path"] in SETTINGS_FILES:
                target = getattr(data_dir, SETTINGS_FILES[entry["path"]])
                _copy_verified(folder, entry["path"], entry, target)
                written.append(target)
        if data_dir.secret_key_file.exists():  # an older backup's, in clear
            os.chmod(data_dir.secret_key_file, 0o600)
        blobs = manifest["blobs"]
        for number, entry in enumerate(blobs, 1):
            target = data_dir.blobs / blob_path(entry["sha256"])
            target.parent.mkdir(exist_ok=True)
            _copy_verified(folder, _blob_name(entry["sha256"]), entry, target)
            written.append(target)
            if number % 50 == 0 or number == len(blobs):
                say(Message(N_("photos and files {number}/{total}"), number=number,
                            total=len(blobs)))
        # the database last: until it is in place, the folder is not a box
        database = next(entry for entry in manifest["files"]
                        if entry["path"] == manifest["database"])
        _copy_verified(folder, manifest["database"], database, data_dir.database)
        if keys:
            _put_back(data_dir, keys, secrets, given)
        fsync_dir(data_dir.path)
    except (BackupError, OSError, sqlite3.Error) as error:
        if created:
            shutil.rmtree(data_dir.path, ignore_errors=True)
        else:
            for path in written:
                path.unlink(missing_ok=True)
        if isinstance(error, BackupError):
            raise
        raise BackupError(N_("Could not restore from {stick}: {error}. Nothing was restored."),
                          stick=stick, error=getattr(error, "strerror", None) or error) from None
    return manifest, keys is not None


def _unseal(folder, manifest, passphrase):
    """The backup's keys, opened with the passphrase; BackupError if it is not the one."""
    secrets = manifest["secrets"]
    entry = next(entry for entry in manifest["files"] if entry["path"] == secrets["path"])
    with _open_regular(_no_link_on_the_way(folder, entry["path"])) as handle:
        data = handle.read(entry["size"] + 1)
    if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise damaged(entry["path"])
    key = sealed.derive(passphrase, bytes.fromhex(secrets["salt"]), secrets["rounds"])
    try:
        keys = json.loads(sealed.unseal(key, data))
    except sealed.WrongKey:
        raise BackupError(N_("That is not the passphrase this backup was made with. Nothing "
                             "was restored: try again, or restore without the keys (leave "
                             "the passphrase empty).")) from None
    except ValueError:
        raise damaged(entry["path"]) from None
    if not (isinstance(keys, dict) and isinstance(keys.get("secret_key"), str)
            and isinstance(keys.get("peers"), dict) and isinstance(keys.get("settings"), dict)
            and all(isinstance(value, str) for part in ("peers", "settings")
                    for value in keys[part].values())):
        raise damaged(entry["path"])
    return keys


def _put_back(data_dir, keys, secrets, passphrase):
    """Into the restored database and data directory: the keys the backup sealed, and the
    backup passphrase's key (later backups seal theirs without asking again)."""
    atomic_write(data_dir.secret_key_file, keys["secret_key"].encode("ascii"), mode=0o600)
    backup_key = sealed.derive(passphrase, bytes.fromhex(secrets["salt"]), secrets["rounds"])
    settings = {**{name: value for name, value in keys["settings"].items()
                   if name in SECRET_SETTINGS},
                BACKUP_KEY: backup_key.hex(), "backup_salt": secrets["salt"],
                "backup_rounds": str(secrets["rounds"])}
    connection = sqlite3.connect(data_dir.database)
    try:
        with connection:
            connection.executemany("UPDATE peer SET key = ? WHERE id = ?",
                                   [(key, peer_id) for peer_id, key in keys["peers"].items()])
            connection.executemany("INSERT OR REPLACE INTO setting (key, value) VALUES (?, ?)",
                                   list(settings.items()))
    finally:
        connection.close()


def start_new_epoch():
    """After a restore: the hub takes this box as the same box continuing, not a clone.
    The new epoch names the one it continues, so the hub can tell an old card from it."""
    with db.atomic():
        Setting.put("sync_parent_epoch", Setting.get_value("sync_epoch") or box.identity()["id"])
        Setting.put("sync_epoch", new_id())
        Setting.put("last_bundle_id", "")
