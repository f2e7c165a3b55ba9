"""The rules of the catalogue: what may happen to an object, and what each step records.

Every change of state appends an Exchange event (what, when, category, mass, and the
taker's answer to "would you otherwise have bought it new?"): the raw data of the
impact figures. Photos are processed before anything is written, so a refused photo
leaves no trace; an item and the blobs it needs land together.
"""

import functools
import json

from peewee import SQL, Select, fn

from models import (
    Exchange,
    Item,
    ItemWord,
    Prepared,
    db,
    fold,
    like_pattern,
    slot,
    this_box,
)
from piratebox import moderation, ownership, photos
from piratebox.catalogue.categories import CHANGED_HANDS, is_ride, is_service, mass_of
from piratebox.errors import Conflict
from piratebox.i18n import N_

DAY = 24 * 3600
EXPIRY_DAYS = 30
PAGE_SIZE = 20
# Counting every match of a search over a year of objects costs more than showing them;
# past this many the list says "1000+" and pages stop there.
COUNT_CAP = 1000


# action -> (the statuses it may start from, the status it leads to; None: unchanged)
TRANSITIONS = {
    "reserve": ({"available"}, "reserved"),
    "release": ({"reserved"}, "available"),
    "give": ({"available", "reserved"}, "given"),
    "take": ({"available"}, "taken"),
    "lend": ({"available", "reserved"}, "lent"),
    "return": ({"lent"}, "available"),
    "withdraw": ({"available", "reserved", "expired"}, "withdrawn"),
    "fulfil": ({"available", "expired"}, "fulfilled"),
    "expire": ({"available", "reserved"}, "expired"),
    "renew": ({"available", "reserved", "expired"}, None),
    # a service rendered to whoever asked: offered again to the next
    "render": ({"available", "reserved"}, "available"),
    # a ride that has left: how many rode, as its driver says (again, to correct it)
    "confirm": ({"available", "expired", "done"}, "done"),
}


BY_ID = Prepared(lambda: Item.select().where(Item.id == slot("id")))


def find(item_id):
    """The object with this id, deleted or not; None if there is none."""
    rows = BY_ID.rows(id=item_id)
    return rows[0] if rows else None


def record(item, action, actor, avoided_purchase=None):
    return actor.save(Exchange(
        item_id=item.id, action=action, kind=item.kind, mode=item.mode, place=item.place,
        category=item.category, mass_kg=mass_of(item.category),
        avoided_purchase=avoided_purchase, happened_at=actor.now,
    ))


def create(values, uploads, actor, record_id=None):
    """A new offer or request (under the id its form gave it, web.posted_once, when given);
    returns (item, the manage token to show once)."""
    item = Item(**values)
    if record_id:
        item.id = record_id
    item.expires_at = expiry_of(item, actor.now)
    if item.kind == "request":
        action = "requested"
    else:
        action = "deposited" if item.place == "box" else "offered"
    with actor.blobs.keeping():  # the photos stay until the object that needs them is saved
        item.photos = json.dumps(photos.store(uploads, actor))
        with db.atomic():
            actor.save(item)
            token = ownership.give(item.id)
            record(item, action, actor)
    return item, token


def expiry_of(item, now):
    """When an object leaves the lists: never in the café's box, when it leaves for a
    ride, else after EXPIRY_DAYS unless renewed."""
    if item.place == "box":
        return None
    if is_ride(item.category) and item.ride_at is not None:
        return item.ride_at
    return now + EXPIRY_DAYS * DAY


def edit(item, values, uploads, actor, keep=None):
    """Change an object. Its photos: those named in `keep` (their full image's hash; all
    of them when None) stay in their order, the new `uploads` come after them."""
    for name, value in values.items():
        setattr(item, name, value)
    if is_ride(item.category):
        item.expires_at = item.ride_at
    kept = [photo for photo in item.photo_list() if keep is None or photo["full"] in keep]
    with actor.blobs.keeping():
        item.photos = json.dumps(kept + photos.store(uploads, actor, kept=len(kept)))
        actor.save(item)
    actor.blobs.collect()  # the photos it no longer shows
    return item


def allows(item, action):
    """Does the object's state let `action` start (TRANSITIONS)? The pages ask this rather
    than compare statuses themselves."""
    return not item.deleted and item.status in TRANSITIONS[action][0]


def actions_for(item):
    """What the owner may do with this object now, in the order the manage page offers
    them (the first is the main one): only what makes sense for its kind and mode."""
    possible = [action for action in owner_actions(item) if allows(item, action)]
    if item.expires_at is None and "renew" in possible:
        possible.remove("renew")
    return possible


# The owner's actions for each (kind, mode), main one first. A lent object is never
# "given", a request is "found", an object given away is not "lent".
OWNER_ACTIONS = {
    ("offer", "give"): ["give", "release", "renew", "withdraw"],
    ("offer", "swap"): ["give", "release", "renew", "withdraw"],
    ("offer", "lend"): ["lend", "return", "release", "renew", "withdraw"],
    ("request", "give"): ["fulfil", "renew", "withdraw"],
    ("request", "swap"): ["fulfil", "renew", "withdraw"],
    ("request", "lend"): ["fulfil", "renew", "withdraw"],
}
# An offer of help or a skill is rendered again and again, never given away once; a ride
# leaves on its day, and its driver confirms who rode.
SERVICE_OFFER_ACTIONS = ["render", "release", "renew", "withdraw"]
RIDE_OFFER_ACTIONS = ["confirm", "withdraw"]
RIDE_REQUEST_ACTIONS = ["fulfil", "withdraw"]
OWNER_ACTIONS_ALL = {action for actions in [*OWNER_ACTIONS.values(), SERVICE_OFFER_ACTIONS,
                                            RIDE_OFFER_ACTIONS] for action in actions}


def owner_actions(item):
    """Every action the owner has for this kind of offer or request, main one first."""
    if is_ride(item.category):
        return RIDE_OFFER_ACTIONS if item.kind == "offer" else RIDE_REQUEST_ACTIONS
    if item.kind == "offer" and is_service(item.category):
        return SERVICE_OFFER_ACTIONS
    return OWNER_ACTIONS[item.kind, item.mode]


def transition(item, action, actor, avoided_purchase=None, **fields):
    """Move an object along its life, or refuse if it is no longer where the action starts."""
    to_status = TRANSITIONS[action][1]
    if not allows(item, action):
        raise Conflict(N_("This object is no longer in a state that allows this; reload the "
                          "page to see where it is."))
    if action == "take" and (item.place != "box" or item.kind != "offer"):
        raise Conflict(N_("Only objects in the café's give box can be taken directly."))
    if action in OWNER_ACTIONS_ALL and action not in owner_actions(item):
        raise Conflict(N_("This action does not apply to this object."))
    if action == "reserve" and (item.kind != "offer" or is_ride(item.category)):
        raise Conflict(N_("This action does not apply to this object."))
    if is_service(item.category):
        avoided_purchase = None  # "would you have bought it new?" asks about objects
    for name, value in fields.items():
        setattr(item, name, value)
    if action == "renew":
        item.expires_at = actor.now + EXPIRY_DAYS * DAY
        item.status = "available" if item.status == "expired" else item.status
    else:
        item.status = to_status
    if action == "reserve":
        item.avoided_purchase = avoided_purchase  # the taker's answer, counted once it moves
    if action in ("release", "render"):
        item.reserved_by = item.reserved_message = ""
        item.avoided_purchase = None
    if ACTION_EVENTS.get(action) in CHANGED_HANDS:
        if avoided_purchase is None:
            avoided_purchase = item.avoided_purchase  # the answer given when reserving
        item.avoided_purchase = None  # counted now, with this exchange: never again
    with db.atomic():
        actor.save(item)
        if action in ACTION_EVENTS and not repeated(item, ACTION_EVENTS[action], actor.now):
            record(item, ACTION_EVENTS[action], actor, avoided_purchase)
    return item


def repeated(item, event, now):
    """Is this a loan, a return or a cancelled reservation of an object that already had
    one counted within REPEAT_PERIOD? Lent and returned ten times an afternoon, an object
    counts one loan: what one object adds to the figures is bounded (docs/impact.md)."""
    if event not in COUNTED_ONCE_A_PERIOD:
        return False
    return Exchange.select().where(
        (Exchange.item_id == item.id) & (Exchange.action == event)
        & (Exchange.happened_at > now - REPEAT_PERIOD)).exists()


def reserve(item, values, avoided_purchase, actor):
    """Reserve an offer for someone; returns the private link's token of their phone."""
    with db.atomic():
        transition(item, "reserve", actor, avoided_purchase=avoided_purchase, **values)
        return ownership.give(item.id, ownership.CLAIMANT)


def cancel_reservation(item, actor):
    """The person who reserved changes their mind: the object is free again."""
    with db.atomic():
        transition(item, "release", actor)
        ownership.forget(item.id, ownership.CLAIMANT)


# What each action appends to the exchange log. A reservation is a promise, not an
# exchange, and a renewal changes nothing that is counted: neither records an event.
ACTION_EVENTS = {
    "release": "released", "give": "given", "take": "taken", "lend": "lent",
    "return": "returned", "withdraw": "withdrawn", "fulfil": "fulfilled", "expire": "expired",
    "render": "rendered",
}
# Given, taken, withdrawn and fulfilled end an object's life, so each counts once; these
# can come again and again, and count at most once a period per object (a service
# rendered to three neighbours in a day counts one).
COUNTED_ONCE_A_PERIOD = {"lent", "returned", "released", "rendered"}
REPEAT_PERIOD = DAY


def delete(item, actor):
    moderation.decide(item, "delete", actor)
    actor.blobs.collect()


def expire_due(actor):
    """Objects kept at home, and requests, expire after 30 days unless renewed: each box
    expires its own, another village's offers expire there."""
    due = list(Item.live().where(
        (Item.origin == actor.box_id) & Item.expires_at.is_null(False)
        & (Item.expires_at < actor.now)
        & Item.status.in_(sorted(TRANSITIONS["expire"][0]))
    ))
    with db.atomic():  # one commit: a box back on after a month writes the flash once
        for item in due:
            transition(item, "expire", actor)
    return len(due)


def reported_items():
    return moderation.to_review(Item, "item")


OPEN_STATUSES = ("available", "reserved", "lent")
FILTERS = ("kind", "mode", "category", "place")
MAX_WORDS = 8


# A search's word held by this many objects or fewer is looked up in the words' table
# (models.ItemWord), its objects then read one by one by their key (about 1.5 µs each
# here); above, reading every listed object's text costs less (about 0.2 µs an object: a
# box of 500 objects breaks even near 64).
FEW = 64


def matching(fields, open_only, filters, words, driver=None):
    """The listed objects that match a shape of search: the open ones only or all, the
    filters that are on (by name), so many words, the one (by number) whose objects are
    few enough to read first (see Search.fewest), if any."""
    query = Item.listed().select(*fields)
    if open_only:
        query = query.where(Item.status.in_(OPEN_STATUSES))
    for name in filters:
        query = query.where(getattr(Item, name) == slot(name))
    return Item.search(query, [slot(f"word{number}") for number in range(words)],
                       None if driver is None else slot(f"word{driver}"))


# How many objects hold a search's word, counted up to FEW + 1: which word, if any, to
# read first. A few index entries for a word held by many; the whole vocabulary
# (models.Word) for a word held by none.
HOLDERS = Prepared(lambda: Select(columns=[ItemWord.objects_up_to(slot("word"), FEW + 1)]))


# The count reads a covering index only (see models.MIGRATIONS: item_open for the open
# objects, item_listing for a search of words in many objects; a search of a word in few,
# those objects by their key) and stops at COUNT_CAP + 1 matches; the page fetches 20
# rows: nothing else comes into Python.
COUNT = Prepared(lambda *shape: Select(
    [matching([SQL("1")], *shape).limit(COUNT_CAP + 1).alias("capped")],
    [fn.COUNT(SQL("*"))]))


def newest_first(fields, *shape):
    return matching(fields, *shape).order_by(Item.created_at.desc(), Item.id.desc())


PAGE = Prepared(lambda fields, *shape: newest_first(fields, *shape)
                .limit(PAGE_SIZE).offset(slot("offset")))
# A search whose objects are read from one of its words' (few) objects: every match at
# once, the count being how many and the page a slice of them. Reading that word's
# objects once costs half of reading them for the count and again for the page.
EVERY_FEW = Prepared(newest_first)


def browse(filters, page=1, fields=None):
    """The catalogue as visitors see it: newest first, filtered, searched, a page at a time;
    returns (rows, the number of matches up to COUNT_CAP + 1).

    Rows carry `fields` only (the card's by default).
    """
    search = Search(filters, page)
    return search.rows(fields), search.count()


def listing(filters, page=1, fields=None):
    """`browse` as a kept page reads it (pagecache.render's `data`): (a function that reads
    the rows, the number of matches), and what of them a write can change: which objects,
    each at its version (every change of an object moves it on), and how many match.
    Only that is read at once: a page kept is not rendered again when it is unchanged."""
    search = Search(filters, page)
    total = search.count()
    return ((lambda: search.rows(fields)), total), (total, search.versions())


class Search:
    """A page of the catalogue's search, as browse and listing read it."""

    def __init__(self, filters, page):
        names = tuple(name for name in FILTERS if filters.get(name))
        words = fold(filters.get("q", "")).split()[:MAX_WORDS]
        self.values = {name: filters[name] for name in names}
        self.values.update({f"word{number}": like_pattern(word)
                            for number, word in enumerate(words)})
        self.found_none = False  # a word no object holds: nothing to read
        self.shape = ((filters.get("status") or "open") == "open", names, len(words),
                      self.fewest(len(words)))
        self.offset = (min(max(1, page), COUNT_CAP // PAGE_SIZE + 1) - 1) * PAGE_SIZE

    def fewest(self, words):
        """The word held by the fewest objects if they are few (see FEW), else None. A
        word no object holds ends the search (nothing matches, whatever the others): a
        search of words that are nowhere reads the vocabulary once, not once a word."""
        fewest, least = None, FEW + 1
        for number in range(words):
            held = HOLDERS.scalar(word=self.values[f"word{number}"])
            if held < least:
                fewest, least = number, held
            if held == 0:
                self.found_none = True
                break
        return fewest

    @functools.cached_property
    def few_matches(self):
        """Every match (id, version), newest first, when they are read from few objects
        (see fewest); else None."""
        if self.found_none or self.shape[-1] is None:
            return None
        return EVERY_FEW.tuples(Item.id_and_version(), *self.shape, **self.values)

    def count(self):
        if self.found_none:
            return 0
        if self.few_matches is not None:
            return len(self.few_matches)
        return COUNT.scalar(*self.shape, **self.values)

    def rows(self, fields=None):
        if self.found_none:
            return []
        return PAGE.rows(tuple(fields or Item.card_fields()), *self.shape,
                         offset=self.offset, **self.values)

    def versions(self):
        """`versions` of the page's rows, read without the objects."""
        if self.found_none:
            return ()
        if self.few_matches is not None:
            return tuple(self.few_matches[self.offset:self.offset + PAGE_SIZE])
        return tuple(PAGE.tuples(Item.id_and_version(), *self.shape, offset=self.offset,
                                 **self.values))


def versions(records):
    """Which records, each at its version: what a kept page's fingerprint says of a list."""
    return tuple((record.id, record.version) for record in records)


def _latest(fields, village_only):
    query = Item.listed().select(*fields).where(Item.status == "available")
    if village_only:
        query = query.where(Item.origin == this_box())
    return query.order_by(Item.created_at.desc()).limit(slot("count"))


LATEST = Prepared(_latest)
ANSWERS = Prepared(lambda fields: Item.listed().select(*fields)
                   .where(Item.answers == slot("request")).order_by(Item.created_at.desc()))


def latest(count, village_only=True):
    """The newest objects to be had: this village's own (the catalogue also lists the
    network's offers, each saying its village); at a hub, the network's."""
    return LATEST.rows(Item.card_fields(), village_only, count=count)


def latest_versions(count, village_only=True):
    """`versions` of `latest`, read without the objects."""
    return tuple(LATEST.tuples(Item.id_and_version(), village_only, count=count))


def visible_request(item_id):
    """The request an offer may answer: one visitors can see, or None."""
    if not item_id:
        return None
    return Item.listed().where((Item.id == item_id) & (Item.kind == "request")).first()


def answers_to(request_item):
    return ANSWERS.rows(Item.card_fields(), request=request_item.id)


def answer_versions(request_item):
    """`versions` of `answers_to`, read without the objects."""
    return tuple(ANSWERS.tuples(Item.id_and_version(), request=request_item.id))
