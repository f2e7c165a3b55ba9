"""`piratebox sync STICK`: the whole round trip with the mediator's stick.

Import every bundle addressed to this box, one by one (a refused one is told and the
others go on), write this box's bundle(s), take enrolment keys in use off the stick, and
keep the stick clean: the unfinished files an interrupted sync of this box left, and the
bundles this box has imported once its answer (which acknowledges them) is written. What
it did and what needs the mediator are kept, as messages, for the sync page (a failure
too); the command ends with a non-zero status when something needs the mediator, after
everything that could be done was done.
"""

import contextlib
import fcntl
import json
import os
from pathlib import Path

from models import Peer, Setting
from piratebox import box
from piratebox.errors import PirateboxError
from piratebox.i18n import N_, Message, print_progress
from piratebox.sync import engine, enrolment
from piratebox.sync.bundle import BundleRefused
from piratebox.sync.enrolment import STICK_FOLDER, SyncError, hub_peer

REVOKED = N_("The hub refuses this box's bundles: its enrolment was revoked. Ask the hub "
             "for a new enrolment: the box offers it as soon as it finds it on the stick.")


class Report:
    """What a sync did (`lines`) and what needs the mediator (`troubles`), as messages."""

    def __init__(self):
        self.lines, self.troubles = [], []

    def said(self, translator):
        """The one-line summary, in the reader's language."""
        lines = [line.localized(translator) for line in self.lines]
        return "; ".join(lines) or Message(N_("nothing to exchange")).localized(translator)


def stick_folder(stick):
    folder = Path(stick) / STICK_FOLDER
    if not folder.is_dir():
        raise SyncError(N_("No {folder}/ folder on {stick}: is it the sync stick? Create the "
                           "folder to use a new stick."), folder=STICK_FOLDER, stick=stick)
    return folder


@contextlib.contextmanager
def one_at_a_time(data_dir):
    """One sync of a box at a time (the hotplug script and the mediator's command, say):
    each cleans up after its own interrupted runs, never after a running one."""
    data_dir.tmp.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir.sync_lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncError(N_("Another sync of this box is running: wait until it is "
                               "over.")) from None
        yield
    finally:
        os.close(fd)


def sync(here, stick, say=print_progress):
    """The box `here` syncs both directions with a mounted stick; returns the Report. A
    failure (a stick full or pulled out, a refusal of the whole sync) is kept for the sync
    page and raised."""
    folder, clock = stick_folder(stick), here.clock
    report = Report()
    try:
        with one_at_a_time(here.data_dir):
            _round(here, folder, stick, report, say)
    except PirateboxError as error:
        remember(report, clock, stick, failure=error.as_message())
        raise
    except OSError as error:  # the stick pulled out between two files, say
        failure = Message(N_("the stick could not be read or written ({error}); what was "
                             "done before is kept: plug it in again and sync again"),
                          error=error.strerror or str(error))
        remember(report, clock, stick, failure=failure)
        raise SyncError(N_("The sync stopped: {reason}."), reason=failure) from None
    remember(report, clock, stick)
    return report


def _round(here, folder, stick, report, say):
    me = box.identity()
    if me["role"] == "box" and not _enrolment(folder, me, report):
        return
    _clean_unfinished(folder, me, report)
    imported = _import_all(here, folder, me, report, say)
    if me["role"] == "box":
        targets = [hub_peer()]
    else:
        targets = list(Peer.select().where((Peer.id.in_(list(imported)))
                                           & (Peer.status == "active")
                                           & Peer.box_id.is_null(False)))
    done = []
    for peer in targets:
        say(Message(N_("writing the bundle for {name}"), name=peer.name))
        _path, manifest = engine.export(
            here, peer, folder, progress=lambda number, total: say(
                Message(N_("  photo or file {number}/{total}"), number=number, total=total)))
        report.lines.append(Message(
            N_("sent to {name} — records: {records}; photos and files: {blobs}"),
            name=peer.name, records=manifest["record_count"],
            blobs=len(manifest["members"]) - 1))
        done += imported.get(peer.id, [])
    for path in done:  # imported, and now acknowledged by the bundle just written
        path.unlink(missing_ok=True)
    if done:
        report.lines.append(Message(N_("bundles already imported taken off the stick: "
                                       "{count}"), count=len(done)))
    if here.config["SYNC_BACKUP"]:
        report.lines.append(_refresh_backup(here, stick, say))


def _enrolment(folder, me, report):
    """Box: what the stick offers for enrolment; False when the box cannot sync yet."""
    waiting = enrolment.offer(folder)
    for ignored in enrolment.ignored():
        enrolment.remove_used(folder, ignored)
    if enrolment.enrolled():
        if waiting:
            report.lines.append(Message(
                N_("a new enrolment for this box, from the hub {hub}, is on the stick: "
                   "confirm it on the sync page to replace the one in use"),
                hub=waiting[0]["hub_name"]))
        if enrolment.remove_used(folder, Setting.get_value("enrolment_id")):
            report.lines.append(Message(N_("this box's enrolment key taken off the stick")))
        return True
    if not waiting:
        raise SyncError(N_("This box is not enrolled with a hub yet, and the stick holds "
                           "no enrolment file made for it (piratebox hub enrol, at the "
                           "hub)."))
    if len(waiting) == 1 and enrolment.made_for_this_box(waiting[0]):
        report.lines.append(Message(
            N_("Enrolment from the hub {hub} waiting: confirm it on the sync page, then sync "
               "again."), hub=waiting[0]["hub_name"]))
    else:
        report.lines.append(Message(
            N_("enrolment files on the stick: {count}, none made for {name}: choose this "
               "box's on the sync page, then sync again."), count=len(waiting),
            name=me["name"]))
    return False


def _clean_unfinished(folder, me, report):
    """What an interrupted sync of this box left: bundles it began and never finished."""
    unfinished = list(folder.glob(f".{me['id']}-to-*.partial"))
    for path in unfinished:
        path.unlink(missing_ok=True)
    if unfinished:
        report.lines.append(Message(N_("unfinished files of an interrupted sync removed: "
                                       "{count}"), count=len(unfinished)))


def _import_all(here, folder, me, report, say):
    """Import each bundle addressed to this box; {peer id: [paths imported]}."""
    imported = {}
    incoming = sorted(folder.glob(engine.bundle_name("*", me["id"])))
    for number, path in enumerate(incoming, 1):
        say(Message(N_("[{number}/{total}] reading {file}"), number=number,
                    total=len(incoming), file=path.name))
        try:
            result = engine.import_bundle(path, here)
        except engine.Obsolete:
            path.unlink(missing_ok=True)  # for an enrolment this box replaced
            continue
        except engine.Revoked as refusal:
            report.troubles.append(Message("{file}: {reason}", file=path.name,
                                           reason=refusal.as_message()))
            engine.export_refusal(here.clock, refusal, folder)
            continue
        except BundleRefused as error:
            report.troubles.append(Message("{file}: {reason}", file=path.name,
                                           reason=error.as_message()))
            continue
        except Exception as error:  # noqa: BLE001 - one bad file must not stop the round
            report.troubles.append(Message(
                N_("{file}: could not be read ({error}); nothing of it was applied"),
                file=path.name, error=f"{type(error).__name__}: {error}"))
            continue
        imported.setdefault(result["peer_id"], []).append(path)
        report.lines.append(describe(result))
        report.troubles += attention(result)
        if me["role"] == "hub" and enrolment.remove_used(folder, result["peer_id"]):
            report.lines.append(Message(N_("enrolment key of {name} taken off the stick"),
                                        name=result["sender"]))
    return imported


def describe(result):
    """What one import did, as a message."""
    if result["already"]:
        return Message(N_("the bundle from {sender} was already imported: nothing new"),
                       sender=result["sender"])
    text = N_("received from {sender} — new or changed: {applied}; unchanged: {unchanged}; "
              "photos and files: {blobs}")
    if result["refused"] or result["for_later"]:
        text = N_("received from {sender} — new or changed: {applied}; unchanged: "
                  "{unchanged}; photos and files: {blobs}; set aside: {set_aside} (see the "
                  "sync page)")
    return Message(text, sender=result["sender"], applied=result["applied"],
                   unchanged=result["unchanged"], blobs=result["blobs"],
                   set_aside=result["refused"] + result["for_later"])


def attention(result):
    """What in an import's result needs the mediator, as messages."""
    troubles = []
    if result["refused"]:
        troubles.append(Message(N_("records from {sender} set aside because they break the "
                                   "rules: {count} (see the sync page)"),
                                sender=result["sender"], count=result["refused"]))
    if result["hub_reports"]:
        troubles.append(Message(N_("records of this box the hub newly set aside: {count} "
                                   "(see the sync page)"), count=result["hub_reports"]))
    if result.get("revoked"):
        troubles.append(Message(REVOKED))
    return troubles


def _refresh_backup(here, stick, say):
    from piratebox.backup import logic as backup

    if not backup.room_for(here.data_dir, stick):
        return Message(N_("no room on the stick for a backup"))
    try:
        manifest = backup.backup(here, stick, say=say)
    except backup.BackupError as error:
        return Message(N_("backup failed: {reason}"), reason=error.as_message())
    return backup.summary(manifest)


def remember(report, clock, stick=None, failure=None):
    """Keep what a sync (or an import on the sync page) did, for the sync page."""
    now = clock.now()
    Setting.put("last_sync", json.dumps({
        "at": now, "stick": str(stick) if stick else None,
        "lines": [line.to_json() for line in report.lines],
        "troubles": [trouble.to_json() for trouble in report.troubles],
        "failure": failure.to_json() if failure else None}, ensure_ascii=False))
    if failure is None:
        Setting.put("last_good_sync", repr(now))


def last_sync():
    """The last sync as the page shows it: {"at", "stick", "lines", "troubles", "failure"
    (messages), "last_good" (when the last one that did not fail ended)}, or None."""
    raw = Setting.get_value("last_sync")
    if not raw:
        return None
    kept = json.loads(raw)
    lines = kept.get("lines", [kept["summary"]] if "summary" in kept else [])
    good = Setting.get_value("last_good_sync")
    return {"at": kept["at"], "stick": kept.get("stick"),
            "lines": [Message.from_json(line) for line in lines],
            "troubles": [Message.from_json(line) for line in kept.get("troubles", [])],
            "failure": Message.from_json(kept["failure"]) if kept.get("failure") else None,
            "last_good": float(good) if good else None}
