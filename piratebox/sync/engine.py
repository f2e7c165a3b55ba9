"""Sync between a box and its hub: export a bundle, import one.

See docs/sync.md for the story and docs/sync-format.md for the file. Everything here is
plain functions over the open database, so the CLI, the admin page and the tests call
the same code. Enrolment is in enrolment.py, the stick's round trip in stick.py, the
records set aside in quarantine.py, a box's history and the acknowledgements in
history.py, what a record may carry and how it merges in records.py.
"""

import json
from pathlib import Path

from peewee import fn

from models import (
    Blob,
    BlobUse,
    Counter,
    Event,
    Initiative,
    Item,
    Peer,
    PeerBlob,
    ReceivedBundle,
    Setting,
    SharedFile,
    Tally,
    db,
    new_id,
)
from piratebox import box, villages
from piratebox.clock import FAR_AHEAD_SECONDS
from piratebox.database import cache_for_import, exclusive
from piratebox.i18n import N_
from piratebox.rules import Unusable
from piratebox.sync import bundle, history, quarantine, records
from piratebox.sync.bundle import BundleRefused
from piratebox.sync.enrolment import SyncError
from piratebox.units import MB

MERGE_BATCH = 500  # records read from a bundle before they are merged together
# How far above everything a hub has seen a box's versions may be. A box's version grows
# by one a change (and jumps only to what it received from the hub): a million changes
# between two syncs is centuries of a village. A counter pushed a million at a time needs
# billions of bundles to reach even the 2**53 every version stays under.
VERSION_STEP = 1_000_000
BLOB_TABLES = (Item, Tally, SharedFile)


class Revoked(BundleRefused):
    """A bundle, authentic, from a box the hub revoked: the hub tells the box so."""

    def __init__(self, peer, box_id):
        super().__init__(N_("{name} was revoked at the hub: its bundles are refused."),
                         name=peer.name)
        self.peer, self.box_id = peer, box_id


class Obsolete(BundleRefused):
    """A hub's bundle written for an enrolment this box has since replaced: of no use."""


def bundle_name(sender, recipient):
    return f"{sender}-to-{recipient}{bundle.SUFFIX}"


# --- what each side sends -------------------------------------------------------------------

def _addressing(me, peer):
    """(recipient id, enrolment id) as the two ends name them."""
    if me["role"] == "hub":
        return peer.box_id, peer.id
    return peer.id, Setting.get_value("enrolment_id")


def _for_the_peer(me, peer, model):
    """Which records of a table the peer may hold, whatever changed: a query condition.

    A box sends its hub only its own records. A hub sends a box its own records back when
    the hub changed them, the hub's events, and of the other villages' objects and files
    those on offer to the network, or once on offer since a bundle the box may have read
    (their removal: given, taken back, deleted). A box that joins gets the offers, not
    the network's history. Every box's initiatives go to every box: the map is the
    network's.
    """
    if me["role"] != "hub":
        return model.origin == me["id"]
    own = model.origin == peer.box_id
    if model in (Item, SharedFile):
        return own | model.offered_to_network() | (model.shown_seq <= peer.sent_upto)
    if model is Event:
        return own | (model.origin == me["id"])
    if model is Initiative:
        return model.id.is_null(False)
    return own


def _selection(me, peer, upto):
    """The record queries for this peer: changes since its acknowledgement, up to `upto`,
    never what the peer itself delivered unchanged (unless it was restored since)."""
    for model in records.TABLES.values():
        yield model.select().where(
            (model.seq > peer.acked_upto) & (model.seq <= upto) & _for_the_peer(me, peer, model)
            & (model.via.is_null() | (model.via != peer.id) | (model.seq <= peer.resend_upto)))


def _blobs_wanted(me, peer, row, file_limit):
    """{hash: kind} a record needs at the peer; None when the record is of no use there."""
    elsewhere = me["role"] == "hub" and row.origin != peer.box_id
    if elsewhere and not row.is_offered_to_network():
        return {}  # its removal: the village that had it shows it no more
    if not isinstance(row, SharedFile):
        return row.blob_hashes()
    if row.network and row.size <= file_limit:
        return row.blob_hashes()
    if elsewhere:
        return None  # a file without its content is of no use to another village
    return {}


def peer_has(peer, digests):
    """Which of `digests` the peer has, as far as its acknowledgements tell."""
    digests, has = list(digests), set()
    for start in range(0, len(digests), 300):
        has |= {digest for (digest,) in PeerBlob.select(PeerBlob.hash).where(
            (PeerBlob.peer_id == peer.id) & PeerBlob.hash.in_(digests[start:start + 300])
            & (PeerBlob.seq <= peer.acked_upto)).tuples()}
    return has


def changes_for(me, peer, blobs, config):
    """Records and blobs to send, oldest change first, within one bundle's size."""
    upto = Counter.current("seq")
    changed = sorted((row for query in _selection(me, peer, upto) for row in query),
                     key=lambda row: row.seq)
    budget = config["SYNC_MAX_BUNDLE_MB"] * MB
    file_limit = config["SYNC_FILE_MAX_MB"] * MB
    wanted = [(row, _blobs_wanted(me, peer, row, file_limit)) for row in changed]
    has = peer_has(peer, {digest for _row, needs in wanted for digest in needs or ()})
    needed = asked_for(me, peer, blobs, file_limit)
    chosen = []
    size = sum(path.stat().st_size for path in needed.values())
    for row, needs in wanted:
        if needs is None:
            continue
        extra = {digest: blobs.path(digest) for digest in needs
                 if digest not in needed and digest not in has and blobs.exists(digest)}
        extra_size = sum(path.stat().st_size for path in extra.values())
        too_many = len(needed) + len(extra) >= bundle.MAX_MEMBERS  # records.jsonl is one
        if chosen and (size + extra_size > budget or too_many):
            upto = chosen[-1].seq  # the rest goes in the next bundle
            break
        chosen.append(row)
        needed.update(extra)
        size += extra_size
    return chosen, needed, upto


# --- blobs a side lacks ---------------------------------------------------------------------
# A record can arrive without its photo: the sender believed the recipient had it, and it
# had collected it since (the same picture posted again in another village). Each bundle
# says which blobs the sender's records need and it lacks (`wants`); the other side sends
# them with its next bundle, if records the asker may see need them. Nothing stays missing
# for longer than a round.

def _expected_from(me, peer, model, file_limit):
    """The records whose blobs the peer is the one to send us: a hub's, anything a box
    holds; a box's, what it delivered."""
    expected = model.origin == peer.box_id if me["role"] == "hub" else model.id.is_null(False)
    if model is SharedFile:  # a file's content travels only when shared, and not too large
        expected &= (model.network == True) & (model.size <= file_limit)  # noqa: E712
    return expected


def missing(me, peer, file_limit):
    """The blobs our live records need from the peer and that this box lacks (sorted)."""
    found = set()
    for model in BLOB_TABLES:
        found |= {digest for (digest,) in BlobUse.select(BlobUse.hash).where(
            ~fn.EXISTS(Blob.select().where(Blob.hash == BlobUse.hash))
            & BlobUse.record_id.in_(model.select(model.id).where(
                _expected_from(me, peer, model, file_limit)))).tuples()}
    return sorted(found)[:bundle.MAX_WANTS]


def asked_for(me, peer, blobs, file_limit):
    """{hash: path} of the blobs the peer asked for, that we have, and that a record the
    peer may see needs (a hash alone proves nothing: never a blob it could not see)."""
    wants = json.loads(peer.wants or "[]")
    if not wants:
        return {}
    allowed = set()
    for model in BLOB_TABLES:
        for row in model.select().where(
                model.id.in_(BlobUse.select(BlobUse.record_id).where(BlobUse.hash.in_(wants)))
                & (model.deleted == False) & _for_the_peer(me, peer, model)):  # noqa: E712
            allowed |= set(_blobs_wanted(me, peer, row, file_limit) or ()) & set(wants)
    return {digest: blobs.path(digest) for digest in sorted(allowed) if blobs.exists(digest)}


# --- export ---------------------------------------------------------------------------------

def _manifest(me, peer, clock, upto, ack, recipient=None):
    addressed, enrolment_id = _addressing(me, peer)
    recipient = recipient or addressed
    if not recipient:
        raise SyncError(N_("{name} has never sent a bundle: nothing can be addressed to it "
                           "yet."), name=peer.name)
    if not peer.key:
        raise SyncError(N_("This box holds no key for {name} (restored without its keys?): "
                           "it needs a new enrolment from the hub."), name=peer.name)
    manifest = {
        "format": bundle.FORMAT, "version": f"{bundle.MAJOR}.{bundle.MINOR}",
        "bundle_id": new_id(),
        "previous": (Setting.get_value("last_bundle_id") or None)
        if me["role"] == "box" else None,
        "sender": {"id": me["id"], "role": me["role"], "name": me["name"],
                   "epoch": Setting.get_value("sync_epoch") or me["id"],
                   "parent_epoch": Setting.get_value("sync_parent_epoch") or None},
        "recipient": recipient, "enrolment": enrolment_id,
        "created_at": clock.now(), "upto": upto, "ack": ack,
    }
    if me["role"] == "hub":
        manifest["recipient_epoch"] = peer.epoch
        manifest["last_received"] = peer.last_received
    return manifest


def export(here, peer, folder, progress=None):
    """Write the bundle of the box `here` for `peer` into `folder`; returns (path, manifest)."""
    me, config, clock = box.identity(), here.config, here.clock
    blobs = here.blobs
    with blobs.keeping():  # no blob this bundle carries may be collected while it is written
        with db.atomic():  # one consistent view of the records and the counters
            rows, needed, upto = changes_for(me, peer, blobs, config)
            manifest = _manifest(me, peer, clock, upto, peer.received_upto)
            manifest["wants"] = missing(me, peer, config["SYNC_FILE_MAX_MB"] * MB)
            if me["role"] == "hub":
                manifest["set_aside"] = quarantine.for_the_box(peer.id)
                manifest["boxes"] = villages.known()
        path = Path(folder) / bundle_name(me["id"], manifest["recipient"])
        manifest = bundle.write(path, manifest, peer.key,
                                (records.travelling_state(row) for row in rows), needed,
                                progress)
    with db.atomic():
        if me["role"] == "box":
            Setting.put("last_bundle_id", manifest["bundle_id"])
            Setting.put("last_bundle_at", repr(manifest["created_at"]))
        _now_has(peer.id, needed, upto)
        Peer.update(last_export_at=clock.now()).where(Peer.id == peer.id).execute()
        Peer.update(sent_upto=upto).where((Peer.id == peer.id) & (Peer.sent_upto < upto)
                                          ).execute()
    return path, manifest


def export_refusal(clock, refusal, folder):
    """Hub: tell a revoked box, in a bundle it can verify with the key it holds, that its
    bundles are refused. It carries nothing else: no record, no photo."""
    me, peer = box.identity(), refusal.peer
    manifest = _manifest(me, peer, clock, peer.acked_upto, peer.received_upto,
                         recipient=refusal.box_id)
    manifest["refused"] = {"reason": "revoked"}
    path = Path(folder) / bundle_name(me["id"], manifest["recipient"])
    return path, bundle.write(path, manifest, peer.key, (), {})


def _now_has(peer_id, digests, seq):
    """The peer has these blobs, or will once it acknowledges `seq`."""
    rows = [{"peer_id": peer_id, "hash": digest, "seq": seq} for digest in digests]
    for start in range(0, len(rows), 300):
        PeerBlob.insert_many(rows[start:start + 300]).on_conflict_ignore().execute()


# --- import ---------------------------------------------------------------------------------

def _peer_for(me, header):
    if header.recipient != me["id"]:
        named = villages.names().get(header.recipient)
        if named:
            raise BundleRefused(N_("This bundle is for {name}, not for this box."),
                                name=named)
        raise BundleRefused(N_("This bundle is for another box ({recipient}), not for this "
                               "one."), recipient=header.recipient[:40])
    if me["role"] == "hub":
        peer = Peer.get_or_none((Peer.id == header.enrolment) & (Peer.role == "box"))
    else:
        peer = Peer.get_or_none((Peer.id == header.sender_id) & (Peer.role == "hub"))
        if peer is not None and header.enrolment != Setting.get_value("enrolment_id"):
            raise Obsolete(N_("This bundle from {name} was written for an earlier enrolment "
                              "of this box: it is of no use now."), name=peer.name)
    if peer is None:
        raise BundleRefused(N_("This bundle comes from a box this one does not know: enrol it "
                               "first (piratebox hub enrol)."))
    if not peer.key:
        raise BundleRefused(N_("This box holds no key for {name} (restored without its "
                               "keys?): it needs a new enrolment from the hub."),
                            name=peer.name)
    return peer


def import_bundle(path, here, shown_as=None):
    """Verify a bundle completely, then apply it in the box `here` in one transaction;
    returns a summary. `shown_as`: the name a refusal gives the file (the one the mediator
    chose)."""
    me, clock = box.identity(), here.clock
    scratch = here.data_dir.scratch()
    with bundle.Bundle(path, here.config["SYNC_MAX_BUNDLE_MB"] * MB, shown_as) as opened:
        header = opened.header
        peer = _peer_for(me, header)
        opened.authenticate(peer.key)
        if peer.status == "revoked":
            raise Revoked(peer, header.sender_id)
        if ReceivedBundle.get_or_none(ReceivedBundle.bundle_id == header.bundle_id):
            return _already(peer)  # the fast answer to a second import
        if me["role"] == "hub" and peer.box_id:
            history.check(peer, header)  # refuse early, before the hashing
        verified = opened.verify(scratch)
        try:
            summary = _apply(opened, verified, here.blobs, me, peer.id, clock)
        finally:
            for leftover in verified.values():
                leftover.unlink(missing_ok=True)
    if me["role"] == "box" and header.created_at is not None:
        summary["clock_moved"] = _take_the_time(clock, header, peer)
    here.blobs.collect()  # what the records that came deleted or replaced
    return summary


def _take_the_time(clock, header, peer):
    """A hub's bundle tells the time. It moves a box that is behind forward; it sets a box
    back only when it proves the box ahead: it answers the box's latest bundle (the hub
    read its clock after that bundle was written), yet its time is far before the time
    that bundle carries (a floor some wrong clock left, years ahead)."""
    ours = Setting.values("last_bundle_id", "last_bundle_at")
    answered = header.last_received and header.last_received == ours.get("last_bundle_id")
    ahead = float(ours.get("last_bundle_at") or 0) - header.created_at
    if answered and ahead > FAR_AHEAD_SECONDS:
        return clock.correct(header.created_at, source=peer.name)
    return clock.correct(header.created_at, source=peer.name, only_forward=True)


def _already(peer):
    return {"sender": peer.name, "peer_id": peer.id, "already": True, "applied": 0,
            "unchanged": 0, "blobs": 0, "refused": 0, "for_later": 0, "hub_reports": 0,
            "revoked": False}


def _judge(me, header):
    """Who may send what. A key proves which box sent a bundle, nothing more: a hub takes
    from a box only the records born on it, never one in the hub's own name, and no
    version absurdly far above everything it has seen. A box takes what its hub sends."""
    if me["role"] != "hub":
        return lambda clean: None
    ceiling = Counter.current("lamport") + VERSION_STEP

    def judge(clean):
        if clean["origin"] == me["id"]:
            raise Unusable(quarantine.HUB_ONLY)
        if clean["origin"] != header.sender_id:
            raise Unusable(quarantine.FOREIGN)
        if clean["version"] > ceiling:
            raise Unusable(quarantine.TOO_NEW, step=f"{VERSION_STEP:,}")

    return judge


class Merger:
    """Records of one import, merged a batch at a time; what cannot be applied is set aside."""

    def __init__(self, me, peer, header, now, blobs_carried=False):
        self.relay, self.peer_id, self.bundle_id = me["role"] == "hub", peer.id, header.bundle_id
        self.here = me["id"]
        self.now, self.judge = now, _judge(me, header)
        self.kept = quarantine.Kept()
        self.applied = self.unchanged = 0
        self.waiting, self.pending = {}, 0  # model -> [(clean, line)], how many in all
        # what each blob the bundle carries is, as its records say (a record set aside
        # too): known once every record is read, in the same pass as the merge
        self.blobs_carried, self.kinds = blobs_carried, {}

    def add(self, line):
        try:
            if isinstance(line, bundle.Unreadable):
                raise Unusable(quarantine.NOT_JSON)
            model, clean = records.parse(line)
            if self.blobs_carried:
                self.kinds.update(records.blobs_of(model, clean))
            self.judge(clean)
        except Unusable as unusable:
            quarantine.keep(self.peer_id, self.bundle_id, line, unusable, self.now, self.kept)
            return
        self.waiting.setdefault(model, []).append((clean, line))
        self.pending += 1
        if self.pending >= MERGE_BATCH:
            self.flush()

    def merge(self, model, cleans):
        return records.merge(model, cleans, self.relay, self.peer_id, self.here)

    def flush(self):
        for model, batch in self.waiting.items():
            lines = {clean["id"]: line for clean, line in batch}
            applied, unchanged, taken = self.merge(model, [clean for clean, _line in batch])
            self.applied, self.unchanged = self.applied + applied, self.unchanged + unchanged
            for clean, unusable in taken:
                quarantine.keep(self.peer_id, self.bundle_id, lines[clean["id"]], unusable,
                                self.now, self.kept)
        self.waiting.clear()
        self.pending = 0

    def retry(self):
        """The records set aside from this peer before: apply those that now can; forget
        those a newer state has replaced."""
        done = []
        for entry, line in quarantine.waiting(self.peer_id, self.bundle_id):
            if _superseded(entry):
                done.append(entry.id)
                continue
            try:
                model, clean = records.parse(line)
                self.judge(clean)
            except Unusable:
                continue
            applied, _unchanged, taken = self.merge(model, [clean])
            self.applied += applied
            if not taken:
                done.append(entry.id)
        for entry_id in done:
            quarantine.discard(entry_id)


def _superseded(entry):
    """Has a newer state of the record set aside been applied since?"""
    model = records.TABLES.get(entry.record_table)
    if model is None or entry.record_version is None:
        return False
    local = model.select(model.version).where(model.id == entry.record_id).scalar()
    return local is not None and local > entry.record_version


def _apply(opened, verified, blobs, me, peer_id, clock):
    header = opened.header
    now = clock.now()
    with cache_for_import(), exclusive():
        # Another import may have run while this one was hashing: decide again, under the
        # lock, from what is committed now.
        peer = Peer.get_by_id(peer_id)
        if ReceivedBundle.get_or_none(ReceivedBundle.bundle_id == header.bundle_id):
            return _already(peer)
        if me["role"] == "hub" and peer.box_id is None:
            peer = history.take_over(peer, header)  # a box enrolled again: the same box
        epochs = history.check(peer, header) if me["role"] == "hub" else (None, None)
        merger = Merger(me, peer, header, now, blobs_carried=bool(verified))
        for line in opened.records():  # one pass: each record read, judged and merged once
            merger.add(line)
        merger.flush()
        for digest, temporary in verified.items():  # in the same transaction as the records
            blobs.adopt(temporary, digest, temporary.stat().st_size,
                        merger.kinds.get(digest, "photo"), now)
        _now_has(peer.id, verified, 0)
        _its_wants(peer, header.wants)
        merger.retry()
        history.acknowledge(peer, header, epochs, me, now)
        reported = _from_the_hub(header, now) if me["role"] == "box" else 0
    return {"sender": peer.name, "peer_id": peer.id, "already": False,
            "applied": merger.applied, "unchanged": merger.unchanged,
            "blobs": len(verified), "refused": merger.kept.refused,
            "for_later": merger.kept.for_later, "hub_reports": reported,
            "revoked": me["role"] == "box" and header.refused is not None}


def _its_wants(peer, wants):
    """The peer lacks these blobs: it says so in each bundle. Whatever we believed it had,
    our next bundle brings those its records may show (see asked_for)."""
    Peer.update(wants=json.dumps(wants)).where(Peer.id == peer.id).execute()
    peer.wants = json.dumps(wants)
    for start in range(0, len(wants), 300):
        PeerBlob.delete().where((PeerBlob.peer_id == peer.id)
                                & PeerBlob.hash.in_(wants[start:start + 300])).execute()


def _from_the_hub(header, now):
    """Box: keep what the hub says of this box (its records set aside, a revocation) and
    of the network's villages; returns how many records set aside are new."""
    villages.remember(header.boxes)
    Setting.put("hub_refused", json.dumps({"at": now, **header.refused})
                if header.refused is not None else "")
    return _remember_report(header, now)


def _remember_report(header, now):
    """Box: keep what the hub says it set aside of ours; returns how many are new."""
    report = quarantine.read_report(header.set_aside)
    if report is None:
        return 0
    before = hub_report() or {"records": []}
    seen = {(entry["id"], entry["version"]) for entry in before["records"]}
    Setting.put("hub_set_aside", json.dumps({"at": now, **report}))
    return sum((entry["id"], entry["version"]) not in seen for entry in report["records"])


def hub_report():
    """What the hub last said it set aside of this box's records."""
    raw = Setting.get_value("hub_set_aside")
    return json.loads(raw) if raw else None


def hub_refusal():
    """Box: {"at", "reason"} when the hub's last bundle said it refuses this box's bundles
    (it was revoked), else None."""
    raw = Setting.get_value("hub_refused")
    return json.loads(raw) if raw else None


def waiting(peer):
    """How many changed records have not been acknowledged by the peer yet."""
    if peer is None:
        return 0
    return sum(model.select().where(model.seq > peer.acked_upto).count()
               for model in records.TABLES.values())
