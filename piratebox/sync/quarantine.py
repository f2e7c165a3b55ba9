"""Records set aside: what a bundle brought that could not be applied, kept as it came.

A record that breaks a rule (an invalid value, a record that is not its sender's to
send, a version out of bounds) must never block the rest of its bundle, nor every later
bundle that carries it again. It is kept aside, raw, with the reason, and shown to the
mediator: on the sync page, in the sync command's summary and exit status, and at a hub,
in the return bundle to the box that sent it (the manifest's `set_aside`). A record a
newer version sent (a table or a value this version does not know) is kept the same way,
for later: each import tries the records set aside from that peer again, so once the
software is upgraded they apply by themselves. A newer state of the same record, applied
since, makes the one set aside obsolete: it goes.
"""

import json

from models import Quarantined
from piratebox import rules
from piratebox.i18n import N_
from piratebox.rules import MAX_VERSION
from piratebox.sync import records
from piratebox.sync.bundle import Unreadable, parse_json

MAX_KEPT_PER_BUNDLE = 500  # a hostile bundle cannot fill the database with refusals
MAX_RAW_BYTES = 64 * 1024  # ten times any valid record; longer is not kept to apply later
RETRY_LIMIT = 1000
REPORTED_TO_THE_BOX = 100  # entries a return bundle lists (and how many there are in all)

FOREIGN = N_("it was born on another box: a box sends only its own records")
HUB_ONLY = N_("it claims to be the hub's: only the hub writes in its own name")
TOO_NEW = N_("its version is far above anything this box has seen (at most {step} above)")
NOT_JSON = N_("it is not a JSON object (nested too deep, a number too long, or damaged)")
# The reasons a box translates when its hub reports them; any other shows as the hub's
# own sentence.
REASONS = {rules.NOT_A_RECORD, rules.LACKS, rules.INVALID, rules.UNKNOWN_VALUE,
           records.UNKNOWN_TABLE, records.ID_TAKEN, FOREIGN, HUB_ONLY, TOO_NEW, NOT_JSON}


class Kept:
    """Counts what one import set aside."""

    def __init__(self):
        self.refused = self.for_later = self.not_kept = 0

    @property
    def total(self):
        return self.refused + self.for_later


def keep(peer_id, bundle_id, line, unusable, now, kept):
    """Set one record line (a dict, or bundle.Unreadable) aside, up to a bundle's limit;
    `kept` counts it."""
    if unusable.newer:
        kept.for_later += 1
    else:
        kept.refused += 1
    if kept.total > MAX_KEPT_PER_BUNDLE:
        kept.not_kept += 1
        return
    if isinstance(line, Unreadable):
        line, raw = {}, line.text
    else:
        raw = json.dumps(line, ensure_ascii=False, sort_keys=True)
    record = line.get("record") if isinstance(line.get("record"), dict) else {}
    version = record.get("version")
    Quarantined.create(
        peer_id=peer_id, bundle_id=bundle_id, record_table=str(line.get("table", "?"))[:32],
        record_id=str(record.get("id"))[:64],
        record_version=version if isinstance(version, int) and not isinstance(version, bool)
        and 0 <= version <= MAX_VERSION else None,
        reason=unusable.reason, params=json.dumps(unusable.params),
        raw=raw if len(raw.encode("utf-8")) <= MAX_RAW_BYTES else "", received_at=now)


def waiting(peer_id, but_bundle, limit=RETRY_LIMIT):
    """What earlier bundles from `peer_id` left aside and might apply now: (entry, line)."""
    for entry in (Quarantined.select().where((Quarantined.peer_id == peer_id)
                                             & (Quarantined.bundle_id != but_bundle)
                                             & (Quarantined.raw != ""))
                  .order_by(Quarantined.received_at).limit(limit)):
        try:
            line = parse_json(entry.raw)
        except ValueError:
            continue  # no version reads it: it stays for the mediator to see and discard
        if isinstance(line, dict):
            yield entry, line


def entries(peer_id=None):
    query = Quarantined.select().order_by(Quarantined.received_at.desc())
    if peer_id:
        query = query.where(Quarantined.peer_id == peer_id)
    return query


def sentence(entry, gettext=lambda text: text):
    """Why an entry was set aside, as a sentence in the reader's language."""
    return gettext(entry.reason).format(**json.loads(entry.params or "{}"))


def reported_sentence(record, gettext):
    """Why the hub set a record of ours aside, in the reader's language when we can."""
    if record["reason"] in REASONS:
        try:
            return gettext(record["reason"]).format(**record["params"])
        except (KeyError, IndexError, ValueError):
            pass
    return record["sentence"]


def discard(entry_id):
    return Quarantined.delete().where(Quarantined.id == entry_id).execute()


def for_the_box(peer_id):
    """The manifest's `set_aside`, for the box that sent those records."""
    query = entries(peer_id)
    return {"count": query.count(), "records": [
        {"table": entry.record_table, "id": entry.record_id, "version": entry.record_version,
         "reason": entry.reason, "params": json.loads(entry.params or "{}"),
         "sentence": sentence(entry)}
        for entry in query.limit(REPORTED_TO_THE_BOX)]}


def read_report(value):
    """The hub's `set_aside`, checked: {"count", "records"} with only well-formed entries.
    A box translates a reason it knows; any other shows as the hub's English sentence."""
    if not isinstance(value, dict):
        return None
    count = value.get("count")
    listed = value.get("records") if isinstance(value.get("records"), list) else []
    kept = []
    for entry in listed[:REPORTED_TO_THE_BOX]:
        if not isinstance(entry, dict):
            continue
        fields = {name: entry.get(name) for name in ("table", "id", "sentence", "reason")}
        if not all(isinstance(text, str) and len(text) <= 400 for text in fields.values()):
            continue
        params = entry.get("params") if isinstance(entry.get("params"), dict) else {}
        if not all(isinstance(value, str) and len(value) <= 64 for value in params.values()):
            params = {}
        version = entry.get("version")
        kept.append({**fields, "params": params,
                     "version": version if isinstance(version, int) else None})
    if not isinstance(count, int) or isinstance(count, bool) or count < len(kept):
        count = len(kept)
    return {"count": count, "records": kept}

