"""The agenda's rules: villagers propose, the mediator publishes, past events go to the archive."""

from datetime import date, datetime, time, timedelta

from models import Event, Prepared, slot
from piratebox.i18n import N_
from piratebox.timefmt import display_zone

KINDS = {
    "repair_cafe": N_("Repair café"),
    "swap": N_("Swap, free market"),
    "disco_soupe": N_("Disco Soupe"),
    "meeting": N_("Meeting"),
    "market": N_("Market"),
    "other": N_("Other"),
}
LIMITS = {"title": 120, "place": 120, "description": 2000, "proposed_by": 60}
DEFAULT_LENGTH = timedelta(hours=2)  # when no end is given


def read_event(form, zone_name):
    """Clean values (times as timestamps in the village's zone), or errors by field."""
    values = {name: " ".join(form.get(name, "").split()) for name in ("title", "place",
                                                                      "proposed_by")}
    values["description"] = form.get("description", "").strip().replace("\r\n", "\n")
    values["kind"] = form.get("kind", "other")
    typed = {name: form.get(name, "").strip() for name in ("day", "start", "end")}
    errors = {}
    if len(values["title"]) < 3:
        errors["title"] = N_("Give a title of at least 3 characters.")
    if values["kind"] not in KINDS:
        errors["kind"] = N_("Choose one of the options.")
    for name, limit in LIMITS.items():
        if len(values[name]) > limit:
            errors[name] = N_("Too long: at most %(limit)d characters.")
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
    return values, {}


def form_values(event, zone_name):
    """An event's fields as its form shows them."""
    zone = display_zone(zone_name)
    starts = datetime.fromtimestamp(event.starts_at, zone)
    ends = datetime.fromtimestamp(event.ends_at, zone) if event.ends_at else None
    return {**event.__data__, "day": starts.date().isoformat(),
            "start": starts.strftime("%H:%M"), "end": ends.strftime("%H:%M") if ends else ""}


def create(values, actor, published):
    event = Event(**values, status="published" if published else "proposed")
    return event.save_change(actor.box_id, actor.now)


def update(event, values, actor):
    for name, value in values.items():
        setattr(event, name, value)
    return event.save_change(actor.box_id, actor.now)


def decide(event, decision, actor):
    event.status = {"publish": "published", "reject": "rejected"}[decision]
    return event.save_change(actor.box_id, actor.now)


def end_of(event):
    return event.ends_at or event.starts_at + DEFAULT_LENGTH.total_seconds()


def published():
    return Event.live().where(Event.status == "published")


SOON = Prepared(lambda: published().where(Event.starts_at >= slot("since"))
                .order_by(Event.starts_at))


def upcoming(now, limit=None):
    """Published events not over yet, soonest first."""
    rows = [e for e in SOON.rows(since=now - 2 * 86400) if end_of(e) >= now]
    return rows[:limit] if limit else rows


def archive(now):
    return [e for e in published().where(Event.starts_at < now).order_by(Event.starts_at.desc())
            if end_of(e) < now]


def pending():
    return list(Event.live().where(Event.status == "proposed").order_by(Event.starts_at))
