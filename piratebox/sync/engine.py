"""Sync between a box and its hub: export a bundle, import one.

See docs/sync.md for the story and docs/sync-format.md for the file. Everything here is
plain functions over the open database, so the CLI, the admin page and the tests call
the same code. Enrolment is in enrolment.py, the stick's round trip in stick.py, the
records set aside in quarantine.py, a box's history and the acknowledgements in
history.py.
"""

import contextlib
import json
from pathlib import Path

from models import (
    Counter,
    Event,
    Item,
    Peer,
    PeerBlob,
    ReceivedBundle,
    Setting,
    SharedFile,
    db,
    new_id,
)
from piratebox import box
from piratebox.blobs import BlobStore
from piratebox.database import exclusive
from piratebox.i18n import N_
from piratebox.rules import Unusable
from piratebox.sync import bundle, history, quarantine, records
from piratebox.sync.bundle import BundleRefused
from piratebox.sync.enrolment import SyncError

MB = 1024 * 1024
MERGE_BATCH = 500  # records read from a bundle before they are merged together
# How far above everything a hub has seen a box's versions may be. A box's version grows
# by one a change (and jumps only to what it received from the hub): a million changes
# between two syncs is centuries of a village. A counter pushed a million at a time needs
# billions of bundles to reach even the 2**53 every version stays under.
VERSION_STEP = 1_000_000


def bundle_name(sender, recipient):
    return f"{sender}-to-{recipient}{bundle.SUFFIX}"


def revoke(name_or_id):
    peer = Peer.get_or_none((Peer.role == "box") & (
        (Peer.id == name_or_id) | (Peer.box_id == name_or_id) | (Peer.name == name_or_id)))
    if peer is None:
        raise SyncError(N_("No enrolled box is called {name}."), name=name_or_id)
    peer.status = "revoked"
    peer.save()
    return peer


# --- export ---------------------------------------------------------------------------------

def _addressing(me, peer):
    """(recipient id, enrolment id) as the two ends name them."""
    if me["role"] == "hub":
        return peer.box_id, peer.id
    return peer.id, Setting.get_value("enrolment_id")


def _selection(me, peer, upto):
    """The record queries for this peer: changes since its acknowledgement, up to `upto`."""
    for model in records.TABLES.values():
        query = model.select().where((model.seq > peer.acked_upto) & (model.seq <= upto))
        if me["role"] == "hub":
            # A box gets back its own records when the hub changed them (or after a
            # restore), the offers and files other villages showed to the network, and
            # the hub's own events; never what it delivered itself, unchanged.
            own = model.origin == peer.box_id
            if model in (Item, SharedFile):
                query = query.where(own | (model.network == True))  # noqa: E712
            elif model is Event:
                query = query.where(own | (model.origin == me["id"]))
            else:
                query = query.where(own)
            query = query.where(model.via.is_null() | (model.via != peer.id)
                                | (model.seq <= peer.resend_upto))
        yield query


def _blobs_wanted(me, peer, row, file_limit):
    """{hash: kind} a record needs at the peer; None when the record is of no use there."""
    if not isinstance(row, SharedFile):
        return row.blob_hashes()
    if row.network and row.size <= file_limit:
        return row.blob_hashes()
    if me["role"] == "hub" and row.origin != peer.box_id:
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
    chosen, needed, size = [], {}, 0
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


def export(data_dir, config, clock, peer, folder, progress=None):
    """Write this box's bundle for `peer` into `folder`; returns (path, manifest)."""
    me = box.identity()
    recipient, enrolment_id = _addressing(me, peer)
    if not recipient:
        raise SyncError(N_("{name} has never sent a bundle: nothing can be addressed to it "
                           "yet."), name=peer.name)
    blobs = BlobStore(data_dir)
    with blobs.keeping():  # no blob this bundle carries may be collected while it is written
        with db.atomic():  # one consistent view of the records and the counters
            rows, needed, upto = changes_for(me, peer, blobs, config)
            bundle_id = new_id()
            manifest = {
                "format": bundle.FORMAT, "version": f"{bundle.MAJOR}.{bundle.MINOR}",
                "bundle_id": bundle_id,
                "previous": (Setting.get_value("last_bundle_id") or None)
                if me["role"] == "box" else None,
                "sender": {"id": me["id"], "role": me["role"], "name": me["name"],
                           "epoch": Setting.get_value("sync_epoch") or me["id"],
                           "parent_epoch": Setting.get_value("sync_parent_epoch") or None},
                "recipient": recipient, "enrolment": enrolment_id,
                "created_at": clock.now(), "upto": upto, "ack": peer.received_upto,
            }
            if me["role"] == "hub":
                manifest["recipient_epoch"] = peer.epoch
                manifest["set_aside"] = quarantine.for_the_box(peer.id)
        path = Path(folder) / bundle_name(me["id"], recipient)
        manifest = bundle.write(path, manifest, peer.key, (records.state_of(r) for r in rows),
                                needed, progress)
    with db.atomic():
        if me["role"] == "box":
            Setting.put("last_bundle_id", bundle_id)
        _now_has(peer.id, needed, upto)
        Peer.update(last_export_at=clock.now()).where(Peer.id == peer.id).execute()
    return path, manifest


def _now_has(peer_id, digests, seq):
    """The peer has these blobs, or will once it acknowledges `seq`."""
    rows = [{"peer_id": peer_id, "hash": digest, "seq": seq} for digest in digests]
    for start in range(0, len(rows), 300):
        PeerBlob.insert_many(rows[start:start + 300]).on_conflict_ignore().execute()


# --- import ---------------------------------------------------------------------------------

def _peer_for(me, header):
    if header.recipient != me["id"]:
        raise BundleRefused(N_("This bundle is addressed to another box ({recipient}), not to "
                               "this one."), recipient=header.recipient[:40])
    if me["role"] == "hub":
        peer = Peer.get_or_none((Peer.id == header.enrolment) & (Peer.role == "box"))
    else:
        peer = Peer.get_or_none((Peer.id == header.sender_id) & (Peer.role == "hub"))
    if peer is None:
        raise BundleRefused(N_("This bundle comes from a box this one does not know: enrol it "
                               "first (piratebox hub enrol)."))
    if peer.status == "revoked":
        raise BundleRefused(N_("{name} was revoked at the hub: its bundles are refused."),
                            name=peer.name)
    return peer


def import_bundle(path, data_dir, config, clock, shown_as=None):
    """Verify a bundle completely, then apply it in one transaction; returns a summary.
    `shown_as`: the name a refusal gives the file (the one the mediator chose)."""
    me = box.identity()
    scratch = data_dir.scratch()
    with bundle.Bundle(path, config["SYNC_MAX_BUNDLE_MB"] * MB, shown_as) as opened:
        header = opened.header
        peer = _peer_for(me, header)
        opened.authenticate(peer.key)
        if ReceivedBundle.get_or_none(ReceivedBundle.bundle_id == header.bundle_id):
            return _already(peer)  # the fast answer to a second import
        if me["role"] == "hub":
            history.check(peer, header)  # refuse early, before the hashing
        verified = opened.verify(scratch)
        try:
            summary = _apply(opened, verified, data_dir, me, peer.id, clock)
        finally:
            for leftover in verified.values():
                leftover.unlink(missing_ok=True)
    if me["role"] == "box" and header.created_at is not None:
        summary["clock_moved"] = clock.correct(header.created_at, source=peer.name,
                                               only_forward=True)
    BlobStore(data_dir).collect()  # what the records that came deleted or replaced
    return summary


def _already(peer):
    return {"sender": peer.name, "peer_id": peer.id, "already": True, "applied": 0,
            "unchanged": 0, "blobs": 0, "refused": 0, "for_later": 0, "hub_reports": 0}


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

    def __init__(self, me, peer, header, now):
        self.relay, self.peer_id, self.bundle_id = me["role"] == "hub", peer.id, header.bundle_id
        self.now, self.judge = now, _judge(me, header)
        self.kept = quarantine.Kept()
        self.applied = self.unchanged = 0
        self.waiting = {}  # model -> [(clean, line)]

    def add(self, line):
        try:
            if isinstance(line, bundle.Unreadable):
                raise Unusable(quarantine.NOT_JSON)
            model, clean = records.parse(line)
            self.judge(clean)
        except Unusable as unusable:
            quarantine.keep(self.peer_id, self.bundle_id, line, unusable, self.now, self.kept)
            return
        self.waiting.setdefault(model, []).append((clean, line))
        if sum(map(len, self.waiting.values())) >= MERGE_BATCH:
            self.flush()

    def flush(self):
        for model, batch in self.waiting.items():
            lines = {clean["id"]: line for clean, line in batch}
            applied, unchanged, taken = records.merge(
                model, [clean for clean, _line in batch], self.relay, self.peer_id)
            self.applied, self.unchanged = self.applied + applied, self.unchanged + unchanged
            for clean, unusable in taken:
                quarantine.keep(self.peer_id, self.bundle_id, lines[clean["id"]], unusable,
                                self.now, self.kept)
        self.waiting.clear()

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
            applied, _unchanged, taken = records.merge(model, [clean], self.relay,
                                                       self.peer_id)
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


def _apply(opened, verified, data_dir, me, peer_id, clock):
    header = opened.header
    blobs = BlobStore(data_dir)
    now = clock.now()
    kinds = {}
    for line in opened.records() if verified else ():  # what each blob is, before any
        with contextlib.suppress(Unusable):  # record lands (those set aside: below)
            if isinstance(line, dict):
                kinds.update(records.blobs_of(*records.parse(line)))
    with exclusive():
        # Another import may have run while this one was hashing: decide again, under the
        # lock, from what is committed now.
        peer = Peer.get_by_id(peer_id)
        if ReceivedBundle.get_or_none(ReceivedBundle.bundle_id == header.bundle_id):
            return _already(peer)
        epochs = history.check(peer, header) if me["role"] == "hub" else (None, None)
        for digest, temporary in verified.items():
            blobs.adopt(temporary, digest, temporary.stat().st_size,
                        kinds.get(digest, "photo"), now)
        _now_has(peer.id, verified, 0)
        merger = Merger(me, peer, header, now)
        for line in opened.records():
            merger.add(line)
        merger.flush()
        merger.retry()
        history.acknowledge(peer, header, epochs, me, now)
        reported = _remember_report(header, now) if me["role"] == "box" else 0
    return {"sender": peer.name, "peer_id": peer.id, "already": False,
            "applied": merger.applied, "unchanged": merger.unchanged,
            "blobs": len(verified), "refused": merger.kept.refused,
            "for_later": merger.kept.for_later, "hub_reports": reported}


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


def waiting(peer):
    """How many changed records have not been acknowledged by the peer yet."""
    if peer is None:
        return 0
    return sum(model.select().where(model.seq > peer.acked_upto).count()
               for model in records.TABLES.values())
