"""The mediator's weekly tally of the café's box: what was deposited and taken there,
counted by hand, with a photo of the shelf if they like."""

import json
from datetime import date, datetime, timedelta

from models import Tally, db
from piratebox import photos, rules
from piratebox.i18n import N_
from piratebox.timefmt import display_zone

TOO_MANY_PHOTOS = N_("At most 3 photos per week's tally.")
NOT_BEGUN = N_("This week has not begun yet, by the box's clock: count it once it is over.")


def read_tally(form, now, zone_name):
    """The weekly tally form: any day of the week (its Monday is kept), two counts, a note.
    The week must have begun by the box's clock (the figures leave out any other, however
    it came: piratebox/impact/logic.py, begun_tallies)."""
    values = {"note": form.get("note", "")}
    try:
        day = date.fromisoformat(form.get("week_of", "").strip())
        values["week_of"] = (day - timedelta(days=day.weekday())).isoformat()
    except ValueError:
        values["week_of"] = form.get("week_of", "")
    for name in ("deposited", "taken"):
        count = rules.typed_whole(form.get(name, ""))
        values[name] = 0 if count is None else count
    values, errors = rules.read(Tally, values)
    today = datetime.fromtimestamp(now, display_zone(zone_name)).date().isoformat()
    if "week_of" not in errors and values["week_of"] > today:
        errors["week_of"] = NOT_BEGUN
    for name in ("deposited", "taken"):
        if name in errors:
            values[name] = form.get(name, "")  # shown again as typed
    return values, errors


def record_tally(values, uploads, actor):
    """Store this box's tally for a week, replacing an earlier one for the same week."""
    tally = Tally.get_or_none((Tally.origin == actor.box_id) & (Tally.week_of == values["week_of"])
                              & (Tally.deleted == False))  # noqa: E712
    with actor.blobs.keeping():
        stored = photos.store(uploads, actor, too_many=TOO_MANY_PHOTOS)
        with db.atomic():
            tally = tally or Tally()
            for name in ("week_of", "deposited", "taken", "note"):
                setattr(tally, name, values[name])
            if stored:  # a new tally without a photo keeps an earlier one's
                tally.photos = json.dumps(stored)
            actor.save(tally)
    actor.blobs.collect()  # an earlier photo of that week
    return tally


def delete_tally(tally, actor):
    """Take a tally out of the figures, here and, at the next sync, at the hub."""
    with actor.blobs.keeping():
        actor.delete(tally)
    actor.blobs.collect()


def form_values(tally):
    """A tally as its form shows it again, to correct it."""
    return {name: getattr(tally, name) for name in ("week_of", "deposited", "taken", "note")}
