"""Reading the catalogue's forms: clean values, or errors to show beside each field.

What a field may hold is the one definition of a valid record (piratebox/rules.py); this
module only says which fields each form has and what a form asks for beyond it. Errors are
message ids (translated where shown); what the person typed is returned either way, so the
form can be shown again with it.
"""

import contextlib
from datetime import date

from models import Item
from piratebox import moderation, rules
from piratebox.catalogue import categories, rides
from piratebox.i18n import N_

LIMITS = {**rules.limits(Item), "reason": moderation.REASON_LIMIT}
TEXT_FIELDS = ("title", "description", "place_detail", "pseudonym", "contact")


def read_item(form, zone_name):
    """The fields of an offer or request (of a ride too: its day and time are read in the
    village's time zone)."""
    values = {name: form.get(name, "") for name in TEXT_FIELDS}
    values.update(kind=form.get("kind", "offer"), mode=form.get("mode", "give"),
                  category=form.get("category", ""), condition=form.get("condition", ""),
                  place=form.get("place", "home"), network=form.get("network") == "on",
                  answers=form.get("answers", "").strip() or None)
    if values["kind"] == "request" and values["place"] == "box":
        values["place"] = "elsewhere"  # a request is not in the café's box
    ride_errors = {}
    if categories.is_ride(values["category"]):
        ride, ride_errors = rides.read_ride(form, zone_name)
        values.update(ride)
        values["place"] = "elsewhere"  # where it leaves from is the ride's own field
        if not values["title"].strip() and not ride_errors:
            values["title"] = rides.title_of(ride)
        if ride_errors:  # the rules judge what was read; what was typed is shown again
            typed = {name: values.pop(name) for name in list(ride) if name in ride_errors
                     or name in ("day", "start")}
    values, errors = rules.read(Item, values)
    if ride_errors:
        values.update(typed)
        errors.pop("ride_at", None)
        errors.update(ride_errors)
    if "answers" in errors:
        values["answers"] = None  # a hidden field someone edited: the offer stands alone
        del errors["answers"]
    if "title" not in errors and len(values["title"]) < 3:
        errors["title"] = rules.TITLE.short
    if ride_errors and not values["title"]:  # named from → to once those are right
        errors.pop("title", None)
    return values, errors


def read_deposit(form):
    """The two-tap form for the physical give box: a category, nothing else required (no
    title: the page names the object after its category)."""
    values = {"kind": "offer", "mode": "give", "place": "box",
              "category": form.get("category", "")}
    if form.get("title", "").strip():
        values["title"] = form["title"]
    values, errors = rules.read(Item, values)
    return {"title": "", **values}, errors


def read_reservation(form):
    values, errors = rules.read(Item, {"reserved_by": form.get("pseudonym", ""),
                                       "reserved_message": form.get("reserved_message", "")})
    if "reserved_by" in errors:
        errors["pseudonym"] = errors.pop("reserved_by")
    elif not values["reserved_by"]:
        errors["pseudonym"] = N_("Give a name or pseudonym so the owner knows who you are.")
    return values, errors


def read_loan(form):
    lent_until = form.get("lent_until", "").strip()
    with contextlib.suppress(ValueError):  # left as typed: the rule refuses it below
        lent_until = date.fromisoformat(lent_until).isoformat() if lent_until else ""
    return rules.read(Item, {"lent_to": form.get("lent_to", ""), "lent_until": lent_until})


def read_avoided_purchase(form):
    """The taker's answer to "would you otherwise have bought it new?": True, False or None."""
    return {"yes": True, "no": False}.get(form.get("avoided_purchase"))

