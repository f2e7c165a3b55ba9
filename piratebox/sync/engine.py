"""Sync between a box and its hub: enrol, export, import, and `sync` with a stick.

See docs/sync.md for the story and docs/sync-format.md for the file. Everything here is
plain functions over the open database, so the CLI, the admin page and the tests call
the same code.
"""

import json
import re
from pathlib import Path

from models import Counter, Peer, ReceivedBundle, Setting, SharedFile, db, new_id
from piratebox import box
from piratebox.blobs import BlobStore
from piratebox.database import exclusive
from piratebox.errors import PirateboxError
from piratebox.i18n import N_, english, print_progress
from piratebox.storage import atomic_write
from piratebox.sync import bundle, records
from piratebox.sync.bundle import BundleRefused

STICK_FOLDER = "cocote"
ENROLMENT_FORMAT = "cocote-enrolment"
ID = re.compile(r"^[a-z2-7]{26}$")
MB = 1024 * 1024
MERGE_BATCH = 500  # records read from a bundle before they are merged together


class SyncError(PirateboxError):
    status = 400


class CloneRefused(BundleRefused):
    """Two boxes with one identity: refused, never merged."""


def stick_folder(stick):
    folder = Path(stick) / STICK_FOLDER
    if not folder.is_dir():
        raise SyncError(N_("No {folder}/ folder on {stick}: is it the sync stick? Create the "
                           "folder to use a new stick."), folder=STICK_FOLDER, stick=stick)
    return folder


def bundle_name(sender, recipient):
    return f"{sender}-to-{recipient}{bundle.SUFFIX}"


# --- enrolment ------------------------------------------------------------------------------

def enrol(name, stick, now, commune=""):
    """Hub: make a place for a new box and write its enrolment file on the stick."""
    me = box.identity()
    if me["role"] != "hub":
        raise SyncError(N_("Only a hub enrols boxes."))
    folder = Path(stick) / STICK_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    peer = Peer.create(id=new_id(), role="box", name=name[:120], commune=(commune or name)[:120],
                       key=bundle.new_key(), created_at=now)
    document = {"format": ENROLMENT_FORMAT, "version": "1.0", "hub_id": me["id"],
                "hub_name": me["name"], "enrolment_id": peer.id, "box_name": name,
                "key": peer.key}
    path = folder / f"enrol-{peer.id}.json"
    try:
        atomic_write(path, json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8"))
    except OSError as error:
        peer.delete_instance()
        raise SyncError(N_("Could not write {path}: {error}."), path=path,
                        error=error.strerror or error) from None
    return peer, path


def read_enrolment(path):
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    valid = (isinstance(document, dict) and document.get("format") == ENROLMENT_FORMAT
             and all(isinstance(document.get(k), str) and ID.match(document[k])
                     for k in ("hub_id", "enrolment_id"))
             and isinstance(document.get("key"), str)
             and re.fullmatch(r"[0-9a-f]{64}", document["key"])
             and isinstance(document.get("hub_name"), str))
    return document if valid else None


def hub_peer():
    return Peer.get_or_none(Peer.role == "hub")


def offer_enrolment(folder):
    """Box: keep the first valid enrolment on the stick for the mediator to confirm."""
    for path in sorted(folder.glob("enrol-*.json")):
        document = read_enrolment(path)
        if document:
            Setting.put("pending_enrolment", json.dumps(document))
            return document
    return None


def pending_enrolment():
    raw = Setting.get_value("pending_enrolment")
    return json.loads(raw) if raw else None


def confirm_enrolment(now):
    """Box: the mediator accepted the hub named in the pending enrolment."""
    document = pending_enrolment()
    if document is None or hub_peer() is not None:
        raise SyncError(N_("There is no enrolment waiting."))
    with db.atomic():
        Peer.create(id=document["hub_id"], role="hub", name=document["hub_name"][:120],
                    key=document["key"], created_at=now)
        Setting.put("enrolment_id", document["enrolment_id"])
        Setting.put("pending_enrolment", "")
        if not Setting.get_value("sync_epoch"):
            Setting.put("sync_epoch", new_id())
    return document


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
            # A box gets back its own records (the hub's decisions, a restore), the offers
            # and files other villages showed to the network, and the hub's own events.
            own = model.origin == peer.box_id
            if model is records.TABLES["item"] or model is SharedFile:
                query = query.where(own | (model.network == True))  # noqa: E712
            elif model is records.TABLES["event"]:
                query = query.where(own | (model.origin == me["id"]))
            else:
                query = query.where(own)
        yield query


def changes_for(me, peer, blobs, config):
    """Records and blobs to send, oldest change first, within one bundle's size."""
    upto = Counter.current("seq")
    changed = sorted((row for query in _selection(me, peer, upto) for row in query),
                     key=lambda row: row.seq)
    budget = config["SYNC_MAX_BUNDLE_MB"] * MB
    file_limit = config["SYNC_FILE_MAX_MB"] * MB
    chosen, needed, size = [], {}, 0
    for row in changed:
        wanted = dict(records.photo_hashes(row))
        if isinstance(row, SharedFile) and row.network and row.size <= file_limit:
            wanted[row.blob] = "file"
        if isinstance(row, SharedFile) and row.blob not in wanted and me["role"] == "hub" \
                and row.origin != peer.box_id:
            continue  # a file without its content is of no use to another village
        extra = {digest: blobs.path(digest) for digest in wanted
                 if digest not in needed and blobs.exists(digest)}
        extra_size = sum(path.stat().st_size for path in extra.values())
        if chosen and size + extra_size > budget:
            upto = chosen[-1].seq  # the rest goes in the next bundle
            break
        chosen.append(row)
        needed.update(extra)
        size += extra_size
    return chosen, needed, upto


def export(data_dir, config, clock, peer, folder, progress=None):
    """Write this box's bundle for `peer` into `folder`; returns (path, manifest)."""
    me = box.identity()
    recipient, enrolment = _addressing(me, peer)
    if not recipient:
        raise SyncError(N_("{name} has never sent a bundle: nothing can be addressed to it "
                           "yet."), name=peer.name)
    blobs = BlobStore(data_dir)
    with db.atomic():  # one consistent view of the records and the counters
        rows, needed, upto = changes_for(me, peer, blobs, config)
        bundle_id = new_id()
        manifest = {
            "format": bundle.FORMAT, "version": f"{bundle.MAJOR}.{bundle.MINOR}",
            "bundle_id": bundle_id,
            "previous": (Setting.get_value("last_bundle_id") or None) if me["role"] == "box"
            else None,
            "sender": {"id": me["id"], "role": me["role"], "name": me["name"],
                       "epoch": Setting.get_value("sync_epoch") or me["id"],
                       "parent_epoch": Setting.get_value("sync_parent_epoch") or None},
            "recipient": recipient, "enrolment": enrolment,
            "created_at": clock.now(), "upto": upto, "ack": peer.received_upto,
        }
    path = Path(folder) / bundle_name(me["id"], recipient)
    manifest = bundle.write(path, manifest, peer.key, (records.state_of(r) for r in rows),
                            needed, progress)
    with db.atomic():
        if me["role"] == "box":
            Setting.put("last_bundle_id", bundle_id)
        Peer.update(last_export_at=clock.now()).where(Peer.id == peer.id).execute()
    return path, manifest


# --- import ---------------------------------------------------------------------------------

def _peer_for(me, manifest):
    sender = manifest.get("sender") if isinstance(manifest.get("sender"), dict) else {}
    sender_id = sender.get("id")
    if manifest.get("recipient") != me["id"]:
        raise BundleRefused(N_("This bundle is addressed to another box ({recipient}), not to "
                               "this one."), recipient=str(manifest.get("recipient"))[:40])
    if not isinstance(sender_id, str) or not ID.match(sender_id):
        raise BundleRefused(N_("This bundle does not say who sent it."))
    if me["role"] == "hub":
        peer = Peer.get_or_none((Peer.id == manifest.get("enrolment")) & (Peer.role == "box"))
    else:
        peer = Peer.get_or_none((Peer.id == sender_id) & (Peer.role == "hub"))
    if peer is None:
        raise BundleRefused(N_("This bundle comes from a box this one does not know: enrol it "
                               "first (piratebox hub enrol)."))
    if peer.status == "revoked":
        raise BundleRefused(N_("{name} was revoked at the hub: its bundles are refused."),
                            name=peer.name)
    return peer, sender


def _check_history(peer, manifest, sender):
    """Hub: the box's bundles must form one line. Two boxes sharing one identity (a copied
    SD card) show as a fork, or as an old epoch coming back after a restore."""
    if peer.box_id and peer.box_id != sender["id"]:
        raise CloneRefused(N_("This enrolment already belongs to box {box}; a second box "
                              "cannot use it. Enrol the new box separately."), box=peer.box_id)
    epoch, parent = sender.get("epoch"), sender.get("parent_epoch")
    if not isinstance(epoch, str) or not ID.match(epoch):
        raise BundleRefused(N_("This bundle does not name its history epoch."))
    retired = json.loads(peer.retired_epochs)
    restored_elsewhere = N_("{name} was restored from a backup since this bundle's box last "
                            "synced: two boxes now claim to be {name}. Refused; keep one and "
                            "enrol the other as a new box.")
    if epoch in retired:
        raise CloneRefused(restored_elsewhere, name=peer.name)
    previous = manifest.get("previous")
    if previous is not None and not (isinstance(previous, str) and ID.match(previous)):
        raise BundleRefused(N_("This bundle names its predecessor wrongly."))
    if peer.epoch == epoch:
        siblings = ReceivedBundle.select().where(
            (ReceivedBundle.peer_id == peer.id) & (ReceivedBundle.epoch == epoch)
            & (ReceivedBundle.previous.is_null() if previous is None
               else ReceivedBundle.previous == previous))
        if siblings.exists():
            raise CloneRefused(N_("{name} sent two different bundles following the same one: "
                                  "two boxes are using one identity (a copied SD card?). "
                                  "Refused, nothing merged; keep one box and enrol the other "
                                  "as a new box."), name=peer.name)
    elif peer.epoch is not None and parent != peer.epoch:
        # a new epoch must continue the current one: a restore of a restore is fine, two
        # restores of one backup (or an old card) are two boxes
        raise CloneRefused(restored_elsewhere, name=peer.name)
    return epoch, parent


def import_bundle(path, data_dir, config, clock, shown_as=None):
    """Verify a bundle completely, then apply it in one transaction; returns a summary.
    `shown_as`: the name a refusal gives the file (the one the mediator chose)."""
    me = box.identity()
    scratch = data_dir.scratch()
    with bundle.Bundle(path, config["SYNC_MAX_BUNDLE_MB"] * MB, shown_as) as opened:
        manifest = opened.manifest
        peer, sender = _peer_for(me, manifest)
        opened.authenticate(peer.key)
        bundle_id = manifest.get("bundle_id")
        if not isinstance(bundle_id, str) or not ID.match(bundle_id):
            raise BundleRefused(N_("This bundle has no valid id."))
        if ReceivedBundle.get_or_none(ReceivedBundle.bundle_id == bundle_id):
            return _already(peer)  # the fast answer to a second import
        if me["role"] == "hub":
            _check_history(peer, manifest, sender)  # refuse early, before the hashing
        upto, ack = manifest.get("upto"), manifest.get("ack")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                   for v in (upto, ack)):
            raise BundleRefused(N_("This bundle's acknowledgements are not valid."))
        verified = opened.verify(scratch)
        try:
            summary = _apply(opened, verified, data_dir, me, peer.id, manifest, clock)
        finally:
            for leftover in verified.values():
                leftover.unlink(missing_ok=True)
    created_at = manifest.get("created_at")
    if me["role"] == "box" and isinstance(created_at, (int, float)):
        summary["clock_moved"] = clock.correct(created_at, source=peer.name, only_forward=True)
    return summary


def _already(peer):
    return {"sender": peer.name, "peer_id": peer.id, "already": True, "applied": 0,
            "unchanged": 0, "skipped": 0, "blobs": 0}


def _apply(opened, verified, data_dir, me, peer_id, manifest, clock):
    blobs = BlobStore(data_dir)
    now = clock.now()
    kinds = {}
    for line in opened.records():  # first pass: what each blob is, before any record lands
        parsed = records.parse(line)
        if parsed:
            model, clean = parsed
            kinds.update(records.photo_hashes(model(**clean)))
            if model is SharedFile:
                kinds[clean["blob"]] = "file"
    applied = unchanged = skipped = 0
    with exclusive():
        # Another import may have run while this one was hashing: decide again, under the
        # lock, from what is committed now.
        peer = Peer.get_by_id(peer_id)
        if ReceivedBundle.get_or_none(ReceivedBundle.bundle_id == manifest["bundle_id"]):
            return _already(peer)
        epochs = (_check_history(peer, manifest, manifest["sender"]) if me["role"] == "hub"
                  else (None, None))
        for digest, temporary in verified.items():
            blobs.adopt(temporary, digest, temporary.stat().st_size,
                        kinds.get(digest, "photo"), now)
        waiting = {}  # model -> records, merged a batch at a time

        def flush():
            nonlocal applied, unchanged
            for model, cleans in waiting.items():
                done, same = records.merge(model, cleans, relay=me["role"] == "hub")
                applied, unchanged = applied + done, unchanged + same
            waiting.clear()

        for line in opened.records():
            parsed = records.parse(line)
            if parsed is None:
                skipped += 1
                continue
            waiting.setdefault(parsed[0], []).append(parsed[1])
            if sum(map(len, waiting.values())) >= MERGE_BATCH:
                flush()
        flush()
        _acknowledge(peer, manifest, epochs, me, now)
    return {"sender": peer.name, "peer_id": peer.id, "already": False, "applied": applied,
            "unchanged": unchanged, "skipped": skipped, "blobs": len(verified)}


def _acknowledge(peer, manifest, epochs, me, now):
    epoch, parent = epochs
    our_latest = Counter.current("seq")
    ack = min(manifest["ack"], our_latest)
    if me["role"] == "hub" and epoch != peer.epoch and parent:
        # A restored box: it has what its backup had. Start again from what it says, and
        # never again accept the history it replaced.
        retired = json.loads(peer.retired_epochs) + [parent]
        peer.retired_epochs = json.dumps(sorted(set(retired)))
        peer.acked_upto, peer.received_upto = ack, manifest["upto"]
    else:
        peer.acked_upto = max(peer.acked_upto, ack)
        peer.received_upto = max(peer.received_upto, manifest["upto"])
    if me["role"] == "hub":
        peer.box_id, peer.epoch = manifest["sender"]["id"], epoch
    peer.last_import_at = now
    peer.save()
    ReceivedBundle.create(bundle_id=manifest["bundle_id"], peer_id=peer.id,
                          epoch=epoch or manifest["sender"].get("epoch") or "-",
                          previous=manifest.get("previous"), imported_at=now)


def waiting(peer):
    """How many changed records have not been acknowledged by the peer yet."""
    if peer is None:
        return 0
    return sum(model.select().where(model.seq > peer.acked_upto).count()
               for model in records.TABLES.values())


# --- the stick ------------------------------------------------------------------------------

def sync(data_dir, config, clock, stick, say=print_progress, gettext=english):
    """Both directions with a mounted stick; returns the one-line summary.

    Raises SyncError listing the refusals after doing everything that could be done.
    """
    folder = stick_folder(stick)
    me = box.identity()
    refusals, lines = [], []
    if me["role"] == "box" and hub_peer() is None:
        document = offer_enrolment(folder)
        if document is None:
            raise SyncError(N_("This box is not enrolled with a hub yet, and the stick holds "
                               "no enrolment file (piratebox hub enrol, at the hub)."))
        summary = gettext("Enrolment from hub %(hub)s waiting: confirm it on the admin page "
                          "(Sync), then sync again.", hub=document["hub_name"])
        remember_summary(summary, clock, stick)
        return summary
    senders = []
    incoming = sorted(folder.glob(bundle_name("*", me["id"])))
    for number, path in enumerate(incoming, 1):
        say(N_("[%(number)d/%(total)d] importing %(name)s"), number=number,
            total=len(incoming), name=path.name)
        try:
            result = import_bundle(path, data_dir, config, clock)
        except BundleRefused as error:
            refusals.append(f"{path.name}: {error.localized(gettext)}")
            continue
        senders.append(result["peer_id"])
        lines.append(describe(result, gettext))
    if me["role"] == "box":
        targets = [hub_peer()]
    else:
        targets = list(Peer.select().where((Peer.id.in_(senders)) & (Peer.status == "active")
                                           & Peer.box_id.is_null(False)))
    for peer in targets:
        say(N_("exporting for %(name)s"), name=peer.name)
        path, manifest = export(
            data_dir, config, clock, peer, folder,
            progress=lambda n, total: say(N_("  photo or file %(n)d/%(total)d"), n=n,
                                          total=total))
        lines.append(gettext("sent %(records)d records to %(name)s",
                             records=manifest["record_count"], name=peer.name))
    if config["SYNC_BACKUP"]:
        lines.append(_refresh_backup(data_dir, clock, stick, say, gettext))
    summary = "; ".join(lines) or gettext("nothing to exchange")
    refused = gettext("%(summary)s; refused: %(count)d", summary=summary,
                      count=len(refusals))
    remember_summary(refused if refusals else summary, clock, stick)
    if refusals:
        raise SyncError(N_("{summary}. Refused: {refusals}"), summary=summary,
                        refusals=" | ".join(refusals))
    return summary


def _refresh_backup(data_dir, clock, stick, say, gettext):
    from piratebox import backup

    if not backup.room_for(data_dir, stick):
        return gettext("no room on the stick for a backup")
    try:
        manifest = backup.backup(data_dir, stick, clock.now(), say=say)
    except backup.BackupError as error:
        return gettext("backup failed: %(reason)s", reason=error.localized(gettext))
    return gettext("backup refreshed (%(new)d new photos and files)",
                   new=manifest["blobs_written"])


def describe(result, gettext=english):
    if result["already"]:
        return gettext("bundle from %(sender)s already imported", sender=result["sender"])
    return gettext("received from %(sender)s: %(applied)d new or changed, %(unchanged)d "
                   "unchanged, %(blobs)d photos and files", sender=result["sender"],
                   applied=result["applied"], unchanged=result["unchanged"],
                   blobs=result["blobs"])



def remember_summary(summary, clock, stick=None):
    Setting.put("last_sync", json.dumps({"at": clock.now(), "summary": summary,
                                         "stick": str(stick) if stick else None}))


def last_sync():
    raw = Setting.get_value("last_sync")
    return json.loads(raw) if raw else None
