"""Reports and hiding, the same for objects and board messages.

A visitor reports a record; when its open reports reach the threshold it is hidden until
the mediator decides: show again (closing the reports), dismiss the reports, or delete.
"""

from models import Report, db

DECISIONS = ("hide", "show", "dismiss", "delete")


def report(record, subject, reason, actor, threshold):
    """Record a report; hide the record once enough are open. Returns the open count."""
    with db.atomic():
        Report.create(subject=subject, item_id=record.id, reason=reason[:300],
                      created_at=actor.now)
        open_reports = Report.select().where(
            (Report.item_id == record.id) & (Report.resolved == False)  # noqa: E712
        ).count()
        if open_reports >= threshold and not record.hidden:
            record.hidden = True
            record.save_change(actor.box_id, actor.now)
    return open_reports


def close_reports(record_id):
    Report.update(resolved=True).where(Report.item_id == record_id).execute()


def decide(record, decision, actor):
    """The mediator's decision on a reported or hidden record."""
    if decision not in DECISIONS:
        raise ValueError(decision)
    with db.atomic():
        if decision == "delete":
            record.tombstone(actor.box_id, actor.now)
            close_reports(record.id)
            return
        if decision in ("hide", "show"):
            record.hidden = decision == "hide"
            record.save_change(actor.box_id, actor.now)
        if decision in ("show", "dismiss"):
            close_reports(record.id)


def reasons(subject):
    """The reasons visitors gave in the open reports, by reported record: {id: [reason]}."""
    found = {}
    for row in (Report.select(Report.item_id, Report.reason)
                .where((Report.resolved == False) & (Report.subject == subject)  # noqa: E712
                       & (Report.reason != "")).order_by(Report.created_at)):
        found.setdefault(row.item_id, []).append(row.reason)
    return found


def open_count(subject):
    """How many reported records wait for the mediator's decision."""
    return (Report.select(Report.item_id).where(
        (Report.resolved == False) & (Report.subject == subject))  # noqa: E712
        .distinct().count())


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
