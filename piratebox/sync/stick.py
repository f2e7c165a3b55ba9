"""`piratebox sync STICK`: the whole round trip with the mediator's stick.

Import every bundle addressed to this box, one by one (a refused one is told and the
others go on), write this box's bundle(s), take enrolment keys in use off the stick, and
keep a one-line summary for the sync page. What needs the mediator (a refused bundle,
records set aside) makes the command end with a clear message and a non-zero status,
after everything that could be done was done.
"""

import json
from pathlib import Path

from models import Peer, Setting
from piratebox import box
from piratebox.i18n import N_, english, print_progress
from piratebox.sync import engine, enrolment
from piratebox.sync.bundle import BundleRefused
from piratebox.sync.enrolment import STICK_FOLDER, SyncError, hub_peer


def stick_folder(stick):
    folder = Path(stick) / STICK_FOLDER
    if not folder.is_dir():
        raise SyncError(N_("No {folder}/ folder on {stick}: is it the sync stick? Create the "
                           "folder to use a new stick."), folder=STICK_FOLDER, stick=stick)
    return folder


def sync(data_dir, config, clock, stick, say=print_progress, gettext=english):
    """Both directions with a mounted stick; returns the one-line summary, in the language
    of `gettext` (the command line's: it is what the sync page shows too).

    Raises SyncError saying what needs the mediator after doing everything that could be done.
    """
    folder = stick_folder(stick)
    me = box.identity()
    if me["role"] == "box" and hub_peer() is None:
        summary = _offer_enrolment(folder, me, gettext)
        remember_summary(summary, clock, stick)
        return summary
    troubles, lines, keys = [], [], []
    if me["role"] == "box" and enrolment.remove_used(folder, Setting.get_value("enrolment_id")):
        keys.append(gettext("this box's enrolment key taken off the stick"))
    senders = []
    incoming = sorted(folder.glob(engine.bundle_name("*", me["id"])))
    for number, path in enumerate(incoming, 1):
        say(N_("[%(number)d/%(total)d] importing %(name)s"), number=number,
            total=len(incoming), name=path.name)
        try:
            result = engine.import_bundle(path, data_dir, config, clock)
        except BundleRefused as error:
            troubles.append(f"{path.name}: {error.localized(gettext)}")
            continue
        except Exception as error:  # noqa: BLE001 - one bad file must not stop the round
            troubles.append(gettext("%(name)s: could not be read (%(error)s); nothing of it "
                                    "was applied", name=path.name,
                                    error=f"{type(error).__name__}: {error}"))
            continue
        senders.append(result["peer_id"])
        lines.append(describe(result, gettext))
        troubles += attention(result, gettext)
        if me["role"] == "hub" and enrolment.remove_used(folder, result["peer_id"]):
            keys.append(gettext("enrolment key of %(sender)s taken off the stick",
                                sender=result["sender"]))
    if me["role"] == "box":
        targets = [hub_peer()]
    else:
        targets = list(Peer.select().where((Peer.id.in_(senders)) & (Peer.status == "active")
                                           & Peer.box_id.is_null(False)))
    for peer in targets:
        say(N_("exporting for %(name)s"), name=peer.name)
        path, manifest = engine.export(
            data_dir, config, clock, peer, folder,
            progress=lambda n, total: say(N_("  photo or file %(n)d/%(total)d"), n=n,
                                          total=total))
        lines.append(gettext("sent %(records)d records to %(name)s (%(blobs)d photos and "
                             "files)", records=manifest["record_count"], name=peer.name,
                             blobs=len(manifest["members"]) - 1))
    if config["SYNC_BACKUP"]:
        lines.append(_refresh_backup(data_dir, clock, stick, say, gettext))
    summary = "; ".join(lines + keys) or gettext("nothing to exchange")
    refused = gettext("%(summary)s; refused: %(count)d", summary=summary, count=len(troubles))
    remember_summary(refused if troubles else summary, clock, stick)
    if troubles:
        raise SyncError(N_("{summary}. Refused: {refusals}"), summary=summary,
                        refusals=" | ".join(troubles))
    return summary


def _offer_enrolment(folder, me, gettext):
    waiting = enrolment.offer(folder)
    if not waiting:
        raise SyncError(N_("This box is not enrolled with a hub yet, and the stick holds "
                           "no enrolment file (piratebox hub enrol, at the hub)."))
    if len(waiting) == 1 and enrolment.made_for_this_box(waiting[0]):
        return gettext("Enrolment from hub %(hub)s waiting: confirm it on the admin page "
                       "(Sync), then sync again.", hub=waiting[0]["hub_name"])
    return gettext("enrolment files on the stick: %(count)d, none made for %(name)s: choose "
                   "this box's on the admin page (Sync), then sync again.",
                   count=len(waiting), name=me["name"])


def describe(result, gettext=english):
    if result["already"]:
        return gettext("bundle from %(sender)s already imported", sender=result["sender"])
    text = gettext("received from %(sender)s: %(applied)d new or changed, %(unchanged)d "
                   "unchanged, %(blobs)d photos and files", sender=result["sender"],
                   applied=result["applied"], unchanged=result["unchanged"],
                   blobs=result["blobs"])
    if result["refused"] or result["for_later"]:
        text += gettext(", %(count)d set aside (see the sync page)",
                        count=result["refused"] + result["for_later"])
    return text


def attention(result, gettext=english):
    """What in an import's result needs the mediator."""
    troubles = []
    if result["refused"]:
        troubles.append(gettext("%(count)d records from %(sender)s set aside: they break the "
                                "rules (see the sync page)", count=result["refused"],
                                sender=result["sender"]))
    if result["hub_reports"]:
        troubles.append(gettext("the hub set aside %(count)d more records of this box (see "
                                "the sync page)", count=result["hub_reports"]))
    return troubles


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


def remember_summary(summary, clock, stick=None):
    Setting.put("last_sync", json.dumps({"at": clock.now(), "summary": summary,
                                         "stick": str(stick) if stick else None}))


def last_sync():
    raw = Setting.get_value("last_sync")
    return json.loads(raw) if raw else None
