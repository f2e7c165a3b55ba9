"""The agenda's rules: villagers propose, the mediator publishes, past events go to the archive."""

from datetime import date, datetime, time, timedelta

from models import Event, Prepared, slot, this_box
from piratebox import rules
from piratebox.events import KINDS  # noqa: F401 - the agenda's kinds, for its pages
from piratebox.i18n import N_
from piratebox.timefmt import display_zone

LIMITS = rules.limits(Event)
DEFAULT_LENGTH = timedelta(hours=2)  # when no end is given


def read_event(form, zone_name):
    """Clean values (times as timestamps in the village's zone), or errors by field."""
    values, errors = rules.read(Event, {
        **{name: form.get(name, "") for name in ("title", "place", "proposed_by",
                                                  "description")},
        "kind": form.get("kind", "other")})
    typed = {name: form.get(name, "").strip() for name in ("day", "start", "end")}
    if "title" not in errors and len(values["title"]) < 3:
        errors["title"] = rules.TITLE.short
    try:
        day = date.fromisoformat(typed["day"])
    except ValueError:
        errors["day"] = N_("Give a date, for example 2026-12-31.")
    try:
        start = time.fromisoformat(typed["start"])
    except ValueError:
        errors["start"] = N_("Give a time, for example 14:30.")
    end = None
    if typed["end"]:
        try:
            end = time.fromisoformat(typed["end"])
        except ValueError:
            errors["end"] = N_("Give a time, for example 14:30.")
    if errors:
        return {**values, **typed}, errors
    zone = display_zone(zone_name)
    starts = datetime.combine(day, start, tzinfo=zone)
    ends = datetime.combine(day, end, tzinfo=zone) if end else None
    if ends is not None and ends <= starts:
        ends += timedelta(days=1)  # 20:00 to 01:00 ends the next day
    values["starts_at"] = starts.timestamp()
    values["ends_at"] = ends.timestamp() if ends else None
    if rules.read(Event, values)[1]:  # a year the agenda cannot hold
        return {**values, **typed}, {"day": N_("Give a date, for example 2026-12-31.")}
    return values, {}


def form_values(event, zone_name):
    """An event's fields as its form shows them."""
    zone = display_zone(zone_name)
    starts = datetime.fromtimestamp(event.starts_at, zone)
    ends = datetime.fromtimestamp(event.ends_at, zone) if event.ends_at else None
    return {**event.__data__, "day": starts.date().isoformat(),
            "start": starts.strftime("%H:%M"), "end": ends.strftime("%H:%M") if ends else ""}


def create(values, actor, published, record_id=None):
    """A new event, under the id its form gave it (web.posted_once) when it gave one."""
    event = Event(**values, status="published" if published else "proposed")
    if record_id:
        event.id = record_id
    return actor.save(event)


def update(event, values, actor):
    for name, value in values.items():
        setattr(event, name, value)
    return actor.save(event)


def decide(event, decision, actor):
    event.status = {"publish": "published", "reject": "rejected"}[decision]
    return actor.save(event)


def end_of(event):
    return event.ends_at or event.starts_at + DEFAULT_LENGTH.total_seconds()


def shown_here(role):
    """The events this box shows: a village's own and its hub's; at a hub, its own (the
    villages' agendas are theirs: the hub shows what the network shows). `role` is the
    opened box's (box.Box.role): reading it from the database again at each page cost a
    fifth of the home page's rendering on a router."""
    query = Event.live()
    return query.where(Event.origin == this_box()) if role == "hub" else query


def published(role):
    return shown_here(role).where(Event.status == "published")


SOON = Prepared(lambda role: published(role).where(Event.starts_at >= slot("since"))
                .order_by(Event.starts_at))


def upcoming(now, role, limit=None):
    """Published events not over yet, soonest first."""
    rows = [e for e in SOON.rows(role, since=now - 2 * 86400) if end_of(e) >= now]
    return rows[:limit] if limit else rows


def archive(now, role):
    return [e for e in published(role).where(Event.starts_at < now).order_by(Event.starts_at.desc())
            if end_of(e) < now]


def pending(role):
    return list(shown_here(role).where(Event.status == "proposed").order_by(Event.starts_at))
