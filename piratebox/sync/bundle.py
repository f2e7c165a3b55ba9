"""The bundle file: writing one safely, and reading one only once it is proven authentic.

A bundle is a ZIP file (see docs/sync-format.md): `manifest.json`, `manifest.hmac`,
`records.jsonl` and `blobs/<sha256>`. The manifest lists every other member with its
SHA-256 and size; its HMAC-SHA256 under the key the two ends share authenticates it,
and through the hashes, everything else. Nothing in a bundle is believed before that.
"""

import hashlib
import hmac
import json
import math
import os
import re
import secrets
import shutil
import struct
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from piratebox.errors import PirateboxError
from piratebox.i18n import N_, Message
from piratebox.patterns import ID, SHA256, SHA256_TEXT
from piratebox.rules import MAX_TIME, MAX_VERSION
from piratebox.storage import atomic_file
from piratebox.units import KB, MB

FORMAT = "cocote-bundle"
MAJOR, MINOR = 1, 1
SUFFIX = ".cocote"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.hmac"
RECORDS = "records.jsonl"
MEMBER_PATTERN = re.compile(rf"\A(records\.jsonl|blobs/{SHA256_TEXT})\Z")
VERSION_PATTERN = re.compile(r"\A([0-9]{1,4})\.([0-9]{1,4})\Z")
CHUNK = 256 * KB
# What a reader accepts before looking further, so that a hostile file on a stick costs a
# router a few MB and a fraction of a second before it is refused: an archive lists at
# most MAX_MEMBERS members besides the manifest and its signature (a writer puts the rest
# in its next bundle), counted in its central directory before zipfile reads it (zipfile
# builds an object of some 500 bytes for each); a manifest of some 170 bytes a member,
# whose JSON values are counted before it is parsed (a few structural characters each);
# a record line is one record; no member expands more than a JSON text can (a photo does
# not at all).
MAX_MEMBERS = 5_000
MAX_WANTS = 1000  # blobs a bundle may say its sender lacks (see engine.missing)
MAX_ARCHIVE_ENTRY = 256  # a central directory entry: 46 bytes, a name, its extra fields
MAX_MANIFEST_BYTES = 2 * MB
# the hub's report on what it set aside, and the blobs the sender lacks
MAX_MANIFEST_VALUES = 8 * MAX_MEMBERS + MAX_WANTS + 10_000
MAX_LINE_BYTES = 4 * MB
MAX_RATIO = 200
# What a damaged archive can raise while it is read: all of it means "refuse the bundle".
READ_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError,
               NotImplementedError, RuntimeError)


def parse_json(data, max_values=None):
    """JSON from a file nobody vouches for yet: a text nested ten thousand deep, a number
    of 5,000 digits or (with `max_values`) more values than that raises ValueError like
    any other invalid JSON, never anything else. The values are counted from the raw text
    before any is made (a comma, colon or opening bracket each; inside strings too, which
    only counts more), so that `[{},{},...]` never becomes millions of objects."""
    if max_values is not None and sum(data.count(mark) for mark in b",:[{") > max_values:
        raise ValueError("too many values")
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deep") from None


class BundleRefused(PirateboxError):
    status = 400

    def localized(self, gettext):
        """The reason is a message of its own: translated too."""
        params = {name: gettext(value) if name == "reason" else value
                  for name, value in self.params.items()}
        return gettext(self.template).format(**params)

    def as_message(self):
        return Message(self.template, **{name: Message(value) if name == "reason" else value
                                         for name, value in self.params.items()})


def new_key():
    return secrets.token_hex(32)


def sign(key, data):
    return hmac.new(bytes.fromhex(key), data, hashlib.sha256).hexdigest()


# --- writing --------------------------------------------------------------------------------

def write(target, manifest, key, records, blob_paths, progress=None):
    """Write a bundle to `target` under a temporary name, flush it, then rename it.

    `records` yields JSON-ready dicts; `blob_paths` maps hash -> file. A full stick (or a
    stick pulled out) leaves no file under the final name and raises BundleRefused.
    Every member is dated from the manifest's `created_at` (the box's own clock), never
    from the system clock or a file's date: a box whose system says 1970 writes bundles
    all the same, ZIP having no date before 1980.
    """
    stamp = zip_date(manifest.get("created_at"))
    try:
        with atomic_file(target, suffix=".partial") as handle, \
                zipfile.ZipFile(handle, "w", allowZip64=True) as archive:
            records_sha, records_size, count = _write_records(archive, records, stamp)
            members = [{"path": RECORDS, "sha256": records_sha, "size": records_size}]
            for number, (digest, path) in enumerate(sorted(blob_paths.items()), 1):
                size = os.path.getsize(path)
                _write_file(archive, member(f"blobs/{digest}", stamp, zipfile.ZIP_STORED),
                            path, size)
                members.append({"path": f"blobs/{digest}", "sha256": digest, "size": size})
                if progress:
                    progress(number, len(blob_paths))
            manifest = {**manifest, "members": members, "record_count": count}
            manifest_bytes = json.dumps(manifest, ensure_ascii=False, sort_keys=True,
                                        indent=1).encode("utf-8")
            archive.writestr(member(MANIFEST, stamp, zipfile.ZIP_DEFLATED), manifest_bytes)
            archive.writestr(member(SIGNATURE, stamp, zipfile.ZIP_DEFLATED),
                             sign(key, manifest_bytes))
    except OSError as error:
        raise BundleRefused(N_("Could not write {path}: {error}. Is the stick full or "
                               "pulled out? Nothing was written under that name."),
                            path=target, error=error.strerror or error) from None
    return manifest


# The dates a ZIP member can carry: 1 January 1980 to the end of 2107.
ZIP_DATES = (315_532_800, 4_354_819_199)


def zip_date(timestamp):
    """A member's date (UTC) from a time in seconds, within what ZIP can say."""
    low, high = ZIP_DATES
    moment = min(max(float(timestamp or 0), low), high)
    return time.gmtime(moment)[:6]


def member(name, stamp, compress_type):
    info = zipfile.ZipInfo(name, date_time=stamp)
    info.compress_type = compress_type
    return info


def _write_file(archive, info, path, size):
    # ZIP64 from the start for a file that may pass 2 GB: the header cannot grow after.
    with open(path, "rb") as source, archive.open(info, "w",
                                                  force_zip64=size > 2**31 - 1) as target:
        shutil.copyfileobj(source, target, CHUNK)


def _write_records(archive, records, stamp):
    hasher = hashlib.sha256()
    size = count = 0
    with archive.open(member(RECORDS, stamp, zipfile.ZIP_DEFLATED), "w",
                      force_zip64=True) as out:
        for record in records:
            line = json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"
            out.write(line)
            hasher.update(line)
            size += len(line)
            count += 1
    return hasher.hexdigest(), size, count


# --- reading --------------------------------------------------------------------------------

class Bundle:
    """An open bundle file. `manifest` is available at once; `verify()` proves the rest.
    `shown_as`: the file's name as the person chose it (an upload is kept under
    another); every refusal names the file by it."""

    def __init__(self, path, max_total_bytes, shown_as=None):
        self.path = Path(path)
        self.name = shown_as or self.path.name  # what a refusal calls it: the person's name
        self.max_total_bytes = max_total_bytes
        try:
            with open(self.path, "rb") as handle:
                entries = count_archive_entries(handle)
            if entries > MAX_MEMBERS + 2:
                raise self._refuse(N_("it holds more parts than a bundle can"))
            self.archive = zipfile.ZipFile(self.path)
        except READ_ERRORS:
            raise BundleRefused(N_("{path} is not a bundle: choose the .cocote file the hub or "
                                   "the box wrote."), path=self.name) from None
        self.manifest_bytes = self._small_member(MANIFEST, MAX_MANIFEST_BYTES)
        try:
            self.manifest = parse_json(self.manifest_bytes, MAX_MANIFEST_VALUES)
        except ValueError:
            raise self._refuse(N_("its manifest is not valid JSON")) from None
        if not isinstance(self.manifest, dict) or self.manifest.get("format") != FORMAT:
            raise self._refuse(N_("it is not a CoCoTe bundle"))
        self._check_version()
        self.header = self._header()

    def close(self):
        self.archive.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _refuse(self, reason):
        return BundleRefused(N_("Bundle {name} refused: {reason}."), name=self.name,
                             reason=reason)

    def _small_member(self, name, limit):
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            raise self._refuse(N_("a part is missing")) from None
        if info.file_size > limit:
            raise self._refuse(N_("a part is too large"))
        try:
            with self.archive.open(info) as member:
                data = member.read(limit + 1)
        except READ_ERRORS:
            raise self._refuse(N_("a part cannot be read (damaged file?)")) from None
        if len(data) > limit:
            raise self._refuse(N_("a part is too large"))
        return data

    def _check_version(self):
        version = self.manifest.get("version")
        found = VERSION_PATTERN.match(version) if isinstance(version, str) else None
        if not found:
            raise self._refuse(N_("it has no format version"))
        if int(found.group(1)) > MAJOR:
            raise BundleRefused(
                N_("Bundle {name} uses format {version}, newer than this software reads "
                   "({known}): upgrade the software on this box, then sync again."),
                name=self.name, version=version, known=f"{MAJOR}.{MINOR}")

    def _header(self):
        """The manifest's fields that say who, what and how far, each of the right type.
        Checking types is not believing them: that waits for the signature."""
        manifest = self.manifest
        sender = manifest.get("sender")
        if not isinstance(sender, dict):
            raise self._invalid("sender")
        fields = {
            "bundle_id": (manifest.get("bundle_id"), _an_id),
            "previous": (manifest.get("previous"), _an_id_or_none),
            "recipient": (manifest.get("recipient"), _a_short_text),
            "recipient_epoch": (manifest.get("recipient_epoch"), _an_id_or_none),
            "enrolment": (manifest.get("enrolment"), _an_id_or_none),
            "sender.id": (sender.get("id"), _an_id),
            "sender.role": (sender.get("role", "box"), lambda v: v in ("box", "hub")),
            "sender.name": (sender.get("name", ""), _a_short_text),
            "sender.epoch": (sender.get("epoch"), _an_id_or_none),
            "sender.parent_epoch": (sender.get("parent_epoch"), _an_id_or_none),
            "created_at": (manifest.get("created_at"), _a_time_or_none),
            "upto": (manifest.get("upto"), _a_count),
            "ack": (manifest.get("ack"), _a_count),
            "last_received": (manifest.get("last_received"), _an_id_or_none),
            "wants": (manifest.get("wants", []), _hashes),
            "refused": (manifest.get("refused"), _a_refusal_or_none),
        }
        for name, (value, valid) in fields.items():
            if not valid(value):
                raise self._invalid(name)
        return Header(**{name.replace("sender.", "sender_"): value
                         for name, (value, _valid) in fields.items()},
                      set_aside=manifest.get("set_aside"), boxes=manifest.get("boxes"))

    def _invalid(self, field):
        return BundleRefused(N_("Bundle {name} refused: its manifest's {field} is not valid."),
                             name=self.name, field=field)

    def authenticate(self, key):
        """Check the manifest's HMAC; until this passes, nothing else is read."""
        sent = self._small_member(SIGNATURE, 128).decode("ascii", "replace").strip()
        if not hmac.compare_digest(sent, sign(key, self.manifest_bytes)):
            raise self._refuse(N_("its signature does not match the key this box shares "
                                  "with the sender (a damaged file, or not from that sender)"))

    def verify(self, scratch):
        """Prove every member against the manifest; blobs are copied to `scratch` as they
        are hashed. Returns {hash: path in scratch}. Call after authenticate()."""
        members = self._members()
        names = [info.filename for info in self.archive.infolist()]
        if sorted(names) != sorted([MANIFEST, SIGNATURE, *members]):
            raise self._refuse(N_("its parts do not match its manifest"))
        total = 0
        blobs = {}
        for name, (digest, size) in members.items():
            info = self.archive.getinfo(name)
            total += size
            if info.file_size != size or total > self.max_total_bytes:
                raise self._refuse(N_("a part has the wrong size, or the whole is too large"))
            if size > MAX_RATIO * info.compress_size + 1024:
                raise self._refuse(N_("a part expands more than any real content would"))
            out = scratch / f"in-{digest}" if name.startswith("blobs/") else None
            if self._hash_member(info, size, out) != digest:
                if out:
                    out.unlink(missing_ok=True)
                raise self._refuse(N_("a part does not match its hash (damaged file?)"))
            if out:
                blobs[digest] = out
        return blobs

    def _members(self):
        listed = self.manifest.get("members")
        if not isinstance(listed, list) or len(listed) > MAX_MEMBERS:
            raise self._refuse(N_("its manifest lists no valid parts"))
        members = {}
        for entry in listed:
            path = entry.get("path") if isinstance(entry, dict) else None
            digest, size = (entry.get("sha256"), entry.get("size")) if path else (None, None)
            if (not isinstance(path, str) or not MEMBER_PATTERN.match(path) or path in members
                    or not isinstance(digest, str) or not SHA256.match(digest)
                    or not isinstance(size, int) or isinstance(size, bool) or size < 0
                    or (path.startswith("blobs/") and path != f"blobs/{digest}")):
                raise self._refuse(N_("its manifest lists an invalid part"))
            members[path] = (digest, size)
        if RECORDS not in members:
            raise self._refuse(N_("it has no records"))
        return members

    def _hash_member(self, info, size, out):
        hasher = hashlib.sha256()
        read = 0
        handle = open(out, "wb") if out else None  # noqa: SIM115 - closed below
        try:
            with self.archive.open(info) as member:
                for chunk in iter(lambda: member.read(CHUNK), b""):
                    read += len(chunk)
                    if read > size:
                        break
                    hasher.update(chunk)
                    if handle:
                        handle.write(chunk)
            if handle:
                handle.flush()
                os.fsync(handle.fileno())
        except READ_ERRORS:
            raise self._refuse(N_("a part cannot be read (damaged file?)")) from None
        finally:
            if handle:
                handle.close()
        return hasher.hexdigest() if read == size else None

    def records(self):
        """Each record line as a dict, read lazily; a line that is no JSON object comes as
        Unreadable (it is set aside like any record that cannot be applied); a line over
        the size limit, or a damaged member, refuses the bundle."""
        try:
            yield from self._lines()
        except READ_ERRORS:
            raise self._refuse(N_("a part cannot be read (damaged file?)")) from None

    def _lines(self):
        # A chunk at a time, split here: zipfile's readline costs more than the split.
        # A line is at most MAX_LINE_BYTES with its newline, the last one without.
        with self.archive.open(RECORDS) as member:
            rest = b""
            while chunk := member.read(CHUNK):
                *lines, rest = (rest + chunk).split(b"\n")
                if len(rest) > MAX_LINE_BYTES or any(len(line) >= MAX_LINE_BYTES
                                                     for line in lines):
                    raise self._refuse(N_("a record is too large"))
                yield from map(self._record, lines)
            if rest:
                yield self._record(rest)

    @staticmethod
    def _record(line):
        try:
            record = _one_value(line)
        except (ValueError, RecursionError):  # judged by json.loads, as any line was before
            try:
                record = parse_json(line)
            except ValueError:
                record = None
        return record if isinstance(record, dict) else Unreadable(line)


_DECODER = json.JSONDecoder()


def _one_value(line):
    """The JSON value a line holds when it is one UTF-8 value from its first byte to its
    last, as a bundle's writer makes them; ValueError on anything else (blanks around it,
    another encoding), for json.loads to judge. It reads the same values as json.loads,
    without the encoding guess and the two scans for blanks that cost a record a quarter
    of its parsing."""
    text = line.decode("utf-8", "surrogatepass")
    value, end = _DECODER.raw_decode(text)
    if end != len(text):
        raise ValueError("more than one value")
    return value


END_OF_ARCHIVE = struct.Struct("<4s4H2LH")  # PKZIP's end of central directory record
ZIP64_LOCATOR = struct.Struct("<4sLQL")
ZIP64_END = struct.Struct("<4sQ2H2L4Q")
ARCHIVE_ENTRY = struct.Struct("<4s6H3L5H2L")  # a central directory entry, before its name


def count_archive_entries(handle):
    """How many entries a ZIP archive's central directory holds, walked entry by entry in
    its bytes as zipfile would, but stopping (and answering more than MAX_MEMBERS + 2) as
    soon as the directory is larger than a bundle's or holds more entries; 0 for a file
    that is no ZIP archive (zipfile then says so)."""
    size = handle.seek(0, os.SEEK_END)
    tail_start = max(0, size - (END_OF_ARCHIVE.size + 0xFFFF + ZIP64_LOCATOR.size))
    handle.seek(tail_start)
    tail = handle.read()
    found = tail.rfind(b"PK\x05\x06")
    if found < 0 or len(tail) - found < END_OF_ARCHIVE.size:
        return 0
    end = END_OF_ARCHIVE.unpack_from(tail, found)
    entries, directory_size, directory_end = end[4], end[5], tail_start + found
    locator = found - ZIP64_LOCATOR.size
    if locator >= 0 and tail[locator:locator + 4] == b"PK\x06\x07":
        handle.seek(ZIP64_LOCATOR.unpack_from(tail, locator)[2])
        zip64 = ZIP64_END.unpack(handle.read(ZIP64_END.size).ljust(ZIP64_END.size, b"\0"))
        if zip64[0] == b"PK\x06\x06":
            entries, directory_size = zip64[7], zip64[8]
            directory_end = tail_start + locator - ZIP64_END.size
    too_many = MAX_MEMBERS + 3
    if entries >= too_many or directory_size > too_many * MAX_ARCHIVE_ENTRY:
        return too_many
    handle.seek(max(0, directory_end - directory_size))
    directory = handle.read(directory_size)
    position = count = 0
    while position + ARCHIVE_ENTRY.size <= len(directory) and count < too_many:
        fields = ARCHIVE_ENTRY.unpack_from(directory, position)
        if fields[0] != b"PK\x01\x02":
            break
        position += ARCHIVE_ENTRY.size + fields[10] + fields[11] + fields[12]
        count += 1
    return count


class Unreadable:
    """A record line that is not a JSON object (nested too deep, a number too long...)."""

    def __init__(self, line):
        self.text = line.decode("utf-8", "replace").rstrip("\n")


@dataclass(frozen=True)
class Header:
    """A manifest's own fields, checked for type (see Bundle._header)."""

    bundle_id: str
    previous: str | None
    recipient: str
    recipient_epoch: str | None
    enrolment: str | None
    sender_id: str
    sender_role: str
    sender_name: str
    sender_epoch: str | None
    sender_parent_epoch: str | None
    created_at: float | None
    upto: int
    ack: int
    last_received: str | None  # hub -> box: the box's last bundle the hub had applied
    wants: list  # the blobs the sender's records need and it lacks
    refused: dict | None  # hub -> box: {"reason": "revoked"} when its bundles are refused
    set_aside: object  # a hub's report on what it set aside (quarantine.read_report)
    boxes: object  # hub -> box: the network's villages (villages.read)


def _an_id(value):
    return isinstance(value, str) and bool(ID.match(value))


def _an_id_or_none(value):
    return value is None or _an_id(value)


def _a_short_text(value):
    return isinstance(value, str) and len(value) <= 200


def _a_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_VERSION


def _hashes(value):
    return isinstance(value, list) and len(value) <= MAX_WANTS and all(
        isinstance(digest, str) and SHA256.match(digest) for digest in value)


def _a_refusal_or_none(value):
    return value is None or (isinstance(value, dict) and isinstance(value.get("reason"), str)
                             and len(value["reason"]) <= 40)


def _a_time_or_none(value):
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool)
                             and 0 <= value <= MAX_TIME and math.isfinite(value))
