"""The rules of the file share: add, list, count, hide, delete, expire.

A file is a `SharedFile` record (name, folder, size, the hash of its content) plus a blob.
The blob is moved into the store before the record is written, so a power cut leaves at
worst an unreferenced blob; once the record's tombstone is committed the store collects
it, unless another live record shares it, so deleting a file gives its space back.
"""

from peewee import JOIN, fn

from models import FileDownload, SharedFile, db, fold
from piratebox import moderation, ownership
from piratebox.files import names

DAY = 24 * 3600
PAGE_SIZE = 50
SORTS = {
    "date": lambda: (SharedFile.created_at.desc(),),
    "name": lambda: (fn.LOWER(SharedFile.name), SharedFile.created_at.desc()),
    "size": lambda: (SharedFile.size.desc(),),
    "downloads": lambda: (fn.COALESCE(FileDownload.count, 0).desc(),
                          SharedFile.created_at.desc()),
}
BLOB_KIND = "file"


def add(spool, raw_name, folder, actor, expire_days=0):
    """Keep one uploaded file; returns (record, the private delete token to show once)."""
    spool.finish()
    record = SharedFile(
        name=raw_name, folder=folder or "", blob=spool.digest, size=spool.size,
        media_type=names.sniff(spool.head),
        expires_at=actor.now + expire_days * DAY if expire_days else None,
    )
    with actor.blobs.keeping(), db.atomic():
        actor.blobs.adopt(spool.path, spool.digest, spool.size, BLOB_KIND, actor.now)
        spool.adopted = True
        actor.save(record)
        token = ownership.give(record.id)
    return record, token


def browse(filters, page, now):
    """The visible files matching a search, a folder and a sort; returns (rows, total)."""
    query = SharedFile.listed(now)
    for word in fold(filters.get("q", "")).split():
        query = query.where(SharedFile.search_text.contains(word))
    if filters.get("folder"):
        query = query.where(SharedFile.folder == filters["folder"])
    total = query.count()
    order = SORTS.get(filters.get("sort"), SORTS["date"])()
    rows = (query.select(SharedFile, fn.COALESCE(FileDownload.count, 0).alias("downloads"))
            .join(FileDownload, JOIN.LEFT_OUTER, on=(FileDownload.file_id == SharedFile.id))
            .order_by(*order).paginate(page, PAGE_SIZE).objects())
    return list(rows), total


def folders(now):
    query = (SharedFile.listed(now).select(SharedFile.folder).where(SharedFile.folder != "")
             .distinct().order_by(SharedFile.folder))
    return [row.folder for row in query]


def downloads_of(file_id):
    row = FileDownload.get_or_none(FileDownload.file_id == file_id)
    return row.count if row else 0


def count_download(file_id):
    FileDownload.insert(file_id=file_id, count=1).on_conflict(
        conflict_target=[FileDownload.file_id],
        update={FileDownload.count: FileDownload.count + 1},
    ).execute()


def set_flag(record, flag, value, actor):
    """The mediator marks a file to travel to the network, or to stay here."""
    setattr(record, flag, value)
    return actor.save(record)


def delete(record, actor):
    """Its uploader's or the mediator's deletion: a decision of moderation for the mediator
    (another village's file is then hidden here only, see moderation.decide)."""
    with db.atomic():
        moderation.decide(record, "delete", actor)
        ownership.forget(record.id)
    actor.blobs.collect()


def expire_due(actor):
    """Delete this box's files whose time is up (automatic expiry, off by default)."""
    due = list(SharedFile.live().where((SharedFile.origin == actor.box_id)
                                       & (SharedFile.expires_at <= actor.now)))
    for record in due:
        delete(record, actor)
    return len(due)
