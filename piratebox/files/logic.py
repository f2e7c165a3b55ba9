"""The rules of the file share: add, list, count, hide, delete, expire.

A file is a `SharedFile` record (name, folder, size, the hash of its content) plus a blob.
The blob is moved into the store before the record is written, so a power cut leaves at
worst an unreferenced blob; once the record's tombstone is committed the store collects
it, unless another live record shares it, so deleting a file gives its space back.
"""

from peewee import JOIN, SQL, fn

from models import (
    FileDownload,
    Narrow,
    Prepared,
    SharedFile,
    by_ids,
    contains_pattern,
    db,
    fold,
    id_slots,
    like_pattern,
    slot,
)
from piratebox import moderation, ownership
from piratebox.files import names

DAY = 24 * 3600
PAGE_SIZE = 50
MAX_WORDS = 8
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


def matching(words, in_folder):
    """The visible files (at the slot `now`) with so many search words, in a folder or not."""
    query = SharedFile.listed(slot("now"))
    for number in range(words):
        query = query.where(contains_pattern(SharedFile.search_text, slot(f"word{number}")))
    if in_folder:
        query = query.where(SharedFile.folder == slot("folder"))
    return query


def with_downloads(query, fields):
    return (query.select(*fields, fn.COALESCE(FileDownload.count, 0).alias("downloads"))
            .join(FileDownload, JOIN.LEFT_OUTER, on=(FileDownload.file_id == SharedFile.id)))


COUNT = Prepared(lambda *shape: matching(*shape).select(fn.COUNT(SQL("*"))))
# A page of the list is read narrow (NARROW_COLUMNS; its rows are kept, see
# pagecache.kept_rows), and only the files whose row is not kept are read whole.
NARROW_COLUMNS = ("id", "version", "downloads")
PAGE = Prepared(lambda sort, *shape: with_downloads(
    matching(*shape), SharedFile.id_and_version())
    .order_by(*SORTS[sort]()).limit(PAGE_SIZE).offset(slot("offset")))
WHOLE = Prepared(lambda count: with_downloads(SharedFile.select(), SharedFile.row_fields())
                 .where(SharedFile.id.in_(id_slots(count))))
FOLDERS = Prepared(lambda: SharedFile.listed(slot("now")).select(SharedFile.folder)
                   .where(SharedFile.folder != "").distinct().order_by(SharedFile.folder))
DOWNLOADS = Prepared(lambda: FileDownload.select(FileDownload.count)
                     .where(FileDownload.file_id == slot("file")))


def browse(filters, page, now):
    """The visible files matching a search, a folder and a sort; returns (a page of them
    read narrow, models.Narrow, and how many there are)."""
    words = fold(filters.get("q", "")).split()[:MAX_WORDS]
    shape = (len(words), bool(filters.get("folder")))
    values = {f"word{number}": like_pattern(word) for number, word in enumerate(words)}
    values.update(now=now, folder=filters.get("folder"))
    total = COUNT.scalar(*shape, **values)
    sort = filters.get("sort") if filters.get("sort") in SORTS else "date"
    rows = PAGE.tuples(sort, *shape, offset=(max(1, page) - 1) * PAGE_SIZE, **values)
    return Narrow(rows, NARROW_COLUMNS, lambda ids: by_ids(WHOLE, ids)), total


def folders(now):
    return [folder for (folder,) in FOLDERS.tuples(now=now)]


def downloads_of(file_id):
    return DOWNLOADS.scalar(file=file_id) or 0


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
