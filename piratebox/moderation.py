"""Reports and hiding, the same for objects and board messages.

A visitor reports a record; when its open reports reach the threshold it is hidden until
the mediator decides: show again (closing the reports), dismiss the reports, or delete.
"""

from models import BlobUse, Report, db
from piratebox.text import clean_line

DECISIONS = ("hide", "show", "dismiss", "delete")
REASON_LIMIT = 300


def report(record, subject, reason, actor, threshold):
    """Record a report; hide the record once enough are open. Returns the open count."""
    with db.atomic():
        Report.create(subject=subject, item_id=record.id,
                      reason=clean_line(reason)[:REASON_LIMIT], created_at=actor.now)
        open_reports = Report.select().where(
            (Report.item_id == record.id) & (Report.resolved == False)  # noqa: E712
        ).count()
        if open_reports >= threshold and not record.hidden:
            set_hidden(record, True, actor)
    return open_reports


def set_hidden(record, hidden, actor):
    """Hide or show a record. One born in another village is hidden here only: the change
    stays on this box (no new version, nothing sent) until its own village changes it,
    when it comes back to the review page with its open reports."""
    record.hidden = hidden
    if actor.may_change(record):
        actor.save(record)
    else:
        record.save(only=[type(record).hidden])
        BlobUse.refresh([record])


def close_reports(record_id):
    Report.update(resolved=True).where(Report.item_id == record_id).execute()


def decide(record, decision, actor):
    """The mediator's decision on a reported or hidden record."""
    if decision not in DECISIONS:
        raise ValueError(decision)
    with db.atomic():
        if decision == "delete":
            if actor.may_change(record):
                actor.delete(record)
            else:
                set_hidden(record, True, actor)
            close_reports(record.id)
            return
        if decision in ("hide", "show"):
            set_hidden(record, decision == "hide", actor)
        if decision in ("show", "dismiss"):
            close_reports(record.id)


def to_review(model, subject):
    """Records with open reports, or hidden, most reported first: [(record, count)]."""
    counts = {}
    query = Report.select(Report.item_id).where(
        (Report.resolved == False) & (Report.subject == subject))  # noqa: E712
    for row in query:
        counts[row.item_id] = counts.get(row.item_id, 0) + 1
    records = model.live().where(model.id.in_(list(counts)) | (model.hidden == True))  # noqa: E712
    return sorted(((record, counts.get(record.id, 0)) for record in records),
                  key=lambda pair: (-pair[1], -pair[0].updated_at))
