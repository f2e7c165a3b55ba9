"""Lending as libraries of things do it: a waiting list per object, loans past their date.

Anyone may join the waiting list of a lendable object that is out (lent or reserved); the
phone keeps a private link to leave it. The owner sees the list in order and, when the
object comes back, who is next. A loan is late the day after its return date, in the
village's time zone.
"""

from datetime import date

from models import Item, Prepared, WaitingEntry, db, slot
from piratebox import ownership, rules
from piratebox.box import BORN_ELSEWHERE
from piratebox.errors import Conflict, NotAllowed
from piratebox.i18n import N_
from piratebox.timefmt import local_datetime

MAX_WAITING = 50  # a list longer than this says nothing a shorter one does not


def field_limits():
    """The longest pseudonym and contact a waiting entry takes (the form's maxlength)."""
    return rules.limits(WaitingEntry)


def read_waiting(form):
    """The waiting-list form: a name (required) and how to be reached (optional), read by
    the one definition of a valid record that the bundle reader applies too."""
    return rules.read(WaitingEntry, {name: form.get(name, "") for name in ("pseudonym",
                                                                            "contact")})


def can_wait_for(item):
    return (item.kind == "offer" and item.mode == "lend" and not item.deleted
            and item.status in ("lent", "reserved"))


def join(item, values, actor):
    """Put someone at the end of the list; returns (entry, the token of their phone's link)."""
    if not actor.may_change(item):  # a list kept in another village: its villagers' own
        raise NotAllowed(BORN_ELSEWHERE)
    if not can_wait_for(item):
        raise Conflict(N_("This object is not out on loan: reserve it instead."))
    if WaitingEntry.queue(item.id).count() >= MAX_WAITING:
        raise Conflict(N_("The waiting list of this object is full."))
    with db.atomic():
        entry = actor.save(WaitingEntry(item_id=item.id, **values))
        return entry, ownership.give(entry.id, ownership.CLAIMANT)


def leave(entry, actor):
    with db.atomic():
        actor.delete(entry)
        ownership.forget(entry.id, ownership.CLAIMANT)


def served(item, lent_to, actor):
    """The object was lent to someone on its list: they are no longer waiting."""
    wanted = lent_to.casefold()
    for entry in WaitingEntry.queue(item.id):
        if entry.pseudonym.casefold() == wanted:
            leave(entry, actor)
            return


def queue(item):
    return list(WaitingEntry.queue(item.id))


LIVE_ENTRIES = Prepared(lambda: WaitingEntry.live().select(WaitingEntry.id)
                        .where(WaitingEntry.item_id == slot("item")))


def live_entry_ids(item_id):
    """The ids of the places on an object's list (asked at each view of its page by a phone
    holding any private link: a query whose SQL is built once)."""
    return {entry_id for (entry_id,) in LIVE_ENTRIES.tuples(item=item_id)}


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
