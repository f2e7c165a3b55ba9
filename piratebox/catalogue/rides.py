"""Rides (covoiturage to the market): an offer, or a request, of the category "rides".

A ride says when it leaves, from and to where, and how many seats; it is listed until it
leaves (then it expires, and stays for the figures). A neighbour takes a seat as one
waits for a lent object: an entry of its list (WaitingEntry), with a private link of the
phone to give the seat back; who took a seat stays in the village, like who reserved.
Never more seats are taken than offered. After the ride the driver confirms how many
rode: that is what the figures count (piratebox/impact/rides.py).
"""

from datetime import date, datetime, time

from models import Item, WaitingEntry
from piratebox import database, ownership, rules
from piratebox.box import BORN_ELSEWHERE
from piratebox.catalogue import logic
from piratebox.catalogue.categories import is_ride
from piratebox.errors import Conflict, NotAllowed
from piratebox.i18n import N_
from piratebox.timefmt import display_zone

GIVE_TIME = N_("Give a time, for example 14:30.")
GIVE_SEATS = N_("Give the number of seats, from 1 to 8.")  # rules.MAX_SEATS
FULL = N_("Every seat of this ride is taken.")


def read_ride(form, zone_name):
    """The ride's own fields of an offer or request form (a day, a time, from, to, seats,
    the driver's distance), as the rules read them: (values, errors by field)."""
    typed = {name: form.get(name, "").strip() for name in ("day", "start", "seats", "km")}
    values, errors = rules.read(Item, {
        "ride_from": form.get("ride_from", ""), "ride_to": form.get("ride_to", ""),
        "seats": rules.typed_whole(typed["seats"]), "km": rules.typed_decimal(typed["km"])})
    if values["seats"] is None:
        errors["seats"] = GIVE_SEATS
    for name in ("ride_from", "ride_to"):
        if name not in errors and not values[name]:
            errors[name] = N_("Say where the ride goes from and to.")
    try:
        day = date.fromisoformat(typed["day"])
    except ValueError:
        errors["day"] = rules.GIVE_DATE
    try:
        start = time.fromisoformat(typed["start"])
    except ValueError:
        errors["start"] = GIVE_TIME
    if "day" not in errors and "start" not in errors:
        leaves = datetime.combine(day, start, tzinfo=display_zone(zone_name)).timestamp()
        values["ride_at"], problem = rules.FIELDS[Item]["ride_at"].read(leaves)
        if problem:
            errors["day"] = rules.GIVE_DATE
    # a date or time field holds a valid one or nothing (HTML): what was not one is dropped
    values.update({name: "" if name in errors else typed[name] for name in ("day", "start")})
    if "seats" in errors:
        errors["seats"] = GIVE_SEATS
        values["seats"] = typed["seats"]
    if "km" in errors:
        values["km"] = typed["km"]
    return values, errors


def form_values(item, zone_name):
    """A ride's fields as its form shows them again."""
    leaves = datetime.fromtimestamp(item.ride_at, display_zone(zone_name))
    return {"day": leaves.date().isoformat(), "start": leaves.strftime("%H:%M")}


def title_of(values):
    """What a ride is called when its driver gives it no title: from → to."""
    return f"{values['ride_from']} → {values['ride_to']}"


def passengers(item):
    return list(WaitingEntry.queue(item.id))


def seats_left(item, taken=None):
    taken = len(passengers(item)) if taken is None else taken
    return max(0, (item.seats or 0) - taken)


def has_left(item, now):
    return item.ride_at is not None and item.ride_at <= now


def can_take_seat(item, now):
    return (is_ride(item.category) and item.kind == "offer" and not item.deleted
            and item.status == "available" and not has_left(item, now))


def take_seat(item, values, actor):
    """A seat for a neighbour; returns (their entry, the token of their phone's link).

    The seats are counted and the entry written in a transaction that waits for any other
    writer first: two phones taking the last seat at once are served one after the other."""
    if not actor.may_change(item):
        raise NotAllowed(BORN_ELSEWHERE)
    if not can_take_seat(item, actor.now):
        raise Conflict(N_("This ride no longer takes passengers."))
    with database.exclusive():
        if WaitingEntry.queue(item.id).count() >= item.seats:
            raise Conflict(FULL)
        entry = actor.save(WaitingEntry(item_id=item.id, **values))
        return entry, ownership.give(entry.id, ownership.CLAIMANT)


def confirm(item, rode, others, actor):
    """After the ride, the driver says how many rode: the passengers of the list ticked
    (`rode`, their entries' ids) and others who came along without the box."""
    if not has_left(item, actor.now):
        raise Conflict(N_("Confirm who rode once the ride has left."))
    listed = {entry.id for entry in passengers(item)}
    riders = len(listed & set(rode)) + others
    if riders > item.seats:
        raise Conflict(N_("More passengers than seats."))
    return logic.transition(item, "confirm", actor, riders=riders)
