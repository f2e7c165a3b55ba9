"""Lending as libraries of things do it: a waiting list per object, loans past their date.

Anyone may join the waiting list of a lendable object that is out (lent or reserved); the
phone keeps a private link to leave it. The owner sees the list in order and, when the
object comes back, who is next. A loan is late the day after its return date, in the
village's time zone.
"""

from datetime import date

from models import Item, PersonalKey, WaitingEntry, db
from piratebox.catalogue import logic
from piratebox.errors import Conflict
from piratebox.i18n import N_
from piratebox.timefmt import local_datetime

MAX_WAITING = 50  # a list longer than this says nothing a shorter one does not


def field_limits():
    """The longest pseudonym and contact the record takes: one rule for the form and the
    bundle reader (piratebox/sync/records.py checks the same max_length)."""
    return {name: WaitingEntry._meta.fields[name].max_length for name in ("pseudonym", "contact")}


def read_waiting(form):
    """The waiting-list form: a name (required) and how to be reached (optional)."""
    values = {name: " ".join(form.get(name, "").split()) for name in ("pseudonym", "contact")}
    errors = {}
    if not values["pseudonym"]:
        errors["pseudonym"] = N_("Give a name or pseudonym so the owner knows who you are.")
    for name, limit in field_limits().items():
        if len(values[name]) > limit:
            errors[name] = N_("Too long: at most %(limit)d characters.")
    return values, errors


def can_wait_for(item):
    return (item.kind == "offer" and item.mode == "lend" and not item.deleted
            and item.status in ("lent", "reserved"))


def join(item, values, actor):
    """Put someone at the end of the list; returns (entry, the token of their phone's link)."""
    if not can_wait_for(item):
        raise Conflict(N_("This object is not out on loan: reserve it instead."))
    if WaitingEntry.queue(item.id).count() >= MAX_WAITING:
        raise Conflict(N_("The waiting list of this object is full."))
    with db.atomic():
        entry = WaitingEntry(item_id=item.id, **values).save_change(actor.box_id, actor.now)
        return entry, logic.give_personal_key(entry.id)


def leave(entry, actor):
    with db.atomic():
        entry.tombstone(actor.box_id, actor.now)
        PersonalKey.delete().where(PersonalKey.record_id == entry.id).execute()


def served(item, lent_to, actor):
    """The object was lent to someone on its list: they are no longer waiting."""
    wanted = lent_to.casefold()
    for entry in WaitingEntry.queue(item.id):
        if entry.pseudonym.casefold() == wanted:
            leave(entry, actor)
            return


def queue(item):
    return list(WaitingEntry.queue(item.id))


def today(now, zone_name):
    return local_datetime(now, zone_name).date()


def is_overdue(item, now, zone_name):
    if item.status != "lent" or not item.lent_until:
        return False
    try:
        return date.fromisoformat(item.lent_until) < today(now, zone_name)
    except ValueError:
        return False


def overdue(now, zone_name):
    """Loans past their return date, the longest overdue first."""
    cutoff = today(now, zone_name).isoformat()
    return list(Item.live().where((Item.status == "lent") & (Item.lent_until != "")
                                  & (Item.lent_until < cutoff)).order_by(Item.lent_until))
