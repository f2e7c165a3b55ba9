"""Reading the catalogue's forms: clean values, or errors to show beside each field.

Errors are message ids (translated where shown); what the person typed is returned
either way, so the form can be shown again with it.
"""

from datetime import date

from piratebox.catalogue.categories import BY_CODE, CONDITIONS, KINDS, MODES, PLACES
from piratebox.i18n import N_

LIMITS = {"title": 120, "description": 2000, "place_detail": 120, "pseudonym": 60,
          "contact": 200, "reserved_message": 300, "lent_to": 60, "reason": 300}


def text(form, name):
    return " ".join(form.get(name, "").split()) if name != "description" else \
        form.get(name, "").strip().replace("\r\n", "\n")


def too_long(values, errors):
    for name, limit in LIMITS.items():
        if len(values.get(name) or "") > limit:
            errors[name] = N_("Too long: at most %(limit)d characters.")


def read_item(form):
    """The fields of an offer or request."""
    values = {name: text(form, name) for name in
              ("title", "description", "place_detail", "pseudonym", "contact")}
    values["kind"] = form.get("kind", "offer")
    values["mode"] = form.get("mode", "give")
    values["category"] = form.get("category", "")
    values["condition"] = form.get("condition", "")
    values["place"] = form.get("place", "home")
    values["network"] = form.get("network") == "on"
    answers = form.get("answers", "").strip()
    values["answers"] = answers or None
    errors = {}
    if len(values["title"]) < 3:
        errors["title"] = N_("Give a title of at least 3 characters.")
    for name, allowed in (("kind", KINDS), ("mode", MODES), ("category", BY_CODE),
                          ("condition", CONDITIONS), ("place", PLACES)):
        if values[name] not in allowed:
            errors[name] = N_("Choose one of the options.")
    if values["kind"] == "request":
        values["place"] = "elsewhere" if values["place"] == "box" else values["place"]
    too_long(values, errors)
    return values, errors


def read_deposit(form):
    """The two-tap form for the physical give box: a category, nothing else required."""
    values = {"kind": "offer", "mode": "give", "place": "box",
              "category": form.get("category", ""), "title": text(form, "title")}
    errors = {}
    category = BY_CODE.get(values["category"])
    if category is None:
        errors["category"] = N_("Choose one of the options.")
    too_long(values, errors)
    return values, errors


def read_reservation(form):
    values = {"reserved_by": text(form, "pseudonym"),
              "reserved_message": text(form, "reserved_message")}
    errors = {}
    if not values["reserved_by"]:
        errors["pseudonym"] = N_("Give a name or pseudonym so the owner knows who you are.")
    too_long({"pseudonym": values["reserved_by"],
              "reserved_message": values["reserved_message"]}, errors)
    return values, errors


def read_loan(form):
    values = {"lent_to": text(form, "lent_to"), "lent_until": form.get("lent_until", "").strip()}
    errors = {}
    if values["lent_until"]:
        try:
            date.fromisoformat(values["lent_until"])
        except ValueError:
            errors["lent_until"] = N_("Give a date, for example 2026-12-31.")
    too_long(values, errors)
    return values, errors


def read_avoided_purchase(form):
    """The taker's answer to "would you otherwise have bought it new?": True, False or None."""
    return {"yes": True, "no": False}.get(form.get("avoided_purchase"))
