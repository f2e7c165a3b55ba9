"""A folder of a plugged stick into the file share, by the mediator (page or command line).

The files are the file share's like any upload: the same name rules (the record's rules,
piratebox/rules.py), the same largest file, the same reserve of free space. They are
copied first, each into a spool on the data disk (hashed on the way, the room looked at
every few megabytes); only when every one is copied are they all added, in one
transaction. A stick pulled out (or a read error) half-way leaves nothing in the share,
and the spools are deleted: the mediator plugs it in again and starts again. A file
already in the share with the same content, name and folder is not added twice.

Only the files directly in the chosen folder are taken: not its subfolders, nor hidden
files, nor links (a FAT stick has none; another filesystem might point anywhere).

Whatever the mediator types, `refuse_private` keeps the box's secrets out of the share:
never the data directory (its secret key, database, settings), a folder inside it or one
that holds it, nor the box's own program, the system's folders or a stick's sync and
backup folders. The command line and the page both go through it.
"""

import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

from models import SharedFile, db
from piratebox.errors import BadInput, PirateboxError
from piratebox.files import logic, names
from piratebox.i18n import N_
from piratebox.spool import DiskFull, UploadSpool, room
from piratebox.units import MB

CHUNK = MB
MAX_FILES = 500
# Folders of the stick that are the box's own business, never offered to the share.
OWN_FOLDERS = {"cocote", "cocote-backup"}
NOT_ON_STICK = N_("That folder is not on a plugged stick any more: choose it again.")
NO_FILES = N_("The folder {folder} holds no file to share (subfolders and hidden files "
              "are left out).")
TOO_MANY = N_("The folder {folder} holds {count} files, more than the {limit} one import "
              "takes: split it into smaller folders.")
PRIVATE_DATA = N_("The folder {folder} holds the box's own data (its secret key, its "
                  "database) or is part of it: it is never shared. Choose a folder of the "
                  "stick.")
PRIVATE_PROGRAM = N_("The folder {folder} holds the box's program: it is never shared. "
                     "Choose a folder of the stick.")
PRIVATE_SYSTEM = N_("The folder {folder} is one of the system's: it is never shared. "
                    "Choose a folder of the stick.")
PRIVATE_STICK = N_("The folder {folder} is the stick's sync or backup folder (keys, "
                   "bundles): it is never shared. Choose another folder of the stick.")
# The system's folders: what lies in them is never shared (files directly in /etc, say,
# are the box's settings, and a box on a router runs as root). A folder under one of the
# places sticks are mounted (STICK_ROOTS, /run/media say) is not the system's.
SYSTEM_FOLDERS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32",
                  "/opt", "/overlay", "/proc", "/rom", "/root", "/run", "/sbin", "/srv",
                  "/sys", "/usr", "/var", "/www")
PROGRAM = Path(__file__).resolve().parents[2]
STICK_LOST = N_("The stick could not be read ({error}): nothing was added to the share. "
                "Plug it in again and start again.")


class StickLost(PirateboxError):
    status = 503


@dataclass
class Progress:
    """Where an import is, for a page or a progress bar: bytes and files copied."""

    files: int = 0
    total_files: int = 0
    copied: int = 0
    total_bytes: int = 0
    added: list = field(default_factory=list)  # the new SharedFile records, at the end
    already: int = 0  # files the share had already
    too_large: list = field(default_factory=list)  # names of files over the limit, left out


def sticks(roots, data_dir, last_stick=None):
    """Folders that look like a plugged stick: the last sync's stick if it is still there,
    and each folder in one of `roots` (OpenWrt mounts sticks as /mnt/sda1), or one level
    below (desktop systems: /media/<user>/<label>). Never one that holds the box's own
    data (a router's extroot). The caller shows those that hold files to share."""
    found = []
    candidates = [Path(last_stick)] if last_stick else []
    for root in map(Path, roots):
        for child in sorted(_subfolders(root)):
            mounted_below = [] if os.path.ismount(child) else [
                folder for folder in sorted(_subfolders(child)) if os.path.ismount(folder)]
            candidates += mounted_below or [child]
    data = Path(data_dir.path).resolve()
    for candidate in candidates:
        resolved = candidate.resolve()
        if not resolved.is_dir() or resolved in found or resolved == data \
                or resolved in data.parents:
            continue
        found.append(resolved)
    return found


def _subfolders(folder):
    try:
        return [entry for entry in Path(folder).iterdir()
                if entry.is_dir() and not entry.is_symlink() and not entry.name.startswith(".")]
    except OSError:
        return []


def folders(stick):
    """[(path relative to the stick, number of files, bytes)]: the stick itself ("") and
    each folder at its top that holds files to share."""
    found = []
    for folder in [Path(stick), *sorted(_subfolders(Path(stick)), key=lambda p: p.name.casefold())]:
        if folder.name.casefold() in OWN_FOLDERS:
            continue
        files = files_in(folder)
        if files:
            found.append((folder.relative_to(stick).as_posix() if folder != Path(stick)
                          else "", len(files), sum(size for _path, size in files)))
    return found


def files_in(folder):
    """[(path, size)] of the regular, visible files directly in `folder`, by name."""
    found = []
    try:
        entries = sorted(Path(folder).iterdir(), key=lambda path: path.name.casefold())
    except OSError:
        return []
    for path in entries:
        try:
            details = path.lstat()
        except OSError:
            continue
        if stat.S_ISREG(details.st_mode) and not path.name.startswith("."):
            found.append((path, details.st_size))
    return found


def _holds_or_within(folder, other):
    return folder == other or other in folder.parents or folder in other.parents


def refuse_private(folder, data_dir, stick_roots=()):
    """Raise BadInput unless `folder` may go to the share (see the module's docstring):
    the path is resolved first, so a link to the data directory is the data directory."""
    folder = Path(folder).resolve()
    shown = str(folder)
    if folder == Path(folder.anchor):
        raise BadInput(PRIVATE_SYSTEM, folder=shown)
    if _holds_or_within(folder, Path(data_dir.path).resolve()):
        raise BadInput(PRIVATE_DATA, folder=shown)
    programs = {PROGRAM, Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    if any(_holds_or_within(folder, program) for program in programs):
        raise BadInput(PRIVATE_PROGRAM, folder=shown)
    mounts = [Path(root.strip()).resolve() for root in stick_roots if root.strip()]
    mount = next((root for root in mounts
                  if root != Path(root.anchor) and root in folder.parents), None)
    below_mount = folder.relative_to(mount) if mount else folder
    if any(part.casefold() in OWN_FOLDERS for part in below_mount.parts):
        raise BadInput(PRIVATE_STICK, folder=shown)
    if mount is None and any(folder == Path(name) or Path(name) in folder.parents
                             for name in SYSTEM_FOLDERS):
        raise BadInput(PRIVATE_SYSTEM, folder=shown)


def chosen_folder(roots, data_dir, last_stick, chosen):
    """The folder the mediator chose, checked again: on a stick found now, inside it."""
    folder = Path(chosen or "/nowhere").resolve()
    refuse_private(folder, data_dir, roots)
    for plugged in sticks(roots, data_dir, last_stick):
        if folder.is_dir() and (folder == plugged or plugged in folder.parents):
            return folder
    raise BadInput(NOT_ON_STICK)


def share_folder_for(folder, typed=None):
    """The share's folder for an import: the one the mediator typed, else the folder's own
    name, by the share's rule for folders."""
    return names.clean_folder((typed or "").strip() or Path(folder).resolve().name)


def import_folder(folder, share_folder, data_dir, config, actor, progress=None,
                  on_progress=None):
    """Add the files of `folder` to the share in `share_folder`; returns the Progress."""
    refuse_private(folder, data_dir, config["STICK_ROOTS"].split(","))
    progress = progress or Progress()
    files = files_in(folder)
    if not files:
        raise BadInput(NO_FILES, folder=Path(folder).name or str(folder))
    if len(files) > MAX_FILES:
        raise BadInput(TOO_MANY, folder=Path(folder).name, count=len(files), limit=MAX_FILES)
    largest = config["FILES_MAX_MB"] * MB
    progress.too_large = [names.clean_name(path.name) for path, size in files if size > largest]
    files = [(path, size) for path, size in files if size <= largest]
    progress.total_files = len(files)
    progress.total_bytes = sum(size for _path, size in files)
    if progress.total_bytes > room(data_dir, config):
        raise DiskFull()
    spools = []
    try:
        for path, _size in files:
            spool = UploadSpool(data_dir.scratch(), data_dir, config, largest)
            spools.append(spool)
            _copy(path, spool, progress, on_progress)
            spool.finish()  # on the data disk, and one open file at a time
            progress.files += 1
            if on_progress:
                on_progress(progress)
        with db.atomic():
            for spool, (path, _size) in zip(spools, files, strict=True):
                if _already_shared(spool.digest, path.name, share_folder):
                    progress.already += 1
                    continue
                record, _token = logic.add(spool, path.name, share_folder, actor)
                progress.added.append(record)
    finally:
        for spool in spools:
            if not spool.adopted:
                spool.discard()
    return progress


def _copy(path, spool, progress, on_progress):
    """Copy one file into its spool; a read that fails is the stick's, a write the box's."""
    try:
        source = open(path, "rb")  # noqa: SIM115 - closed below, read errors told apart
    except OSError as error:
        raise StickLost(STICK_LOST, error=error.strerror or str(error)) from None
    with source:
        while True:
            try:
                chunk = source.read(CHUNK)
            except OSError as error:
                raise StickLost(STICK_LOST, error=error.strerror or str(error)) from None
            if not chunk:
                return
            spool.write(chunk)
            progress.copied += len(chunk)
            if on_progress:
                on_progress(progress)


def _already_shared(digest, name, share_folder):
    """The same content under the same name in the same folder (an import made twice)."""
    return SharedFile.live().where(
        (SharedFile.blob == digest) & (SharedFile.name == names.clean_name(name))
        & (SharedFile.folder == names.clean_folder(share_folder))).exists()
