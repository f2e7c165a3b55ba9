"""Which records travel, and how a record from a bundle is checked and merged.

A record arrives as its full state. It is checked field by field against the model
(type, length, known values where a page depends on them), unknown fields are ignored,
and it replaces the local copy only if it wins on (version, origin): the same bundles
in any order, any number of times, give the same state.
"""

import json
import math
import re

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    FloatField,
    PostgresqlDatabase,
    TextField,
)

from models import Counter, Event, Exchange, Item, SharedFile, Tally, db
from piratebox.catalogue import categories
from piratebox.events.logic import KINDS as EVENT_KINDS
from piratebox.i18n import N_
from piratebox.sync.bundle import BundleRefused

# Board messages stay in the village (DESIGN: the sync leaves them out).
TABLES = {model._meta.table_name: model for model in (Item, Exchange, Event, Tally, SharedFile)}
ID_PATTERN = re.compile(r"^[a-z2-7]{26}$")
MAX_TEXT = 100_000
LOCAL_FIELDS = {"seq", "search_text"}  # recomputed here, never taken from a bundle
KNOWN_VALUES = {
    ("item", "kind"): set(categories.KINDS),
    ("item", "mode"): set(categories.MODES),
    ("item", "place"): set(categories.PLACES),
    ("item", "status"): set(categories.STATUSES),
    ("item", "condition"): set(categories.CONDITIONS) | {""},
    ("event", "kind"): set(EVENT_KINDS),
    ("event", "status"): {"proposed", "published", "rejected"},
}


def state_of(record):
    """A record as it travels: every column but the local ones, and its table."""
    data = {name: value for name, value in record.__data__.items() if name not in LOCAL_FIELDS}
    return {"table": record._meta.table_name, "record": data}


def _valid(field, value):
    if value is None:
        return field.null
    if isinstance(field, BooleanField):
        return isinstance(value, bool)
    if isinstance(field, BigIntegerField):
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63
    if isinstance(field, FloatField):
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value))
    if isinstance(field, CharField):
        return isinstance(value, str) and len(value) <= field.max_length and "\x00" not in value
    if isinstance(field, TextField):
        return isinstance(value, str) and len(value) <= MAX_TEXT and "\x00" not in value
    return False


def parse(line):
    """(model, clean fields) for a record line; None for a table or value this version does
    not know (a newer sender: skipped, not refused). A malformed record refuses the bundle."""
    table, raw = line.get("table"), line.get("record")
    model = TABLES.get(table)
    if model is None:
        return None
    if not isinstance(raw, dict):
        raise BundleRefused(N_("Bundle refused: a record is malformed ({table})."), table=table)
    clean = {}
    for name, field in model._meta.fields.items():
        if name in LOCAL_FIELDS:
            continue
        if name not in raw:
            if field.default is None and not field.null:
                raise BundleRefused(N_("Bundle refused: a record lacks {field} ({table})."),
                                    field=name, table=table)
            continue
        if not _valid(field, raw[name]):
            raise BundleRefused(N_("Bundle refused: a record has an invalid {field} ({table})."),
                                field=name, table=table)
        clean[name] = raw[name]
    if not ID_PATTERN.match(clean["id"]) or not ID_PATTERN.match(clean["origin"]):
        raise BundleRefused(N_("Bundle refused: a record has an invalid id ({table})."),
                            table=table)
    if "photos" in clean and not _valid_photos(clean["photos"]):
        raise BundleRefused(N_("Bundle refused: a record has an invalid photos ({table})."),
                            table=table)
    for (known_table, name), allowed in KNOWN_VALUES.items():
        if known_table == table and name in clean and clean[name] not in allowed:
            return None
    return model, clean


HASH = re.compile(r"^[0-9a-f]{64}$")


def _valid_photos(text):
    try:
        photos = json.loads(text)
    except ValueError:
        return False
    return isinstance(photos, list) and all(
        isinstance(photo, dict) and all(isinstance(photo.get(size), str)
                                        and HASH.match(photo[size]) for size in ("full", "thumb"))
        for photo in photos)


def merge(model, cleans, relay):
    """Apply records of one table, each only if it wins; returns (applied, unchanged).

    One query reads the local versions of the whole batch, the losers of the comparison
    are deleted and the winners inserted by one statement prepared for the batch: a hub
    takes records at a third of the speed of bare inserts of the same rows. A hub relays
    what it receives, so applied records get new local sequence numbers there; a box
    never re-sends what came from its hub (sequence 0).
    """
    ids = [clean["id"] for clean in cleans]
    local = {}
    for start in range(0, len(ids), SQL_VARIABLES):
        chunk = ids[start:start + SQL_VARIABLES]
        local.update((row[0], (row[1], row[2])) for row in db.execute_sql(
            f'SELECT id, version, origin FROM "{model._meta.table_name}" '  # noqa: S608
            f"WHERE id IN ({', '.join([db.param] * len(chunk))})", chunk))
    winners = [clean for clean in cleans if clean["id"] not in local
               or local[clean["id"]] < (clean["version"], clean["origin"])]
    if not winners:
        return 0, len(cleans)
    replaced = [clean["id"] for clean in winners if clean["id"] in local]
    if replaced:
        model.delete().where(model.id.in_(replaced)).execute()
    first_seq = Counter.take("seq", len(winners)) if relay else 0
    fields = model._meta.sorted_fields
    defaults = {field.name: field.default for field in fields}
    made_up = [name for name, default in defaults.items() if callable(default)]
    search_text_of = getattr(model, "search_text_of", None)
    rows = []
    for number, clean in enumerate(winners):
        values = {**defaults, **clean}
        for name in made_up:
            if callable(values[name]):
                values[name] = values[name]()
        values["seq"] = first_seq + number if relay else 0
        if search_text_of:
            values["search_text"] = search_text_of(values)
        rows.append([values[field.name] for field in fields])
    insert_rows(model, rows)
    Counter.witness("lamport", max(clean["version"] for clean in winners))
    return len(winners), len(cleans) - len(winners)


SQL_VARIABLES = 900  # under SQLite's oldest limit on bound values per statement (999)


def insert_rows(model, rows):
    """Insert rows (values in the model's field order) with one statement prepared for all:
    SQLite runs it once per row (executemany), PostgreSQL takes many rows per statement
    (one round trip each). Peewee would build every row's SQL anew, most of the time an
    import took. Only the model's own names go into the text; every value is bound."""
    table = model._meta.table_name
    columns = ", ".join(f'"{field.column_name}"' for field in model._meta.sorted_fields)
    row_of_params = f"({', '.join([db.param] * len(model._meta.sorted_fields))})"
    if not isinstance(db.obj, PostgresqlDatabase):
        db.cursor().executemany(
            f'INSERT INTO "{table}" ({columns}) VALUES {row_of_params}', rows)  # noqa: S608
        return
    per_statement = max(1, SQL_VARIABLES // len(model._meta.sorted_fields))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start:start + per_statement]
        db.execute_sql(f'INSERT INTO "{table}" ({columns}) VALUES '  # noqa: S608 - our names
                       f"{', '.join([row_of_params] * len(chunk))}",
                       [value for row in chunk for value in row])


def photo_hashes(record):
    """The blobs a record needs, with the kind each is stored as."""
    needed = {}
    if isinstance(record, (Item, Tally)):
        for photo in record.photo_list():
            needed[photo.get("full")] = "photo"
            needed[photo.get("thumb")] = "thumb"
    needed.pop(None, None)
    return needed
