"""A valid record: one definition for every way a record is written.

The forms and the command line read what a person typed through it, a change is checked
against it once more just before it is stored (`Actor.save`), and the bundle reader
checks every record a bundle brings against it (piratebox/sync/records.py). So a box
never stores what its hub would refuse, and a hub never stores what a form could not
have written. Free text is cleaned, not refused (the shared rule of piratebox.text): the
same cleaning on every path makes it a no-op on text that was already clean.

A form may ask for more than a valid record needs (a title of three characters on the
"offer an object" form), never less.
"""

import functools
import json
import math
from datetime import date

from models import Event, Exchange, Initiative, Item, Message, SharedFile, Tally, WaitingEntry
from piratebox import events, initiatives
from piratebox.catalogue import categories
from piratebox.errors import BadInput
from piratebox.files import names
from piratebox.i18n import N_
from piratebox.patterns import ID, SHA256, deferred
from piratebox.text import clean_block, clean_line, clean_name

ISO_DAY = deferred(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
# A decimal number as people type it here: 45,4244 as often as 45.4244, and 1 200 (a
# thousands' space, plain, no-break or narrow) as often as 1200.
TYPED_DECIMAL = deferred(r"\A[-+−]?(?:[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+|[0-9]{1,9})"
                         r"(?:[.,][0-9]{1,12})?\Z")
GROUPING = deferred(r"[ \u00a0\u202f]")
# A point pasted whole from a map app: "45,4240, 4,0671", "45.4240,4.0671", "45.42 4.06".
TYPED_POINT = deferred(r"\A\s*([-+−]?[0-9]{1,3}(?:[.,][0-9]{1,12})?)\s*[,;\s]\s*"
                       r"([-+−]?[0-9]{1,3}(?:[.,][0-9]{1,12})?)\s*\Z")
# The largest integer every JSON reader keeps exact: no version, size or count above it.
MAX_VERSION = 2**53
# 2100-01-01: a later date is no box's clock. Keeps an object from being pinned at the
# top of every list by a date in the year 9999.
MAX_TIME = 4_102_444_800.0
MAX_PHOTOS = 3
MAX_TALLY = 10_000
MAX_MASS_KG = 1000.0
# A free-zone day of a whole town: the DOMINO kit reports two tonnes; a hundred is no day's.
MAX_WEIGHED_KG = 100_000.0
MAX_ATTENDANCE = 100_000
# The area the map of initiatives draws: the Loire (département 42, its communes from 45.27
# to 46.18 north, 3.76 to 4.75 east) with a margin of about 20 km, so a neighbour's AMAP
# just across the border fits. A point outside is a slip (0 for 45, the two swapped), and
# one such point would shrink every village's map to a strip: the form and the bundle
# reader refuse it alike.
MAP_AREA = {"latitude": (45.05, 46.40), "longitude": (3.55, 4.95)}
# The oldest week a tally may count: the method's boxes opened after it. A week that has
# not begun yet is the form's to refuse, by the box's clock (see piratebox/impact/tally.py).
FIRST_WEEK = "2020-01-06"
# A car's seats besides the driver's; a day's drive to the market and back, and more.
MAX_SEATS = 8
MAX_RIDE_KM = 2000.0

TOO_LONG = N_("Too long: at most {limit} characters.")
CHOOSE = N_("Choose one of the options.")
GIVE_DATE = N_("Give a date, for example 2026-12-31.")
WHOLE_NUMBER = N_("Give a whole number, 0 or more.")
NOT_VALID = N_("This value is not valid.")
# Messages with {low} and {high}: the form's error line fills them in (field_range).
WHOLE_UP_TO = N_("Give a whole number from 0 to {high}, digits only.")
DECIMAL_UP_TO = N_("Give a number from 0 to {high}, e.g. 12,5 or 1 200.")
ON_THE_MAP = N_("Outside the map: give a point from {low} to {high}, in decimal degrees "
                "(the Loire and its neighbours).")


class Field:
    """One column's rule. `read` returns (the value to store, a message id or None); a
    rule that stores what it is given as it is says so in `accepts` (whether a value is
    valid), and its `read` is the same test."""

    types = (str,)  # the JSON types a bundle may carry for it
    newer = False  # a refusal may only mean that a newer version sent it
    message = NOT_VALID
    accepts = None  # a rule that cleans or converts (free text, a number) has none

    def __init__(self, null=False):
        self.null = null

    def read(self, value):
        return value, None if self.accepts is None or self.accepts(value) else self.message


class Line(Field):
    """One line of free text, cleaned."""

    clean = staticmethod(clean_line)

    def __init__(self, limit, minimum=0, short=NOT_VALID):
        super().__init__()
        self.limit, self.minimum, self.short = limit, minimum, short

    def read(self, value):
        text = self.clean(value)
        if len(text) > self.limit:
            return text, TOO_LONG
        if len(text) < self.minimum:
            return text, self.short
        return text, None


class Block(Line):
    """Several lines of free text (a description, a message), cleaned."""

    clean = staticmethod(clean_block)


class PersonName(Line):
    """Who wrote, reserved, borrowed or waits: a line with nothing invisible in it."""

    clean = staticmethod(clean_name)


class Name(Field):
    """A file's display name or folder: its own cleaner, built on the same character rule."""

    def __init__(self, cleaner):
        super().__init__()
        self.cleaner = cleaner

    def read(self, value):
        return self.cleaner(value), None


class Choice(Field):
    newer = True
    message = CHOOSE

    def __init__(self, values, null=False):
        super().__init__(null)
        self.values = frozenset(values)
        self.accepts = self.values.__contains__  # a bundle brings thousands: no Python call


class Pattern(Field):
    def __init__(self, pattern, null=False):
        super().__init__(null)
        self.pattern = pattern
        self.accepts = pattern.match


class Whole(Field):
    types = (int,)

    def __init__(self, high, low=0, null=False, message=WHOLE_NUMBER):
        super().__init__(null)
        self.low, self.high, self.message = low, high, message

    def accepts(self, value):
        return self.low <= value <= self.high


class Number(Field):
    types = (int, float)

    def __init__(self, high, low=0.0, null=False, message=NOT_VALID):
        super().__init__(null)
        self.low, self.high, self.message = low, high, message

    def read(self, value):
        # an integer of 5,000 digits has no float: compare before converting
        ok = self.low <= value <= self.high and math.isfinite(value)
        return (float(value) if ok else value), None if ok else self.message


class Flag(Field):
    types = (bool,)  # any of them is valid: no test


class Day(Field):
    """A date as YYYY-MM-DD ("" where the column allows no date); a Monday if asked, from
    `first` on if given."""

    def __init__(self, blank=False, monday=False, first=None, message=GIVE_DATE):
        super().__init__()
        self.blank, self.monday, self.first, self.message = blank, monday, first, message

    def read(self, value):
        if value == "" and self.blank:
            return value, None
        try:
            day = date.fromisoformat(value) if ISO_DAY.match(value) else None
        except ValueError:
            day = None
        if day is None or (self.monday and day.weekday() != 0):
            return value, GIVE_DATE
        if self.first and value < self.first:
            return value, self.message
        return value, None


class Photos(Field):
    """A JSON text: a list of {"full": sha256, "thumb": sha256}."""

    def accepts(self, value):
        if value == "[]":  # most objects have no photo
            return True
        try:
            photos = json.loads(value)
        except (ValueError, RecursionError):
            return False
        return isinstance(photos, list) and len(photos) <= MAX_PHOTOS and all(
            isinstance(photo, dict) and all(isinstance(photo.get(size), str)
                                            and SHA256.match(photo[size])
                                            for size in ("full", "thumb"))
            for photo in photos)


def typed_whole(text):
    """What a person typed for a count: None when left blank, else an int (-1 when it is
    no whole number), for a Whole rule to judge."""
    text = (text or "").strip()
    if not text:
        return None
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else -1


def typed_decimal(text):
    """What a person typed for a number: None when left blank, else a float (NaN when it is
    no number), for a Number rule to judge like any other value."""
    text = (text or "").strip()
    if not text:
        return None
    if not TYPED_DECIMAL.match(text):
        return math.nan
    return float(GROUPING.sub("", text).replace(",", ".").replace("−", "-"))


def typed_point(text):
    """(latitude, longitude) as typed when `text` holds both (a point pasted from a map
    app into the latitude field), else None."""
    found = TYPED_POINT.match(text or "")
    return found.groups() if found else None


def _time(null=False):
    return Number(MAX_TIME, null=null)


REPLICATED = {
    "id": Pattern(ID), "origin": Pattern(ID), "version": Whole(MAX_VERSION),
    "deleted": Flag(), "created_at": _time(), "updated_at": _time(),
}
TITLE = Line(120, minimum=1, short=N_("Give a title of at least 3 characters."))
PSEUDONYM = PersonName(60)
FIELDS = {
    Item: {
        "kind": Choice(categories.KINDS), "mode": Choice(categories.MODES),
        "title": TITLE, "description": Block(2000), "category": Choice(categories.BY_CODE),
        "condition": Choice(categories.CONDITIONS), "place": Choice(categories.PLACES),
        "place_detail": Line(120), "pseudonym": PSEUDONYM, "contact": Line(200),
        "photos": Photos(), "status": Choice(categories.STATUSES),
        "reserved_by": PSEUDONYM, "reserved_message": Line(300),
        "avoided_purchase": Flag(null=True), "lent_to": PSEUDONYM,
        "lent_until": Day(blank=True), "expires_at": _time(null=True),
        "answers": Pattern(ID, null=True), "hidden": Flag(), "network": Flag(),
        "ride_at": _time(null=True), "ride_from": Line(120), "ride_to": Line(120),
        "seats": Whole(MAX_SEATS, low=1, null=True), "km": Number(MAX_RIDE_KM, null=True),
        "riders": Whole(MAX_SEATS, null=True),
    },
    Exchange: {
        "item_id": Pattern(ID), "action": Choice(categories.ACTIONS),
        "kind": Choice(categories.KINDS), "mode": Choice(categories.MODES),
        "place": Choice(categories.PLACES), "category": Choice(categories.BY_CODE),
        "mass_kg": Number(MAX_MASS_KG), "avoided_purchase": Flag(null=True),
        "happened_at": _time(),
    },
    Event: {
        "title": TITLE, "kind": Choice(events.KINDS), "starts_at": _time(),
        "ends_at": _time(null=True), "place": Line(120), "description": Block(2000),
        "status": Choice(events.STATUSES), "proposed_by": PSEUDONYM,
        "attendance": Whole(MAX_ATTENDANCE, null=True, message=WHOLE_UP_TO),
        "kg_brought": Number(MAX_WEIGHED_KG, null=True, message=DECIMAL_UP_TO),
        "kg_taken": Number(MAX_WEIGHED_KG, null=True, message=DECIMAL_UP_TO),
    },
    Tally: {
        "week_of": Day(monday=True, first=FIRST_WEEK,
                       message=N_("Give a week from {first} on.")),
        "deposited": Whole(MAX_TALLY, message=WHOLE_UP_TO),
        "taken": Whole(MAX_TALLY, message=WHOLE_UP_TO), "note": Line(300), "photos": Photos(),
    },
    SharedFile: {
        "name": Name(names.clean_name), "folder": Name(names.clean_folder),
        "blob": Pattern(SHA256), "size": Whole(MAX_VERSION),
        "media_type": Choice(names.PREVIEW_TYPES | {""}), "hidden": Flag(),
        "network": Flag(), "expires_at": _time(null=True),
    },
    Initiative: {
        "name": Line(120, minimum=1, short=N_("Give the initiative's name.")),
        "kind": Choice(initiatives.KINDS), "theme": Choice(initiatives.THEMES),
        "commune": Line(120, minimum=1, short=N_("Give the commune.")),
        "place": Line(120), "hours": Line(200), "contact": Line(200),
        "description": Block(1000),
        **{name: Number(high, low=low, null=True, message=ON_THE_MAP)
           for name, (low, high) in MAP_AREA.items()},
        "hidden": Flag(),
    },
    Message: {
        "text": Block(500, minimum=1, short=N_("Write a message first.")),
        "pseudonym": PSEUDONYM, "hidden": Flag(),
    },
    WaitingEntry: {
        "item_id": Pattern(ID),
        "pseudonym": PersonName(60, minimum=1, short=N_("Give a name or pseudonym so the "
                                                        "owner knows who you are.")),
        "contact": Line(200),
    },
}


def _ends_after_start(values):
    ends, starts = values.get("ends_at"), values.get("starts_at")
    return ends is None or starts is None or ends >= starts


def _network_has_contact(values):
    """An object shown to other villages says how to reach its owner: they cannot come by.
    (A bundle leaves the contact out of an object no longer on offer: not judged then.)"""
    return not values.get("network") or "contact" not in values or bool(values["contact"])


def _service_not_lent(values):
    """Help and skills are given or swapped: a service cannot be lent and brought back."""
    return not (categories.is_service(values.get("category")) and values.get("mode") == "lend")


def _service_not_in_box(values):
    """A service is no thing left on the café's shelf."""
    return not (categories.is_service(values.get("category")) and values.get("place") == "box")


def _ride_says_when_and_where(values):
    """A ride says when it leaves, from and to where, and how many seats: a passenger
    needs all four (a record of an older version, without them, is no ride)."""
    if not categories.is_ride(values.get("category")):
        return True
    return (values.get("ride_at") is not None and values.get("seats") is not None
            and bool(values.get("ride_from")) and bool(values.get("ride_to")))


def _riders_within_seats(values):
    riders, seats = values.get("riders"), values.get("seats")
    return riders is None or seats is None or riders <= seats


def _both_coordinates_or_none(values):
    """A point needs its latitude and its longitude; half of one is no place."""
    return (values.get("latitude") is None) == (values.get("longitude") is None)


NEEDS_CONTACT = N_("Say how to reach you (a phone, an address…) to show the object to "
                   "other villages: they cannot come by.")
# Rules between fields: (the check, the field to blame, why, the fields it reads).
ACROSS = {
    Event: [(_ends_after_start, "ends_at", NOT_VALID, ("starts_at", "ends_at"))],
    Item: [(_network_has_contact, "contact", NEEDS_CONTACT, ("network", "contact")),
           (_service_not_lent, "mode",
            N_("Help or a skill is not lent: choose free or for another service."),
            ("category", "mode")),
           (_service_not_in_box, "place",
            N_("Help or a skill is not in the café's box: choose at home or elsewhere."),
            ("category", "place")),
           (_ride_says_when_and_where, "ride_at",
            N_("A ride says when it leaves, from and to where, and how many seats."),
            ("category", "ride_at", "ride_from", "ride_to", "seats")),
           (_riders_within_seats, "riders", N_("More passengers than seats."),
            ("riders", "seats"))],
    Initiative: [(_both_coordinates_or_none, "longitude",
                  N_("Give both the latitude and the longitude, or neither."),
                  ("latitude", "longitude"))],
}


def field_range(model, name):
    """{"low", "high", "first"} of a field's rule, for its error message's placeholders."""
    rule = FIELDS[model].get(name)
    return {key: getattr(rule, key) for key in ("low", "high", "first")
            if getattr(rule, key, None) is not None}


def on_the_map(latitude, longitude):
    """Is this point within the area the map draws (and the rules accept)?"""
    return all(low <= value <= high for value, (low, high)
               in zip((latitude, longitude), MAP_AREA.values(), strict=True))


def limits(model):
    """The longest text each field takes: what a form's maxlength says."""
    return {name: rule.limit for name, rule in FIELDS[model].items() if isinstance(rule, Line)}


def read(model, values):
    """What a form or the command line gives for `model`: (clean values, errors by field).

    Fields the rules do not know (a form's own, like a day and a time) pass unchanged.
    """
    clean, errors = dict(values), {}
    rules = FIELDS[model]
    for name, value in values.items():
        rule = rules.get(name)
        if rule is None or (value is None and rule.null):
            continue
        clean[name], problem = rule.read(value)
        if problem:
            errors[name] = problem
    for check, name, message, _reads in ACROSS.get(model, ()):
        if name not in errors and not check(clean):
            errors[name] = message
    return clean, errors


def check_change(record):
    """Just before a change is stored: the fields it sets must be valid (text is cleaned in
    place). Fields it leaves alone are not judged again: a record written by an older
    version stays usable."""
    model = type(record)
    changed = {name: getattr(record, name) for name in record._dirty if name in FIELDS[model]}
    clean, errors = read(model, changed)
    whole = {**record.__data__, **clean}
    for check, name, _message, reads in ACROSS.get(model, ()):
        if name not in errors and set(reads) & set(changed) and not check(whole):
            errors[name] = NOT_VALID
    if errors:
        raise BadInput(N_("This cannot be saved: {field} is not valid."), field=sorted(errors)[0])
    for name in changed:
        setattr(record, name, clean[name])
    return record


# --- records from a bundle ------------------------------------------------------------------

class Unusable(Exception):  # noqa: N818 - a verdict on a record, not a failure of ours
    """A record that cannot be applied here, and why (a message id and its values)."""

    def __init__(self, reason, newer=False, **params):
        super().__init__(reason.format(**params))
        self.reason, self.params, self.newer = reason, params, newer


NOT_A_RECORD = N_("it is not a record")
LACKS = N_("it lacks {field}")
INVALID = N_("its {field} is not valid")
UNKNOWN_VALUE = N_("its {field} has a value this version does not know (sent by a newer "
                   "version?)")


def read_record(model, raw, local_fields):
    """The clean fields of a record as a bundle carries it, or Unusable.

    Unknown fields are ignored, `local_fields` (never sent) too; a missing field takes the
    column's default where it has one. The record's id is never missing: it is the record.
    """
    if not isinstance(raw, dict):
        raise Unusable(NOT_A_RECORD)
    fields, across = _record_rules(model, frozenset(local_fields))
    clean = {}
    for name, types, accepts, read, rule, required in fields:
        value = raw.get(name, _MISSING)
        if type(value) not in types:
            if value is not _MISSING:
                raise Unusable(INVALID, field=name)
            if required:
                raise Unusable(LACKS, field=name)
        elif value is None or read is None:
            clean[name] = value
        elif accepts is not None:
            if not accepts(value):
                raise _refusal(rule, name)
            clean[name] = value
        else:
            clean[name], problem = read(value)
            if problem:
                raise _refusal(rule, name)
    for check, name in across:
        if not check(clean):
            raise Unusable(INVALID, field=name)
    return clean


class _Missing:
    """What a record holds of a field it does not carry: of no JSON type."""


_MISSING = _Missing()


def _refusal(rule, name):
    return Unusable(UNKNOWN_VALUE if rule.newer else INVALID, newer=rule.newer, field=name)


@functools.cache
def _record_rules(model, local_fields):
    """The rules read_record applies to a table's records, gathered once rather than at
    each of the thousands of records a bundle brings: for each field in the column order,
    its name, the JSON types it takes (None among them where it may be null), the rule's
    test of a value kept as it is (`accepts`) or else its `read` (None where every value of
    its types is valid: a flag), the rule, whether the record must carry the field; then
    (check, field) across fields.

    The types are compared exactly: a record is parsed JSON, and JSON's true is no
    number."""
    rules = {**REPLICATED, **FIELDS[model]}
    fields = []
    for name, column in model._meta.fields.items():
        if name in local_fields:
            continue
        rule = rules[name]
        always_valid = rule.accepts is None and type(rule).read is Field.read
        required = column.primary_key or (column.default is None and not column.null)
        types = frozenset(rule.types) | ({type(None)} if rule.null else set())
        fields.append((name, types, rule.accepts, None if always_valid else rule.read, rule,
                       required))
    return tuple(fields), tuple((check, name) for check, name, _message, _reads
                                in ACROSS.get(model, ()))
