"""Which records travel, and how a record from a bundle is checked and merged.

A record arrives as its full state. It is checked against the one definition of a valid
record (piratebox/rules.py) that the forms use too, unknown fields are ignored, and it
replaces the local copy only if it wins on (version, origin): the same bundles in any
order, any number of times, give the same state. A record that cannot be applied is
set aside (piratebox/sync/quarantine.py), never allowed to stop the others.
"""

import functools
import operator

from models import (
    BlobUse,
    Counter,
    Event,
    Exchange,
    Initiative,
    Item,
    ItemWord,
    Replicated,
    SharedFile,
    Tally,
    WaitingEntry,
    db,
    insert_rows,
    precedence,
)
from piratebox import rules
from piratebox.i18n import N_
from piratebox.rules import Unusable

# Board messages stay in the village (DESIGN: the sync leaves them out).
TABLES = {model._meta.table_name: model
          for model in (Item, Exchange, Event, Tally, SharedFile, WaitingEntry, Initiative)}
LOCAL_FIELDS = frozenset({"seq", "search_text", "via", "shown_seq"})  # this box's own, never sent
# What stays in the village where a record was born: who reserved or borrowed an object
# and what they wrote, who waits for it, who proposed an event. Neither the hub nor
# another village needs it.
VILLAGE_ONLY = {Item: ("reserved_by", "reserved_message", "lent_to"), Event: ("proposed_by",),
                WaitingEntry: ("pseudonym", "contact")}
# What travels only while an object is on offer to the network: how to reach its owner and
# where the object is. The hub needs it to show the offer, the other villages to answer it.
NETWORK_ONLY = {Item: ("contact", "pseudonym", "place_detail")}
UNKNOWN_TABLE = N_("its table ({table}) is one this version does not know (sent by a newer "
                   "version?)")
ID_TAKEN = N_("its id is already another box's record")
SQL_VARIABLES = 900  # under SQLite's oldest limit on bound values per statement (999)


def state_of(record):
    """A record's whole state, as this box holds it: every column but the local ones."""
    data = {name: value for name, value in record.__data__.items() if name not in LOCAL_FIELDS}
    return {"table": record._meta.table_name, "record": data}


def travelling_state(record):
    """A record as a bundle carries it: its state without what stays in the village. A
    field left out is not a blank: the box where the record was born keeps its own value
    (see merge), any other holds the column's default."""
    state = state_of(record)
    model = type(record)
    left_out = list(VILLAGE_ONLY.get(model, ()))
    if not record.is_offered_to_network():
        left_out += NETWORK_ONLY.get(model, ())
    for name in left_out:
        state["record"].pop(name, None)
    return state


def parse(line):
    """(model, clean fields) for a record line, or Unusable saying why not."""
    table = line.get("table")
    model = TABLES.get(table) if isinstance(table, str) else None
    if model is None:
        raise Unusable(UNKNOWN_TABLE, newer=isinstance(table, str),
                       table=str(table)[:32])
    return model, rules.read_record(model, line.get("record"), LOCAL_FIELDS)


def merge(model, cleans, relay, via, here):
    """Apply records of one table, each only if it wins; returns (applied, unchanged,
    [(clean, Unusable)] for those whose id is another box's record).

    One query reads the local versions of the whole batch, the losers of the comparison
    are deleted and the winners inserted by one statement prepared for the batch (see
    insert_rows). A hub relays what it receives, so applied records get new local sequence
    numbers there; a box never re-sends what came from its hub (sequence 0). `via` is the
    peer that delivered them; `here` this box's id: a record of ours that comes back keeps
    our values of the fields the bundle left out (what stays in the village). The
    objects' words are kept as a change made here keeps them (models.ItemWord.keep).
    """
    latest = {}  # a record twice in one batch: its latest state only
    for clean in cleans:
        known = latest.get(clean["id"])
        if known is None or precedence(known["version"], known["origin"]) < precedence(
                clean["version"], clean["origin"]):
            latest[clean["id"]] = clean
    twice = len(cleans) - len(latest)
    cleans = list(latest.values())
    layout = _layout(model)
    local, shown = {}, {}
    for row in local_versions(model, list(latest), layout.offers):
        local[row[0]] = precedence(row[1], row[2])
        shown[row[0]] = row[3] if layout.offers else None
    taken = [(clean, Unusable(ID_TAKEN)) for clean in cleans
             if clean["id"] in local and local[clean["id"]][1] != clean["origin"]]
    winners = [clean for clean in cleans if clean["id"] not in local
               or local[clean["id"]] < precedence(clean["version"], clean["origin"])]
    winners = [clean for clean in winners if clean["id"] not in local
               or local[clean["id"]][1] == clean["origin"]]
    if not winners:
        return 0, len(cleans) - len(taken) + twice, taken
    replaced = [clean["id"] for clean in winners if clean["id"] in local]
    mine = [clean["id"] for clean in winners if clean["id"] in local and clean["origin"] == here]
    ours = {row.id: row.__data__ for row in model.select().where(model.id.in_(mine))
            } if mine else {}
    before = list(ItemWord.stored(replaced)) if model is Item else ()
    if replaced:
        model.delete().where(model.id.in_(replaced)).execute()
    first_seq = Counter.take("seq", len(winners)) if relay else 0
    records, stored = [], []
    for number, clean in enumerate(winners):
        row = layout.row_of(clean)
        our_copy = ours.get(clean["id"])
        if our_copy is not None:
            for name in layout.kept - clean.keys():
                row[name] = our_copy[name]
        row["seq"], row["via"] = first_seq + number if relay else 0, via
        if layout.offers:
            row["shown_seq"] = shown.get(clean["id"])
        if layout.searchable:
            row["search_text"] = model.search_text_of(row)
        if layout.has_rules:
            record = record_over(model, row)
            record.note_offer()
            records.append(record)
        stored.append(row)
    insert_rows(model, [layout.values(row) for row in stored])
    if model is Item:
        ItemWord.keep(stored, here, before)
    BlobUse.refresh(records, here=None if relay else here, known=replaced)
    Counter.witness("lamport", max(clean["version"] for clean in winners))
    return len(winners), len(cleans) - len(winners) - len(taken) + twice, taken


class Layout:
    """What merge needs of a table, gathered once rather than at each record: a row with
    every column at its default, to be filled by a record's clean fields."""

    def __init__(self, model):
        fields = model._meta.sorted_fields
        self.columns = tuple(field.name for field in fields)
        self.blank = {field.name: None if callable(field.default) else field.default
                      for field in fields}
        # a default drawn anew for each row (a new id): only where the record brings none
        self.drawn = tuple((field.name, field.default) for field in fields
                           if callable(field.default))
        self.values = operator.itemgetter(*self.columns)
        # what a record of ours that comes back keeps of ours when the bundle leaves it out
        self.kept = frozenset(self.columns) - LOCAL_FIELDS
        self.offers = "shown_seq" in model._meta.fields  # an object or a file: Item.shown_seq
        self.searchable = hasattr(model, "search_text_of")
        # whether a row needs its model's own rules (see record_over): an offer to note, or
        # blobs to count as used (an event of the give box has neither)
        self.has_rules = self.offers or model.blob_hashes is not Replicated.blob_hashes

    def row_of(self, clean):
        """A full row for a record's clean fields: the defaults where it has none."""
        row = {**self.blank, **clean}
        for name, draw in self.drawn:
            if name not in clean:
                row[name] = draw()
        return row


@functools.cache
def _layout(model):
    return Layout(model)


def record_over(model, row):
    """The model instance of a full row, for the model's own rules (what it offers to the
    network, which blobs it needs). Peewee's constructor would draw every default anew (a
    random id the record replaces) and set each field one by one: the row is complete."""
    record = model(__no_default__=True)
    record.__data__ = row
    return record


def local_versions(model, ids, offers):
    """(id, version, origin[, shown_seq]) of the local copies of these records, a few
    hundred ids a statement (SQLite's oldest limit on bound values is 999)."""
    table = model._meta.table_name
    columns = "id, version, origin" + (", shown_seq" if offers else "")
    for start in range(0, len(ids), SQL_VARIABLES):
        chunk = ids[start:start + SQL_VARIABLES]
        yield from db.execute_sql(
            f'SELECT {columns} FROM "{table}" '  # noqa: S608 - our names, values bound
            f"WHERE id IN ({', '.join([db.param] * len(chunk))})", chunk)


def blobs_of(model, clean):
    """The blobs a record needs, {hash: kind}, from its clean fields."""
    return record_over(model, _layout(model).row_of(clean)).blob_hashes()
