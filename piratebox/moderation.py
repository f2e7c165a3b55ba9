"""Reports and hiding, the same for objects and board messages.

A visitor reports a record; when enough different phones have open reports on it, it is
hidden until the mediator decides: show again (closing the reports), dismiss the
reports, or delete.

A phone is known by its address and by its cookie, and two reports that share either
come from the same phone, however they are chained: a phone that drops its cookie keeps
its address, one that takes a new address on the wifi keeps its cookie. Only a phone that
changes both, between two reports, counts twice. And only a phone the box had seen a while
before it reported counts towards hiding: three fresh private tabs wait for the mediator
like any report (see docs/security.md).
"""

import threading
from dataclasses import dataclass

from models import BlobUse, Report, db, this_box
from piratebox.text import clean_line

DECISIONS = ("hide", "show", "dismiss", "delete")
REASON_LIMIT = 300
_reporting = threading.Lock()  # count the phones, then report, as one step


@dataclass(frozen=True)
class Reporter:
    """Keyed hashes of a phone's address and of its cookie's own id; whether the box had
    seen that phone long enough before (REPORTER_SEEN_HOURS) for its report to hide."""

    address: str
    phone: str
    known: bool = True


def open_reports(record_id=None):
    query = Report.select().where(Report.resolved == False)  # noqa: E712
    return query if record_id is None else query.where(Report.item_id == record_id)


def phones(reports, counting=lambda report: True):
    """How many phones made these reports: reports sharing an address or a cookie, directly
    or through others, are one phone's; with `counting`, only the phones one of whose
    reports it accepts."""
    parent = {}

    def root(key):
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    def keys(report):  # reports from before phones were told apart each count alone
        return (("address", report.reporter_address or report.id),
                ("phone", report.reporter_phone or report.id))

    for report in reports:
        address, phone = keys(report)
        parent[root(phone)] = root(address)
    return len({root(keys(report)[0]) for report in reports if counting(report)})


def may_hide(report):
    return report.reporter_known


def report(record, subject, reason, actor, threshold, reporter):
    """Record a phone's report; hide the record when `threshold` phones have reported it.

    Returns False when this phone had already reported it: the report is kept (it ties
    the phone's address and cookie together) but counts no more. Phones the box had not
    seen long enough before are shown to the mediator and never hide anything.
    """
    with _reporting, db.atomic():
        earlier = list(open_reports(record.id))
        before = phones(earlier)
        new = Report.create(subject=subject, item_id=record.id,
                            reason=clean_line(reason)[:REASON_LIMIT], created_at=actor.now,
                            reporter_address=reporter.address, reporter_phone=reporter.phone,
                            reporter_known=reporter.known)
        reports = [*earlier, new]
        if phones(reports, may_hide) >= threshold and not record.hidden:
            set_hidden(record, True, actor)
    return phones(reports) > before


def set_hidden(record, hidden, actor):
    """Hide or show a record. A village box hides one born in another village here only:
    the change stays on this box (no new version, nothing sent) until its own village
    changes it, when it comes back to the review page with its open reports. The hub,
    which moderates the network, hides it everywhere."""
    record.hidden = hidden
    if actor.may_moderate(record):
        actor.save(record, moderating=True)
    else:
        record.save(only=[type(record).hidden])
        BlobUse.refresh([record], here=actor.box_id)


def close_reports(record_id):
    Report.update(resolved=True).where(Report.item_id == record_id).execute()


def decide(record, decision, actor):
    """The mediator's decision on a reported or hidden record."""
    if decision not in DECISIONS:
        raise ValueError(decision)
    with db.atomic():
        if decision == "delete":
            if actor.may_moderate(record):
                actor.delete(record, moderating=True)
            else:
                set_hidden(record, True, actor)
            close_reports(record.id)
            return
        if decision in ("hide", "show"):
            set_hidden(record, decision == "hide", actor)
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


def to_review(model, subject):
    """Records with open reports, or hidden, reported by most phones first:
    [(record, phones)]."""
    by_record = {}
    for row in open_reports().where(Report.subject == subject):
        by_record.setdefault(row.item_id, []).append(row)
    counts = {record_id: phones(rows) for record_id, rows in by_record.items()}
    records = model.live().where(model.id.in_(list(counts)) | (model.hidden == True))  # noqa: E712
    if hasattr(model, "offered_to_network"):  # another village's: while the network shows it
        records = records.where((model.origin == this_box()) | model.offered_to_network())
    return sorted(((record, counts.get(record.id, 0)) for record in records),
                  key=lambda pair: (-pair[1], -pair[0].updated_at))
