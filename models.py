"""Every table of the box, and the database handle: the schema lives here and only here.

Records that travel between boxes derive from `Replicated` (see docs/data-model.md):
a global id made where the record was born, the origin box, a Lamport version, a
tombstone instead of a delete, and a local change sequence that sync reads.
Schema changes are numbered migrations in `MIGRATIONS`, applied by `migrate()`.
"""

import base64
import secrets

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DatabaseProxy,
    FloatField,
    Model,
    TextField,
)

db = DatabaseProxy()


def new_id():
    """A random 128-bit id, 26 lower-case base32 characters: unique without coordination."""
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=").lower()


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class Setting(BaseModel):
    """Small facts about this box (identity, clock floor, admin password hash...)."""

    key = CharField(primary_key=True, max_length=64)
    value = TextField()

    @classmethod
    def get_value(cls, key, default=None):
        row = cls.get_or_none(cls.key == key)
        return default if row is None else row.value

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
        updated = cls.update(value=cls.value + 1).where(cls.name == name).execute()
        if not updated:
            cls.insert(name=name, value=1).execute()
            return 1
        return cls.get_by_id(name).value

    @classmethod
    def witness(cls, name, seen):
        """Raise the counter to at least `seen` (Lamport's receive rule)."""
        updated = cls.update(value=seen).where((cls.name == name) & (cls.value < seen)).execute()
        if not updated and cls.get_or_none(cls.name == name) is None:
            cls.insert(name=name, value=seen).execute()

    @classmethod
    def current(cls, name):
        row = cls.get_or_none(cls.name == name)
        return 0 if row is None else row.value


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


# --- migrations ---------------------------------------------------------------------------
# Written as plain SQL in the subset SQLite and PostgreSQL share, never derived from the
# models above: a box upgraded in the field replays exactly what older versions created.
# Append only; never edit a released step. tests/test_migrations.py checks that the
# result matches the models.

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
]

SCHEMA_VERSION = MIGRATIONS[-1][0]


def schema_version():
    if "setting" not in db.get_tables():
        return 0
    return int(Setting.get_value("schema_version", 0))


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
                for statement in statements:
                    db.execute_sql(statement)
                Setting.put("schema_version", number)
    return schema_version()


def all_models():
    return [Setting, Counter]
