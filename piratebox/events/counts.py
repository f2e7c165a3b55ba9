"""Events that count: after an event the mediator notes how many came, and at a free-zone
day (or a swap) the kilos brought and taken, weighed at the door.

Weighed kilos are facts, not estimates: the figures show them on their own line and never
add them to the kilos estimated from objects' typical masses (piratebox/impact/logic.py).
"""

from peewee import fn

from models import Event, Prepared, slot
from piratebox import rules, typography
from piratebox.events import WEIGHED
from piratebox.i18n import N_

COUNTED = ("attendance", "kg_brought", "kg_taken")


def is_weighed(event):
    return event.kind in WEIGHED


NOT_BEGUN = N_("This event has not begun yet, by the box's clock: count it once it is over.")


def read_count(form, event, now):
    """Clean values from the count form, or errors by field (as typed, to show again). A
    field left blank is "not counted", not zero; kilos only where the kind is weighed. An
    event that has not begun cannot be counted."""
    typed = {name: form.get(name, "") for name in COUNTED}
    if event.starts_at > now:
        return typed, {"attendance": NOT_BEGUN}
    values = {"attendance": rules.typed_whole(typed["attendance"])}
    if is_weighed(event):
        values.update({name: rules.typed_decimal(typed[name])
                       for name in ("kg_brought", "kg_taken")})
    values, errors = rules.read(Event, values)
    for name in errors:
        values[name] = typed[name]
    return values, errors


def record(event, values, actor):
    for name, value in values.items():
        setattr(event, name, value)
    return actor.save(event)


def form_values(event, lang):
    """The counts as the form shows them again, exactly as stored (98,25 stays 98,25: a
    form saved again to correct the attendance leaves the kilos as they were), with the
    page's decimal mark."""
    values = {"attendance": "" if event.attendance is None else str(event.attendance)}
    for name in ("kg_brought", "kg_taken"):
        value = getattr(event, name)
        values[name] = "" if value is None else typography.exact(value, lang)
    return values


def _sums(windowed, one_origin):
    query = Event.live().where((Event.starts_at <= slot("now")) & (Event.status == "published")
                               & (Event.attendance.is_null(False)
                                  | Event.kg_brought.is_null(False)
                                  | Event.kg_taken.is_null(False)))
    if windowed:
        query = query.where((Event.starts_at >= slot("start")) & (Event.starts_at < slot("end")))
    if one_origin:
        query = query.where(Event.origin == slot("origin"))
    return (query.select(Event.origin, fn.COUNT(Event.id), fn.SUM(Event.attendance),
                         fn.SUM(Event.kg_brought), fn.SUM(Event.kg_taken))
            .group_by(Event.origin))


SUMS = Prepared(_sums)  # built once: the figures page adds them up at each rendering


def counted(now, span=None, origin=None):
    """The counted events' sums: {origin: (events counted, people, kg brought, kg taken)}.
    Only published events a mediator counted, that have begun by `now` (and within `span`,
    (start, end) timestamps, when given; of the box `origin` only, when given); a deleted
    one counts no more. The count form refuses an event not begun yet, but a count can
    still come ahead of its event (a box whose clock ran ahead, a date moved later): the
    bundle reader cannot judge it, its own clock may be the one that is wrong after a power
    cut, so the figures leave it out until it begins, whatever box adds them up."""
    start, end = span or (None, None)
    rows = SUMS.tuples(span is not None, origin is not None, now=now, start=start, end=end,
                       origin=origin)
    return {origin: (events, people or 0, brought or 0.0, taken or 0.0)
            for origin, events, people, brought, taken in rows}
