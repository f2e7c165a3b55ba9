"""A box's history as the hub follows it, and the acknowledgements of each bundle.

A box's bundles form one line through `previous`, within one epoch; a restore from a
backup starts a new epoch that names the one it continues. Two boxes sharing one identity
(a copied SD card) show as a fork, or as an old epoch coming back: refused, never merged.
See docs/sync-format.md, *History* and *Acknowledgements*.
"""

import json

from models import Counter, Peer, PeerBlob, Quarantined, ReceivedBundle, Setting
from piratebox.i18n import N_
from piratebox.sync import records
from piratebox.sync.bundle import BundleRefused


class CloneRefused(BundleRefused):
    """Two boxes with one identity: refused, never merged."""


RESTORED_ELSEWHERE = N_("{name} was restored from a backup since this bundle's box last "
                        "synced: two boxes now claim to be {name}. Refused; keep one and "
                        "enrol the other as a new box.")


def check(peer, header):
    """Hub: the box's bundles must form one line. Two boxes sharing one identity (a copied
    SD card) show as a fork, or as an old epoch coming back after a restore."""
    if peer.box_id and peer.box_id != header.sender_id:
        raise CloneRefused(N_("This enrolment already belongs to box {box}; a second box "
                              "cannot use it. Enrol the new box separately."), box=peer.box_id)
    epoch, parent, previous = header.sender_epoch, header.sender_parent_epoch, header.previous
    if epoch is None:
        raise BundleRefused(N_("This bundle does not name its history epoch."))
    if epoch in json.loads(peer.retired_epochs):
        raise CloneRefused(RESTORED_ELSEWHERE, name=peer.name)
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
        raise CloneRefused(RESTORED_ELSEWHERE, name=peer.name)
    return epoch, parent


# What an enrolment knows of the box it names: the box's history as the hub follows it.
CARRIED_OVER = ("box_id", "epoch", "retired_epochs", "acked_upto", "received_upto",
                "resend_upto", "sent_upto", "last_received", "wants")


def take_over(peer, header):
    """Hub: the first bundle of an enrolment comes from a box that an earlier enrolment
    names (the hub revoked it and enrolled the village again, or the box was restored
    without its keys). It is the same box continuing: the new enrolment takes the earlier
    one's history, so nothing is sent twice and a copied card is still told apart, and the
    earlier enrolment goes, with its key. Returns the peer to go on with."""
    earlier = Peer.get_or_none((Peer.role == "box") & (Peer.box_id == header.sender_id)
                               & (Peer.id != peer.id))
    if earlier is None:
        return peer
    for name in CARRIED_OVER:
        setattr(peer, name, getattr(earlier, name))
    peer.save()
    for model in records.TABLES.values():
        model.update(via=peer.id).where(model.via == earlier.id).execute()
    for model in (PeerBlob, ReceivedBundle, Quarantined):
        model.update(peer_id=peer.id).where(model.peer_id == earlier.id).execute()
    earlier.delete_instance()
    return peer


def acknowledge(peer, header, epochs, me, now):
    """Record an applied bundle: what it acknowledges of ours, how far it took us in the
    sender's changes, and its id (a second import of it is then a no-op)."""
    epoch, parent = epochs
    ack = min(header.ack, Counter.current("seq"))
    if me["role"] == "hub" and epoch != peer.epoch and parent:
        # A restored box: it has what its backup had. Start again from what it says, send
        # it again what it delivered since (its own records and photos too), and never
        # again accept the history it replaced.
        retired = json.loads(peer.retired_epochs) + [parent]
        peer.retired_epochs = json.dumps(sorted(set(retired)))
        peer.acked_upto, peer.received_upto = ack, header.upto
        peer.resend_upto = Counter.current("seq")
        PeerBlob.delete().where(PeerBlob.peer_id == peer.id).execute()
    elif not _before_our_restore(me, header):
        peer.acked_upto = max(peer.acked_upto, ack)
        peer.received_upto = max(peer.received_upto, header.upto)
    if me["role"] == "hub":
        peer.box_id, peer.epoch = header.sender_id, epoch
        peer.last_received = header.bundle_id
    peer.last_import_at = now
    peer.save()
    ReceivedBundle.create(bundle_id=header.bundle_id, peer_id=peer.id,
                          epoch=epoch or header.sender_epoch or "-",
                          previous=header.previous, imported_at=now)


def _before_our_restore(me, header):
    """Box: was this bundle written before the hub heard of this box's restore? Its records
    are good; its acknowledgements speak of the history the restore replaced, and counting
    them would lose what the backup missed and the changes made here since."""
    return me["role"] == "box" and header.recipient_epoch not in (
        None, Setting.get_value("sync_epoch"))
