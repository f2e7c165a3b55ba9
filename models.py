"""Every table of the box, and the database handle: the schema lives here and only here.

Records that travel between boxes derive from `Replicated` (see docs/data-model.md):
a global id made where the record was born, the origin box, a Lamport version, a
tombstone instead of a delete, and a local change sequence that sync reads.
Schema changes are numbered migrations in `MIGRATIONS`, applied by `migrate()`.
"""

import base64
import json
import secrets
import unicodedata

from peewee import (
    OP,
    SQL,
    BigIntegerField,
    BooleanField,
    CharField,
    CompositeKey,
    DatabaseProxy,
    Expression,
    FloatField,
    Model,
    NodeList,
    PostgresqlDatabase,
    TextField,
    Value,
)

db = DatabaseProxy()


def new_id():
    """A random 128-bit id, 26 lower-case base32 characters: unique without coordination."""
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=").lower()


# --- queries built once ---------------------------------------------------------------------

class Slot:
    """Where a prepared query takes a value (see `Prepared`)."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


def slot(name):
    """A value a prepared query receives at each run, as the database stores it: no field
    conversion is applied to it."""
    return Value(Slot(name), converter=False)


class Prepared:
    """A query whose SQL peewee builds once, run again and again with new values.

    Peewee turns a query into SQL at every execution: a third of a millisecond here, ten
    on a router, often more than SQLite takes to answer it. A page's queries are written
    once as `build(*shape)`, a peewee query with `slot("name")` wherever a value goes;
    their SQL is kept per engine and shape (the shape: what changes the SQL itself, such
    as which filters are on or how many words a search has).
    """

    def __init__(self, build):
        self.build = build
        self._compiled = {}

    def _sql(self, shape):
        key = (type(db.obj), shape)
        compiled = self._compiled.get(key)
        if compiled is None:
            query = self.build(*shape)
            if getattr(query, "model", None) is None:
                query = query.bind(db)
            sql, params = query.sql()
            compiled = self._compiled[key] = (getattr(query, "model", None), sql, params)
        return compiled

    @staticmethod
    def _bind(params, values):
        return [values[param.name] if isinstance(param, Slot) else param for param in params]

    def rows(self, *shape, **values):
        """The rows as model instances."""
        model, sql, params = self._sql(shape)
        return list(model.raw(sql, *self._bind(params, values)))

    def tuples(self, *shape, **values):
        _model, sql, params = self._sql(shape)
        return db.execute_sql(sql, self._bind(params, values)).fetchall()

    def scalar(self, *shape, **values):
        row = self.tuples(*shape, **values)
        return row[0][0] if row else None

    def execute(self, *shape, **values):
        """Run a write; returns how many rows it changed."""
        _model, sql, params = self._sql(shape)
        return db.execute_sql(sql, self._bind(params, values)).rowcount


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class Setting(BaseModel):
    """Small facts about this box (identity, clock floor, admin password hash...)."""

    key = CharField(primary_key=True, max_length=64)
    value = TextField()

    _value = Prepared(lambda: Setting.select(Setting.value).where(Setting.key == slot("key")))

    @classmethod
    def get_value(cls, key, default=None):
        rows = cls._value.tuples(key=key)
        return rows[0][0] if rows else default

    @classmethod
    def put(cls, key, value):
        cls.insert(key=key, value=str(value)).on_conflict(
            conflict_target=[cls.key], update={cls.value: str(value)}
        ).execute()

    @classmethod
    def values(cls, *keys):
        rows = cls.select().where(cls.key.in_(keys))
        return {row.key: row.value for row in rows}


class Counter(BaseModel):
    """Monotonic integers kept in the database, so they survive restarts and travel in backups.

    `lamport` is the logical clock of replicated records; `seq` numbers local changes in
    the order this box saw them (what changed since a peer's acknowledgement).
    """

    name = CharField(primary_key=True, max_length=32)
    value = BigIntegerField(default=0)

    @classmethod
    def next(cls, name):
        """Increment and return; call inside a transaction so the row stays locked until commit."""
        return cls.next_by(name, 1)

    @classmethod
    def take(cls, name, count):
        """Reserve `count` consecutive values; returns the first (in a transaction)."""
        return cls.next_by(name, count) - count + 1

    # every change a page makes moves two counters on: prepared, as the pages' queries are
    _add = Prepared(lambda: Counter.update(value=Counter.value + slot("step"))
                    .where(Counter.name == slot("name")))
    _value = Prepared(lambda: Counter.select(Counter.value).where(Counter.name == slot("name")))

    @classmethod
    def next_by(cls, name, step):
        if not cls._add.execute(step=step, name=name):
            cls.insert(name=name, value=step).execute()
            return step
        return cls._value.scalar(name=name)

    @classmethod
    def witness(cls, name, seen):
        """Raise the counter to at least `seen` (Lamport's receive rule)."""
        updated = cls.update(value=seen).where((cls.name == name) & (cls.value < seen)).execute()
        if not updated and cls.get_or_none(cls.name == name) is None:
            cls.insert(name=name, value=seen).execute()

    @classmethod
    def current(cls, name):
        value = cls._value.scalar(name=name)
        return 0 if value is None else value


class Replicated(BaseModel):
    """Base of every record that travels between boxes.

    Never call `save()` on a change of your own: call `save_change()`, which stamps the
    record with a new Lamport version and local sequence in the same transaction.
    """

    id = CharField(primary_key=True, max_length=26, default=new_id)
    origin = CharField(max_length=26)
    version = BigIntegerField()
    seq = BigIntegerField(index=True)
    deleted = BooleanField(default=False)
    created_at = FloatField()
    updated_at = FloatField()

    def save_change(self, box_id, now):
        """Record a local change: new version, new sequence number, wall time for display."""
        is_new = self.created_at is None
        with db.atomic():
            self.version = Counter.next("lamport")
            self.seq = Counter.next("seq")
            if not self.origin:
                self.origin = box_id
            if is_new:
                self.created_at = now
            self.updated_at = now
            self.save(force_insert=is_new)
        return self

    def tombstone(self, box_id, now):
        self.deleted = True
        return self.save_change(box_id, now)

    def wins_over(self, version, origin):
        """Last writer wins on (version, origin): a total order every box computes alike."""
        return (self.version, self.origin) > (version, origin)

    @classmethod
    def live(cls):
        return cls.select().where(cls.deleted == False)  # noqa: E712 (peewee expression)


class _WithoutMarks(dict):
    """For str.translate: drops combining marks (accents once NFKD has split them off).
    What it learns of each character is kept, for the common scripts only, so no text
    can make it grow without end."""

    def __missing__(self, code):
        kept = None if unicodedata.combining(chr(code)) else code
        if code < 0x3000:
            self[code] = kept
        return kept


WITHOUT_MARKS = _WithoutMarks()


def fold(text):
    """Lower case without accents: "Étagère" and "etagere" search alike, on every database."""
    return unicodedata.normalize("NFKD", text or "").translate(WITHOUT_MARKS).casefold()


def like_pattern(word):
    """`word` anywhere in a text, as a LIKE pattern: its own % and _ match themselves."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def contains_pattern(column, pattern):
    """`column` LIKE a pattern made by like_pattern (a value or a prepared query's slot)."""
    return Expression(column, OP.ILIKE, NodeList((pattern, SQL("ESCAPE"), "\\")))


class Blob(BaseModel):
    """A file in the content-addressed store (data/blobs): photos, shared files."""

    hash = CharField(primary_key=True, max_length=64)
    size = BigIntegerField()
    kind = CharField(max_length=16)
    created_at = FloatField()


class Item(Replicated):
    """An offer (give, lend, swap) or a request, in the give box or at someone's home."""

    kind = CharField(max_length=8)  # offer | request
    mode = CharField(max_length=8)  # give | lend | swap
    title = CharField(max_length=120)
    description = TextField(default="")
    category = CharField(max_length=32)
    condition = CharField(max_length=16, default="")
    place = CharField(max_length=8)  # box | home | elsewhere
    place_detail = CharField(max_length=120, default="")
    pseudonym = CharField(max_length=60, default="")
    contact = CharField(max_length=200, default="")
    photos = TextField(default="[]")  # JSON: [{"full": hash, "thumb": hash}]
    status = CharField(max_length=12, default="available")
    reserved_by = CharField(max_length=60, default="")
    reserved_message = CharField(max_length=300, default="")
    avoided_purchase = BooleanField(null=True)
    lent_to = CharField(max_length=60, default="")
    lent_until = CharField(max_length=10, default="")
    expires_at = FloatField(null=True)
    answers = CharField(max_length=26, null=True)  # the request this offer answers
    hidden = BooleanField(default=False)
    network = BooleanField(default=False)  # shown to neighbouring villages through the hub
    search_text = TextField(default="")

    def photo_list(self):
        return json.loads(self.photos or "[]")

    @classmethod
    def card_fields(cls):
        """What a list shows of each object: fewer columns to build, fetch and hydrate."""
        return (cls.id, cls.version, cls.title, cls.kind, cls.mode, cls.status, cls.category,
                cls.place, cls.photos, cls.created_at)

    def refresh_search_text(self):
        self.search_text = self.search_text_of(self.__data__)

    @staticmethod
    def search_text_of(values):
        """What a search looks in, from an object's fields (a record as a bundle brings it)."""
        return fold(" ".join((values["title"], values["description"], values["place_detail"])))

    @classmethod
    def listed(cls):
        """What visitors see: not deleted, not hidden by moderation."""
        return cls.live().where(cls.hidden == False)  # noqa: E712

    @classmethod
    def search(cls, query, patterns):
        """Objects whose folded text holds every pattern (see like_pattern)."""
        for pattern in patterns:
            query = query.where(contains_pattern(cls.search_text, pattern))
        return query


class ItemKey(BaseModel):
    """The hash of an item's private manage link. Local to this box: it never travels."""

    item_id = CharField(primary_key=True, max_length=26)
    token_hash = CharField(max_length=64)


class Exchange(Replicated):
    """One step in an object's life, appended and never changed: the raw data of the figures.

    No pseudonym, no address: counts, never who.
    """

    item_id = CharField(max_length=26, index=True)
    action = CharField(max_length=12)
    kind = CharField(max_length=8)
    mode = CharField(max_length=8)
    place = CharField(max_length=8)
    category = CharField(max_length=32)
    mass_kg = FloatField()
    avoided_purchase = BooleanField(null=True)
    happened_at = FloatField()


class ExchangeTotal(BaseModel):
    """The exchange events of each box added up by kind and category, kept up to date by
    the database itself (triggers, see MIGRATIONS): the figures read a few rows per box,
    never every event. Local: rebuilt from the events wherever they are."""

    origin = CharField(max_length=26)
    action = CharField(max_length=12)
    category = CharField(max_length=32)
    events = BigIntegerField()
    mass_kg = FloatField()
    answered = BigIntegerField()  # takers who answered "would you have bought it new?"
    avoided = BigIntegerField()  # ... and said yes

    class Meta:
        primary_key = CompositeKey("origin", "action", "category")


class Report(BaseModel):
    """A visitor's report of an item or a board message, for the mediator. Local to this box."""

    id = CharField(primary_key=True, max_length=26, default=new_id)
    subject = CharField(max_length=8, default="item")  # item | message
    item_id = CharField(max_length=26, index=True)  # the reported record's id
    reason = CharField(max_length=300, default="")
    created_at = FloatField()
    resolved = BooleanField(default=False)


class Message(Replicated):
    """A short word on the board. Stays in the village: the sync leaves it out."""

    text = CharField(max_length=500)
    pseudonym = CharField(max_length=60, default="")
    hidden = BooleanField(default=False)


class Event(Replicated):
    """A local event; proposed by a villager, published by the mediator (or by the hub)."""

    title = CharField(max_length=120)
    kind = CharField(max_length=16)  # repair_cafe | swap | disco_soupe | meeting | market | other
    starts_at = FloatField(index=True)
    ends_at = FloatField(null=True)
    place = CharField(max_length=120, default="")
    description = TextField(default="")
    status = CharField(max_length=10, default="proposed")  # proposed | published | rejected
    proposed_by = CharField(max_length=60, default="")


class Tally(Replicated):
    """The mediator's weekly count of what moved in the physical box without being recorded
    online, with an optional photo of the box (CoCoTe's own method). One per box and week."""

    week_of = CharField(max_length=10)  # the Monday, YYYY-MM-DD
    deposited = BigIntegerField(default=0)
    taken = BigIntegerField(default=0)
    note = CharField(max_length=300, default="")
    photos = TextField(default="[]")  # JSON: [{"full": hash, "thumb": hash}]

    def photo_list(self):
        return json.loads(self.photos or "[]")


class SharedFile(Replicated):
    """A file of the anonymous file share. The record travels; the content (a blob) stays on
    the box unless the mediator marks it for the network (see docs/files.md)."""

    name = CharField(max_length=200)  # cleaned for display; never used as a path
    folder = CharField(max_length=60, default="")
    blob = CharField(max_length=64)
    size = BigIntegerField()
    media_type = CharField(max_length=64, default="")  # what the bytes are, if previewable
    hidden = BooleanField(default=False)
    network = BooleanField(default=False)
    expires_at = FloatField(null=True)
    search_text = TextField(default="")

    def refresh_search_text(self):
        self.search_text = self.search_text_of(self.__data__)

    @staticmethod
    def search_text_of(values):
        return fold(f"{values['folder']} {values['name']}")

    @classmethod
    def listed(cls, now):
        return cls.live().where(
            (cls.hidden == False) & (cls.expires_at.is_null() | (cls.expires_at > now))  # noqa: E712
        )


class FileKey(BaseModel):
    """The hash of a shared file's private delete link. Local to this box."""

    file_id = CharField(primary_key=True, max_length=26)
    token_hash = CharField(max_length=64)


class FileDownload(BaseModel):
    """How many times a file was downloaded here: local, so a download never makes a change
    to sync."""

    file_id = CharField(primary_key=True, max_length=26)
    count = BigIntegerField(default=0)


class Peer(BaseModel):
    """The other end of a sync, with the key the two share. Local: keys never travel.

    On a box: its hub (id = the hub's box id). On a hub: one row per enrolment
    (id = the enrolment id), bound to the box's own id by its first bundle.
    """

    id = CharField(primary_key=True, max_length=26)
    role = CharField(max_length=8)  # the peer's role: hub | box
    name = CharField(max_length=120)
    commune = CharField(max_length=120, default="")  # hub side: for the figures per commune
    key = CharField(max_length=64)  # hex, HMAC-SHA256 key
    status = CharField(max_length=10, default="active")  # active | revoked
    box_id = CharField(max_length=26, null=True)  # hub side: the enrolled box's identity
    epoch = CharField(max_length=26, null=True)  # hub side: the box's current history epoch
    retired_epochs = TextField(default="[]")  # hub side: epochs a restore replaced
    acked_upto = BigIntegerField(default=0)  # our change seq the peer has confirmed
    received_upto = BigIntegerField(default=0)  # the peer's change seq we have applied
    last_import_at = FloatField(null=True)
    last_export_at = FloatField(null=True)
    created_at = FloatField()


class ReceivedBundle(BaseModel):
    """Bundles already applied: a second import is a no-op, and a fork in a box's chain of
    bundles (a cloned SD card) shows as two bundles with the same predecessor."""

    bundle_id = CharField(primary_key=True, max_length=26)
    peer_id = CharField(max_length=26, index=True)
    epoch = CharField(max_length=26)
    previous = CharField(max_length=26, null=True)
    imported_at = FloatField()


# --- migrations ---------------------------------------------------------------------------
# Written as plain SQL in the subset SQLite and PostgreSQL share, never derived from the
# models above: a box upgraded in the field replays exactly what older versions created.
# Append only; never edit a released step. tests/test_migrations.py checks that the
# result matches the models.

REPLICATED_COLUMNS = (
    "id VARCHAR(26) PRIMARY KEY, origin VARCHAR(26) NOT NULL, version BIGINT NOT NULL, "
    "seq BIGINT NOT NULL, deleted BOOLEAN NOT NULL, created_at REAL NOT NULL, "
    "updated_at REAL NOT NULL"
)

# The database keeps ExchangeTotal up to date itself, whoever writes an event (a page, a
# bundle, a restore, a test): each engine says it in its own words. A tombstone counts
# nothing.
_ADD_NEW = ("INSERT INTO exchange_total (origin, action, category, events, mass_kg, answered, "
            "avoided) SELECT NEW.origin, NEW.action, NEW.category, 1, NEW.mass_kg, "
            "CASE WHEN NEW.avoided_purchase IS NULL THEN 0 ELSE 1 END, "
            "CASE WHEN NEW.avoided_purchase THEN 1 ELSE 0 END WHERE NOT NEW.deleted "
            "ON CONFLICT (origin, action, category) DO UPDATE SET "
            "events = exchange_total.events + 1, "
            "mass_kg = exchange_total.mass_kg + excluded.mass_kg, "
            "answered = exchange_total.answered + excluded.answered, "
            "avoided = exchange_total.avoided + excluded.avoided;")
_TAKE_OLD = ("UPDATE exchange_total SET events = events - 1, mass_kg = mass_kg - OLD.mass_kg, "
             "answered = answered - CASE WHEN OLD.avoided_purchase IS NULL THEN 0 ELSE 1 END, "
             "avoided = avoided - CASE WHEN OLD.avoided_purchase THEN 1 ELSE 0 END "
             "WHERE origin = OLD.origin AND action = OLD.action AND category = OLD.category "
             "AND NOT OLD.deleted;")
EXCHANGE_TOTAL_TRIGGERS = (
    {"sqlite": "CREATE TRIGGER exchange_total_insert AFTER INSERT ON exchange "
               f"BEGIN {_ADD_NEW} END",
     "postgresql": "CREATE FUNCTION exchange_total_change() RETURNS trigger AS $$ BEGIN "
                   f"IF TG_OP <> 'INSERT' THEN {_TAKE_OLD} END IF; "
                   f"IF TG_OP <> 'DELETE' THEN {_ADD_NEW} END IF; "
                   "RETURN NULL; END $$ LANGUAGE plpgsql"},
    {"sqlite": "CREATE TRIGGER exchange_total_delete AFTER DELETE ON exchange "
               f"BEGIN {_TAKE_OLD} END",
     "postgresql": "CREATE TRIGGER exchange_total_change AFTER INSERT OR UPDATE OR DELETE "
                   "ON exchange FOR EACH ROW EXECUTE FUNCTION exchange_total_change()"},
    {"sqlite": "CREATE TRIGGER exchange_total_update AFTER UPDATE ON exchange "
               f"BEGIN {_TAKE_OLD} {_ADD_NEW} END",
     "postgresql": None},
)

MIGRATIONS = [
    (
        1,
        "identity, settings and counters",
        [
            "CREATE TABLE setting (key VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE counter (name VARCHAR(32) PRIMARY KEY, value BIGINT NOT NULL)",
            "INSERT INTO counter (name, value) VALUES ('lamport', 0)",
            "INSERT INTO counter (name, value) VALUES ('seq', 0)",
        ],
    ),
    (
        2,
        "the give-box catalogue: blobs, items, exchanges, reports",
        [
            "CREATE TABLE blob (hash VARCHAR(64) PRIMARY KEY, size BIGINT NOT NULL, "
            "kind VARCHAR(16) NOT NULL, created_at REAL NOT NULL)",
            "CREATE TABLE item (" + REPLICATED_COLUMNS + ", kind VARCHAR(8) NOT NULL, "
            "mode VARCHAR(8) NOT NULL, title VARCHAR(120) NOT NULL, description TEXT NOT NULL, "
            "category VARCHAR(32) NOT NULL, condition VARCHAR(16) NOT NULL, "
            "place VARCHAR(8) NOT NULL, place_detail VARCHAR(120) NOT NULL, "
            "pseudonym VARCHAR(60) NOT NULL, contact VARCHAR(200) NOT NULL, "
            "photos TEXT NOT NULL, status VARCHAR(12) NOT NULL, "
            "reserved_by VARCHAR(60) NOT NULL, reserved_message VARCHAR(300) NOT NULL, "
            "avoided_purchase BOOLEAN, lent_to VARCHAR(60) NOT NULL, "
            "lent_until VARCHAR(10) NOT NULL, expires_at REAL, answers VARCHAR(26), "
            "hidden BOOLEAN NOT NULL, network BOOLEAN NOT NULL, search_text TEXT NOT NULL)",
            "CREATE INDEX item_seq ON item (seq)",
            # Covers the catalogue's filters and search text: listing, counting and searching
            # read this narrow index only, never the wide rows (about 200 bytes an object).
            "CREATE INDEX item_listing ON item (deleted, hidden, created_at, id, status, "
            "kind, mode, category, place, search_text)",
            "CREATE TABLE item_key (item_id VARCHAR(26) PRIMARY KEY, "
            "token_hash VARCHAR(64) NOT NULL)",
            "CREATE TABLE exchange (" + REPLICATED_COLUMNS + ", item_id VARCHAR(26) NOT NULL, "
            "action VARCHAR(12) NOT NULL, kind VARCHAR(8) NOT NULL, mode VARCHAR(8) NOT NULL, "
            "place VARCHAR(8) NOT NULL, category VARCHAR(32) NOT NULL, mass_kg REAL NOT NULL, "
            "avoided_purchase BOOLEAN, happened_at REAL NOT NULL)",
            "CREATE INDEX exchange_seq ON exchange (seq)",
            "CREATE INDEX exchange_item_id ON exchange (item_id)",
            "CREATE TABLE report (id VARCHAR(26) PRIMARY KEY, item_id VARCHAR(26) NOT NULL, "
            "reason VARCHAR(300) NOT NULL, created_at REAL NOT NULL, resolved BOOLEAN NOT NULL)",
            "CREATE INDEX report_item_id ON report (item_id)",
        ],
    ),
    (
        3,
        "the board and the agenda",
        [
            "ALTER TABLE report ADD COLUMN subject VARCHAR(8) NOT NULL DEFAULT 'item'",
            "CREATE TABLE message (" + REPLICATED_COLUMNS + ", text VARCHAR(500) NOT NULL, "
            "pseudonym VARCHAR(60) NOT NULL, hidden BOOLEAN NOT NULL)",
            "CREATE INDEX message_seq ON message (seq)",
            "CREATE INDEX message_listing ON message (deleted, hidden, created_at)",
            "CREATE TABLE event (" + REPLICATED_COLUMNS + ", title VARCHAR(120) NOT NULL, "
            "kind VARCHAR(16) NOT NULL, starts_at REAL NOT NULL, ends_at REAL, "
            "place VARCHAR(120) NOT NULL, description TEXT NOT NULL, "
            "status VARCHAR(10) NOT NULL, proposed_by VARCHAR(60) NOT NULL)",
            "CREATE INDEX event_seq ON event (seq)",
            "CREATE INDEX event_starts_at ON event (starts_at)",
        ],
    ),
    (
        4,
        "the mediator's weekly tally of the physical box",
        [
            "CREATE TABLE tally (" + REPLICATED_COLUMNS + ", week_of VARCHAR(10) NOT NULL, "
            "deposited BIGINT NOT NULL, taken BIGINT NOT NULL, note VARCHAR(300) NOT NULL, "
            "photos TEXT NOT NULL)",
            "CREATE INDEX tally_seq ON tally (seq)",
            "CREATE INDEX tally_week_of ON tally (origin, week_of)",
        ],
    ),
    (
        5,
        "the file share",
        [
            "CREATE TABLE shared_file (" + REPLICATED_COLUMNS + ", name VARCHAR(200) NOT NULL, "
            "folder VARCHAR(60) NOT NULL, blob VARCHAR(64) NOT NULL, size BIGINT NOT NULL, "
            "media_type VARCHAR(64) NOT NULL, hidden BOOLEAN NOT NULL, "
            "network BOOLEAN NOT NULL, expires_at REAL, search_text TEXT NOT NULL)",
            "CREATE INDEX shared_file_seq ON shared_file (seq)",
            "CREATE INDEX shared_file_listing ON shared_file (deleted, hidden, created_at)",
            "CREATE INDEX shared_file_blob ON shared_file (blob)",
            "CREATE TABLE file_key (file_id VARCHAR(26) PRIMARY KEY, "
            "token_hash VARCHAR(64) NOT NULL)",
            "CREATE TABLE file_download (file_id VARCHAR(26) PRIMARY KEY, "
            "count BIGINT NOT NULL)",
        ],
    ),
    (
        6,
        "sync: peers and received bundles",
        [
            "CREATE TABLE peer (id VARCHAR(26) PRIMARY KEY, role VARCHAR(8) NOT NULL, "
            "name VARCHAR(120) NOT NULL, commune VARCHAR(120) NOT NULL, "
            "key VARCHAR(64) NOT NULL, "
            "status VARCHAR(10) NOT NULL, box_id VARCHAR(26), epoch VARCHAR(26), "
            "retired_epochs TEXT NOT NULL, acked_upto BIGINT NOT NULL, "
            "received_upto BIGINT NOT NULL, last_import_at REAL, last_export_at REAL, "
            "created_at REAL NOT NULL)",
            "CREATE TABLE received_bundle (bundle_id VARCHAR(26) PRIMARY KEY, "
            "peer_id VARCHAR(26) NOT NULL, epoch VARCHAR(26) NOT NULL, previous VARCHAR(26), "
            "imported_at REAL NOT NULL)",
            "CREATE INDEX received_bundle_peer_id ON received_bundle (peer_id)",
        ],
    ),
    (
        7,
        "indexes for the pages' filters, the impact figures kept up to date",
        [
            # a request's page lists the offers that answer it
            "CREATE INDEX item_answers ON item (answers)",
            # the weekly chart counts the recent exchanges from this narrow index
            "CREATE INDEX exchange_recent ON exchange (deleted, action, happened_at)",
            "CREATE TABLE exchange_total (origin VARCHAR(26) NOT NULL, "
            "action VARCHAR(12) NOT NULL, category VARCHAR(32) NOT NULL, "
            "events BIGINT NOT NULL, mass_kg REAL NOT NULL, answered BIGINT NOT NULL, "
            "avoided BIGINT NOT NULL, PRIMARY KEY (origin, action, category))",
            "INSERT INTO exchange_total (origin, action, category, events, mass_kg, answered, "
            "avoided) SELECT origin, action, category, COUNT(*), SUM(mass_kg), "
            "SUM(CASE WHEN avoided_purchase IS NULL THEN 0 ELSE 1 END), "
            "SUM(CASE WHEN avoided_purchase THEN 1 ELSE 0 END) FROM exchange "
            "WHERE NOT deleted GROUP BY origin, action, category",
            *EXCHANGE_TOTAL_TRIGGERS,
        ],
    ),
]

SCHEMA_VERSION = MIGRATIONS[-1][0]


def schema_version():
    if "setting" not in db.get_tables():
        return 0
    return int(Setting.get_value("schema_version", 0))


def for_this_engine(statement):
    """The statement as this engine takes it (None: nothing to do here). REAL is 8 bytes in
    SQLite, 4 in PostgreSQL, where a timestamp needs DOUBLE PRECISION; triggers are
    written for each engine ({"sqlite": ..., "postgresql": ...})."""
    postgres = isinstance(db.obj, PostgresqlDatabase)
    if isinstance(statement, dict):
        statement = statement["postgresql" if postgres else "sqlite"]
    if postgres and statement:
        return statement.replace(" REAL", " DOUBLE PRECISION")
    return statement


def migrate(upto=None, progress=None):
    """Bring the schema to `upto` (default: the newest); each step is one transaction.

    The caller refuses a database newer than this code before calling (see piratebox.database).
    """
    current = schema_version()
    target = SCHEMA_VERSION if upto is None else upto
    for number, title, statements in MIGRATIONS:
        if current < number <= target:
            if progress:
                progress(number, title)
            with db.atomic():
                for statement in map(for_this_engine, statements):
                    if statement:
                        db.execute_sql(statement)
                Setting.put("schema_version", number)
    return schema_version()


def all_models():
    return [Setting, Counter, Blob, Item, ItemKey, Exchange, ExchangeTotal, Report, Message,
            Event, Tally, SharedFile, FileKey, FileDownload, Peer, ReceivedBundle]
