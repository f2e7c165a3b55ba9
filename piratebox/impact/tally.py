"""The mediator's weekly tally of the café's box: what was deposited and taken there,
counted by hand, with a photo of the shelf if they like."""

import json
from datetime import date, timedelta

from models import Tally, db
from piratebox import photos, rules
from piratebox.i18n import N_

TOO_MANY_PHOTOS = N_("At most 3 photos per week's tally.")


def read_tally(form):
    """The weekly tally form: any day of the week (its Monday is kept), two counts, a note."""
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
