"""`piratebox check`: the database's integrity, and every record's photos and files there
with the right content; `check --repair` deals with what is not.

Repair never writes a record born elsewhere: another village's object (at a hub, any
box's record) keeps its state, and its missing photos or file are asked for at the next
sync (each bundle says what its sender lacks, see sync/engine.py), so they come back.
This box's own records whose photos the hub holds wait for them the same way. Only what
nobody can give back is taken off its record (a shared file whose content is gone is
deleted), and said; damaged blobs and files no record knows are removed.
"""

import json

from models import Blob, BlobUse, Item, Setting, SharedFile, Tally, db
from piratebox import box
from piratebox.blobs import BlobStore
from piratebox.i18n import N_, Message, print_progress

MODELS = (Item, Tally, SharedFile)


def check(data_dir, repair=False, say=print_progress):
    """Returns the problems found (messages); with `repair`, deals with them."""
    from piratebox.database import is_postgres

    problems = []
    if not is_postgres():  # PostgreSQL checks its own pages; amcheck is the DBA's tool
        result = db.execute_sql("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            problems.append(Message(N_("database: {result} (restore from a backup)"),
                                    result=result))
    store = BlobStore(data_dir)
    bad = set()
    rows = list(Blob.select(Blob.hash).tuples())
    for number, (digest,) in enumerate(rows, 1):
        if not store.verify(digest):
            bad.add(digest)
            problems.append(Message(N_("blob {digest}… missing or damaged"),
                                    digest=digest[:12]))
        if number % 200 == 0 or number == len(rows):
            say(Message(N_("checked {number}/{total} blobs"), number=number, total=len(rows)))
    waiting, lost = _records_lacking({digest for (digest,) in rows} - bad)
    problems += [Message(N_("{what} lacks a photo or its content: it is asked for at the next "
                            "sync"), what=what) for what, _record in waiting]
    problems += [Message(N_("{what} lacks a photo or its content, and nobody can give it "
                            "back"), what=what) for what, _record in lost]
    known = {digest for (digest,) in rows}
    orphans = [path for path in data_dir.blobs.glob("*/*") if path.name not in known]
    problems += [Message(N_("file blobs/{folder}/{name}… is in no record"),
                         folder=path.parent.name, name=path.name[:12]) for path in orphans]
    if repair:
        _repair(bad, lost, orphans, store, say)
    return problems


def _records_lacking(good):
    """([(what, record)] whose blobs will come back at the next sync, [(what, record)]
    whose blobs nobody can give back)."""
    from piratebox.sync import engine, enrolment

    me = box.identity()
    hub = enrolment.hub_peer() if enrolment.enrolled() else None
    lacking = {}
    for digest, record_id in BlobUse.select(BlobUse.hash, BlobUse.record_id).tuples():
        if digest not in good:
            lacking.setdefault(record_id, set()).add(digest)
    waiting, lost = [], []
    for model in MODELS:
        for record in model.live().where(model.id.in_(list(lacking))):
            if isinstance(record, SharedFile) and record.origin != me["id"] \
                    and not record.network:
                continue  # another box's file kept in its village: its content never came
            what = _what(record)
            hub_has = hub is not None and engine.peer_has(hub, lacking[record.id]) \
                == lacking[record.id]
            (waiting if record.origin != me["id"] or hub_has else lost).append(
                (what, record))
    return waiting, lost


def _what(record):
    if isinstance(record, Item):
        return Message(N_("object {title!r}"), title=record.title)
    if isinstance(record, Tally):
        return Message(N_("tally of the week of {week}"), week=record.week_of)
    return Message(N_("shared file {name!r}"), name=record.name)


def _repair(bad, lost, orphans, store, say):
    actor_id, now = box.identity()["id"], float(Setting.get_value("clock_floor", 0))
    with db.atomic():
        for digest in bad:
            Blob.delete().where(Blob.hash == digest).execute()
            store.path(digest).unlink(missing_ok=True)
        for what, record in lost:  # this box's own: nobody else writes them
            if isinstance(record, SharedFile):
                record.tombstone(actor_id, now)
            else:
                kept = [photo for photo in record.photo_list()
                        if store.exists(photo.get("full", "")) and store.exists(
                            photo.get("thumb", ""))]
                record.photos = json.dumps(kept)
                record.save_change(actor_id, now)
            say(Message(N_("lost: {what}"), what=what))
    for path in orphans:
        path.unlink(missing_ok=True)
