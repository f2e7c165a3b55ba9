"""Which records travel, and how a record from a bundle is checked and merged.

A record arrives as its full state. It is checked against the one definition of a valid
record (piratebox/rules.py) that the forms use too, unknown fields are ignored, and it
replaces the local copy only if it wins on (version, origin): the same bundles in any
order, any number of times, give the same state. A record that cannot be applied is
set aside (piratebox/sync/quarantine.py), never allowed to stop the others.
"""

from models import BlobUse, Counter, Event, Exchange, Item, SharedFile, Tally, WaitingEntry
from piratebox import rules
from piratebox.i18n import N_
from piratebox.rules import Unusable

# Board messages stay in the village (DESIGN: the sync leaves them out).
TABLES = {model._meta.table_name: model
          for model in (Item, Exchange, Event, Tally, SharedFile, WaitingEntry)}
LOCAL_FIELDS = {"seq", "search_text", "via"}  # this box's own, never taken from a bundle
UNKNOWN_TABLE = N_("its table ({table}) is one this version does not know (sent by a newer "
                   "version?)")
ID_TAKEN = N_("its id is already another box's record")
SQL_VARIABLES = 900  # under SQLite's oldest limit on bound values per statement (999)


def state_of(record):
    """A record as it travels: every column but the local ones, and its table."""
    data = {name: value for name, value in record.__data__.items() if name not in LOCAL_FIELDS}
    return {"table": record._meta.table_name, "record": data}


def parse(line):
    """(model, clean fields) for a record line, or Unusable saying why not."""
    table = line.get("table")
    model = TABLES.get(table) if isinstance(table, str) else None
    if model is None:
        raise Unusable(UNKNOWN_TABLE, newer=isinstance(table, str),
                       table=str(table)[:32])
    return model, rules.read_record(model, line.get("record"), LOCAL_FIELDS)


def merge(model, cleans, relay, via):
    """Apply records of one table, each only if it wins; returns (applied, unchanged,
    [(clean, Unusable)] for those whose id is another box's record).

    One query reads the local versions of the whole batch, the losers of the comparison
    are deleted and the winners inserted in a few statements: a hub takes a thousand
    records in the time one-by-one saves take a few dozen. A hub relays what it
    receives, so applied records get new local sequence numbers there; a box never
    re-sends what came from its hub (sequence 0). `via` is the peer that delivered them.
    """
    latest = {}  # a record twice in one batch: its latest state only
    for clean in cleans:
        known = latest.get(clean["id"])
        if known is None or (known["version"], known["origin"]) < (clean["version"],
                                                                    clean["origin"]):
            latest[clean["id"]] = clean
    twice = len(cleans) - len(latest)
    cleans = list(latest.values())
    ids = list(latest)
    local = {row[0]: (row[1], row[2]) for row in
             model.select(model.id, model.version, model.origin)
             .where(model.id.in_(ids)).tuples()}
    taken = [(clean, Unusable(ID_TAKEN)) for clean in cleans
             if clean["id"] in local and local[clean["id"]][1] != clean["origin"]]
    winners = [clean for clean in cleans if clean["id"] not in local
               or local[clean["id"]] < (clean["version"], clean["origin"])]
    winners = [clean for clean in winners if clean["id"] not in local
               or local[clean["id"]][1] == clean["origin"]]
    if not winners:
        return 0, len(cleans) - len(taken) + twice, taken
    replaced = [clean["id"] for clean in winners if clean["id"] in local]
    if replaced:
        model.delete().where(model.id.in_(replaced)).execute()
    first_seq = Counter.take("seq", len(winners)) if relay else 0
    columns = list(model._meta.fields)
    records, rows = [], []
    for number, clean in enumerate(winners):
        record = model(**clean)
        record.seq = first_seq + number if relay else 0
        record.via = via
        if hasattr(record, "refresh_search_text"):
            record.refresh_search_text()
        records.append(record)
        rows.append({name: record.__data__.get(name) for name in columns})
    per_statement = max(1, SQL_VARIABLES // len(columns))
    for start in range(0, len(rows), per_statement):
        model.insert_many(rows[start:start + per_statement]).execute()
    BlobUse.refresh(records)
    Counter.witness("lamport", max(clean["version"] for clean in winners))
    return len(winners), len(cleans) - len(winners) - len(taken) + twice, taken


def blobs_of(model, clean):
    """The blobs a record needs, {hash: kind}, from its clean fields."""
    return model(**clean).blob_hashes()
