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
from piratebox.i18n import N_
from piratebox.sync import engine, enrolment
from piratebox.sync.bundle import BundleRefused
from piratebox.sync.enrolment import STICK_FOLDER, SyncError, hub_peer


def stick_folder(stick):
    folder = Path(stick) / STICK_FOLDER
    if not folder.is_dir():
        raise SyncError(N_("No {folder}/ folder on {stick}: is it the sync stick? Create the "
                           "folder to use a new stick."), folder=STICK_FOLDER, stick=stick)
    return folder


def sync(data_dir, config, clock, stick, say=print):
    """Both directions with a mounted stick; returns the one-line summary.

    Raises SyncError saying what needs the mediator after doing everything that could be done.
    """
    folder = stick_folder(stick)
    me = box.identity()
    if me["role"] == "box" and hub_peer() is None:
        summary = _offer_enrolment(folder, me)
        remember_summary(summary, clock, stick)
        return summary
    troubles, lines, keys = [], [], []
    if me["role"] == "box" and enrolment.remove_used(folder, Setting.get_value("enrolment_id")):
        keys.append("this box's enrolment key taken off the stick")
    senders = []
    incoming = sorted(folder.glob(engine.bundle_name("*", me["id"])))
    for number, path in enumerate(incoming, 1):
        say(f"[{number}/{len(incoming)}] importing {path.name}")
        try:
            result = engine.import_bundle(path, data_dir, config, clock)
        except BundleRefused as error:
            troubles.append(f"{path.name}: {error.message}")
            continue
        except Exception as error:  # noqa: BLE001 - one bad file must not stop the round
            troubles.append(f"{path.name}: could not be read ({type(error).__name__}: "
                            f"{error}); nothing of it was applied")
            continue
        senders.append(result["peer_id"])
        lines.append(describe(result))
        troubles += attention(result)
        if me["role"] == "hub" and enrolment.remove_used(folder, result["peer_id"]):
            keys.append(f"enrolment key of {result['sender']} taken off the stick")
    if me["role"] == "box":
        targets = [hub_peer()]
    else:
        targets = list(Peer.select().where((Peer.id.in_(senders)) & (Peer.status == "active")
                                           & Peer.box_id.is_null(False)))
    for peer in targets:
        say(f"exporting for {peer.name}")
        path, manifest = engine.export(data_dir, config, clock, peer, folder,
                                       progress=lambda n, total: say(f"  blob {n}/{total}"))
        lines.append(f"sent {manifest['record_count']} records to {peer.name} "
                     f"({len(manifest['members']) - 1} photos/files)")
    if config["SYNC_BACKUP"]:
        lines.append(_refresh_backup(data_dir, clock, stick, say))
    summary = "; ".join(lines + keys) or "nothing to exchange"
    remember_summary(summary if not troubles else f"{summary}; REFUSED: {len(troubles)}",
                     clock, stick)
    if troubles:
        raise SyncError(N_("{summary}. Refused: {refusals}"), summary=summary,
                        refusals=" | ".join(troubles))
    return summary


def _offer_enrolment(folder, me):
    waiting = enrolment.offer(folder)
    if not waiting:
        raise SyncError(N_("This box is not enrolled with a hub yet, and the stick holds "
                           "no enrolment file (piratebox hub enrol, at the hub)."))
    if len(waiting) == 1 and enrolment.made_for_this_box(waiting[0]):
        return (f"Enrolment from hub {waiting[0]['hub_name']} waiting: confirm it on the admin "
                "page (Sync), then sync again.")
    return (f"enrolment files on the stick: {len(waiting)}, none made for {me['name']}: "
            "choose this box's on the admin page (Sync), then sync again.")


def describe(result):
    if result["already"]:
        return f"bundle from {result['sender']} already imported"
    text = (f"received from {result['sender']}: {result['applied']} new or changed, "
            f"{result['unchanged']} unchanged, {result['blobs']} photos/files")
    if result["refused"] or result["for_later"]:
        text += f", {result['refused'] + result['for_later']} set aside (see the sync page)"
    return text


def attention(result):
    """What in an import's result needs the mediator."""
    troubles = []
    if result["refused"]:
        troubles.append(f"{result['refused']} records from {result['sender']} set aside: "
                        "they break the rules (see the sync page)")
    if result["hub_reports"]:
        troubles.append(f"the hub set aside {result['hub_reports']} more records of this box "
                        "(see the sync page)")
    return troubles


def _refresh_backup(data_dir, clock, stick, say):
    from piratebox import backup

    if not backup.room_for(data_dir, stick):
        return "no room on the stick for a backup"
    try:
        manifest = backup.backup(data_dir, stick, clock.now(), say=say)
    except backup.BackupError as error:
        return f"backup failed: {error.message}"
    return f"backup refreshed ({manifest['blobs_written']} new photos/files)"


def remember_summary(summary, clock, stick=None):
    Setting.put("last_sync", json.dumps({"at": clock.now(), "summary": summary,
                                         "stick": str(stick) if stick else None}))


def last_sync():
    raw = Setting.get_value("last_sync")
    return json.loads(raw) if raw else None
