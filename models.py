"""Every table of the box, and the database handle: the schema lives here and only here.

Records that travel between boxes derive from `Replicated` (see docs/data-model.md):
a global id made where the record was born, the origin box, a Lamport version, a
tombstone instead of a delete, and a local change sequence that sync reads.
Schema changes are numbered migrations in `MIGRATIONS`, applied by `migrate()`.
"""

import base64
import json
import re
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
    Select,
    TextField,
    Value,
    fn,
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
        return instances(model, db.execute_sql(sql, self._bind(params, values)))

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


def id_slots(count):
    """`count` slots for ids, "id0", "id1"...: `Model.id.in_(id_slots(count))` in a
    prepared query (see by_ids)."""
    return [slot(f"id{number}") for number in range(count)]


def by_ids(prepared, ids):
    """{id: record} of the records `prepared` (built as `build(count)`, its filter
    `Model.id.in_(id_slots(count))`) finds among `ids`. The count is rounded up to a
    power of two, the last id repeated: a few SQL texts serve a list of any length."""
    if not ids:
        return {}
    count = 1 << (len(ids) - 1).bit_length()
    values = {f"id{number}": ids[min(number, len(ids) - 1)] for number in range(count)}
    return {record.id: record for record in prepared.rows(count, **values)}


class Narrow(list):
    """A page of a list read narrow, for its kept rows (pagecache.kept_rows): each record
    as a tuple of `columns`, its id and version first, then what its row shows that its
    version does not say (a download count). Only the records whose row is not kept are
    read whole and made into objects: `whole(ids)`, {id: record}, in one query."""

    def __init__(self, rows, columns, whole):
        super().__init__(rows)
        self.columns = columns
        self.whole = whole

    def ids(self):
        return [row[0] for row in self]

    def row_of(self, record):
        """What the narrow read would say of this record."""
        return tuple(getattr(record, name) for name in self.columns)


# PostgreSQL takes up to 65,535 bound values a statement; each statement is a round trip
# and a parse of its own
POSTGRES_VARIABLES = 30_000


def insert_rows(model, rows, fields=None, or_ignore=False):
    """Insert rows (values in the order of `fields`, the model's by default) with one
    statement prepared for all: SQLite runs it once per row (executemany), PostgreSQL
    takes many rows per statement (one round trip each). Peewee builds each row's SQL
    anew, in Python: most of the time a hub's import took, and a sixth of a board post's.
    `or_ignore`: a row whose key is already there is left as it is. Only the model's own
    names go into the text; every value is bound."""
    fields = fields or model._meta.sorted_fields
    columns = ", ".join(f'"{field.column_name}"' for field in fields)
    statement = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES '  # noqa: S608
    ignoring = " ON CONFLICT DO NOTHING" if or_ignore else ""
    row_of_params = f"({', '.join([db.param] * len(fields))})"
    if not isinstance(db.obj, PostgresqlDatabase):
        db.cursor().executemany(statement + row_of_params + ignoring, rows)
        return
    per_statement = max(1, POSTGRES_VARIABLES // len(fields))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start:start + per_statement]
        db.execute_sql(statement + ", ".join([row_of_params] * len(chunk)) + ignoring,
                       [value for row in chunk for value in row])


def stored_row(record):
    """A record's values as its table stores them, in its fields' order (for insert_rows):
    each through its field's db_value, as peewee's save() would; a field never set is NULL."""
    data = record.__data__
    return tuple(field.db_value(data.get(field.name))
                 for field in type(record)._meta.sorted_fields)


# The type each kind of field's python_value gives back unchanged: a value read as that
# type needs no conversion, and neither does NULL (peewee's fields give None back as None).
STORED_AS_READ = {CharField: str, TextField: str, BigIntegerField: int, FloatField: float}


def row_layout(model, columns):
    """How `instances` reads a row of these columns: (index, name, converter, its type,
    is_field) of each name once. Made once per model and columns (a prepared query's are
    always the same): reading twenty columns' names cost a query of a few rows more than
    its rows."""
    key = (model, columns)
    layout = _row_layouts.get(key)
    if layout is not None:
        return layout
    combined = model._meta.combined
    layout, named = [], set()
    for index, column in enumerate(columns):
        column = column[column.rfind(".") + 1:].strip('()"`')
        field = combined.get(column)  # by field name or column name
        is_field = field is not None
        name = field.name if is_field else column
        if name not in named:
            named.add(name)
            layout.append((index, name, field.python_value if is_field else None,
                           STORED_AS_READ.get(type(field)), is_field))
    if len(_row_layouts) >= MAX_ROW_LAYOUTS:  # the code's queries are a few dozen shapes
        _row_layouts.clear()
    _row_layouts[key] = layout = tuple(layout)
    return layout


_row_layouts = {}
MAX_ROW_LAYOUTS = 512


def instances(model, cursor):
    """The cursor's rows as instances of `model`, the ones `model.raw` makes: each column
    of a field under the field's name through its python_value, any other column as an
    attribute, nothing marked as changed. Peewee sets each field through its descriptor,
    one call per field and row: a list page's twenty to forty rows of twenty fields cost
    a router more than rendering them (their rows are kept: see pagecache.row)."""
    layout = row_layout(model, tuple(description[0] for description in cursor.description))
    found = []
    for row in cursor:
        record = model.__new__(model)
        data = record.__data__ = {}
        record._dirty, record.__rel__ = set(), {}
        for index, name, convert, as_read, is_field in layout:
            value = row[index]
            if convert is not None and value is not None and type(value) is not as_read:
                value = convert(value)
            if is_field:
                data[name] = value
            else:
                setattr(record, name, value)
        found.append(record)
    return found


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
    the order this box saw them (what changed since a peer's acknowledgement);
    `exchanges_added` and `exchanges_changed` count the exchange rows written (see
    EXCHANGE_COUNTERS).
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

    # and every batch of records a bundle brings moves the clock
    _raise = Prepared(lambda: Counter.update(value=slot("seen")).where(
        (Counter.name == slot("name")) & (Counter.value < slot("seen"))))

    @classmethod
    def witness(cls, name, seen):
        """Raise the counter to at least `seen` (Lamport's receive rule)."""
        if not cls._raise.execute(name=name, seen=seen) and cls._value.scalar(
                name=name) is None:
            cls.insert(name=name, value=seen).execute()

    @classmethod
    def current(cls, name):
        value = cls._value.scalar(name=name)
        return 0 if value is None else value


class Replicated(BaseModel):
    """Base of every record that travels between boxes.

    Never call `save()` on a change of your own: call `save_change()` (through
    `Actor.save`, which checks the change first), which stamps the record with a new
    Lamport version and local sequence in the same transaction.
    """

    id = CharField(primary_key=True, max_length=26, default=new_id)
    origin = CharField(max_length=26)
    version = BigIntegerField()
    seq = BigIntegerField(index=True)
    deleted = BooleanField(default=False)
    created_at = FloatField()
    updated_at = FloatField()
    # Local: the peer whose bundle brought the current state (None: changed here). A hub
    # does not send a box back what that box itself delivered.
    via = CharField(max_length=26, null=True)

    def save_change(self, box_id, now):
        """Record a local change: new version, new sequence number, wall time for display."""
        is_new = self.created_at is None
        with db.atomic():
            # before the counters' rows: an import takes this lock, then those rows
            wait_for_other_writers()
            self.version = Counter.next("lamport")
            self.seq = Counter.next("seq")
            self.via = None
            if not self.origin:
                self.origin = box_id
            if is_new:
                self.created_at = now
            self.updated_at = now
            self.note_offer()
            if is_new:
                insert_rows(type(self), [stored_row(self)])
                self._dirty.clear()
            else:
                self.save()
            BlobUse.refresh([self], known=() if is_new else None)
        return self

    def blob_hashes(self):
        """The blobs this record needs, as {hash: kind}."""
        return {}

    def is_offered_to_network(self):
        """Is this record, now, one the network shows of its village?"""
        return False

    def note_offer(self):
        """Remember the first change at which this record was on offer to the network here
        (its `seq`, just given): see Item.shown_seq."""
        if getattr(self, "shown_seq", 0) is None and self.is_offered_to_network():
            self.shown_seq = self.seq

    def shows_blobs(self):
        """May anyone see this record's blobs (its photos)?"""
        return False

    def tombstone(self, box_id, now):
        self.deleted = True
        return self.save_change(box_id, now)

    def wins_over(self, version, origin):
        return precedence(self.version, self.origin) > precedence(version, origin)

    @classmethod
    def live(cls):
        return cls.select().where(cls.deleted == False)  # noqa: E712 (peewee expression)

    @classmethod
    def id_and_version(cls):
        """Which records, each at its version: what a list read narrow first reads of them
        (a kept page's fingerprint, a kept row's key)."""
        return (cls.id, cls.version)


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


def photo_blobs(photos):
    """{hash: kind} of a record's photo list: each photo is a full size and a thumbnail."""
    needed = {}
    for photo in photos:
        needed[photo.get("full")] = "photo"
        needed[photo.get("thumb")] = "thumb"
    needed.pop(None, None)
    return needed


def blobs_of_photos(text):
    """photo_blobs of a record's `photos` field, its JSON text."""
    if not text or text == "[]":  # most objects have none, and a hub reads thousands
        return {}
    return photo_blobs(json.loads(text))


# The accents of Latin letters once NFKD has split them off (U+034F, a joiner, is none):
# one substitution takes them out. The table above, a lookup per character and ten times
# slower, is needed only for a text that holds characters beyond them.
LATIN_MARKS = re.compile("[\u0300-\u034e\u0350-\u036f]")
BEYOND_LATIN_MARKS = re.compile("[^\x00-\u036f]")


def fold(text):
    """Lower case without accents: "Étagère" and "etagere" search alike, on every database."""
    decomposed = LATIN_MARKS.sub("", unicodedata.normalize("NFKD", text or ""))
    if BEYOND_LATIN_MARKS.search(decomposed):
        decomposed = decomposed.translate(WITHOUT_MARKS)
    return decomposed.casefold()


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

    @classmethod
    def note(cls, digest, size, kind, now):
        """Record a blob just stored (nothing changes if it was stored already)."""
        insert_rows(cls, [(digest, size, kind, now)],
                    (cls.hash, cls.size, cls.kind, cls.created_at), or_ignore=True)


class BlobUse(BaseModel):
    """Which live record needs which blob, and whether visitors may see it through that
    record. Local, kept with every change and merge: a photo is served only while a
    visible record shows it, and a blob no record uses gives its space back."""

    hash = CharField(max_length=64)
    record_id = CharField(max_length=26, index=True)
    shown = BooleanField()

    class Meta:
        primary_key = CompositeKey("hash", "record_id")

    @classmethod
    def refresh(cls, records, here=None, known=None):
        """Re-read what `records` (current states, of one or several tables) need.

        `here`: a village box's id. There, another village's record needs its blobs only
        while it is on offer to the network: what was given, taken or taken back gives its
        space back (a hub keeps every box's blobs, to send them back after a restore).
        `known`: the ids among them that had a state here before (None: any may have); a
        record new here has no uses to forget, and a hub's import is mostly new records."""
        records = [record for record in records if type(record).blob_hashes
                   is not Replicated.blob_hashes]
        known = None if known is None else set(known)
        for start in range(0, len(records), BATCH):
            batch = records[start:start + BATCH]
            forget = [record.id for record in batch if known is None or record.id in known]
            if forget:
                cls.delete().where(cls.record_id.in_(forget)).execute()
            rows = [(digest, record.id, record.shows_blobs())
                    for record in batch if not record.deleted and (
                        here is None or record.origin == here
                        or record.is_offered_to_network())
                    for digest in record.blob_hashes()]
            if rows:
                insert_rows(cls, rows, (cls.hash, cls.record_id, cls.shown), or_ignore=True)


BATCH = 300  # rows per statement: under SQLite's oldest limit of 999 bound values


def precedence(version, origin):
    """Last writer wins on (version, origin): a total order every box computes alike. The
    greater of two states of a record is the one the merge keeps."""
    return (version, origin)


def this_box():
    """This box's id, as a subquery: a query that compares a record's origin with it stays
    one statement, whatever the caller knows of the box."""
    return Setting.select(Setting.value).where(Setting.key == "box_id")


class Item(Replicated):
    """An offer (give, lend, swap) or a request, in the give box or at someone's home."""

    OPEN = ("available", "reserved", "lent")  # still to be had (or given back)

    kind = CharField(max_length=8)  # offer | request
    mode = CharField(max_length=8)  # give | lend | swap
    title = CharField(max_length=120)
    description = TextField(default="")
    category = CharField(max_length=32)
    condition = CharField(max_length=16, default="")
    place = CharField(max_length=16)  # box | home | elsewhere
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
    # Local: this box's change sequence when the object was first on offer to the network
    # here. A hub sends an object's removal only to the boxes it may have reached.
    shown_seq = BigIntegerField(null=True)
    # A ride (category "rides", piratebox/catalogue/rides.py): when it leaves, from and to
    # where, the seats offered (asked, for a request), the distance the driver gives, and
    # how many rode, as the driver confirmed after it (None: not confirmed).
    ride_at = FloatField(null=True, index=True)
    ride_from = CharField(max_length=120, default="")
    ride_to = CharField(max_length=120, default="")
    seats = BigIntegerField(null=True)
    km = FloatField(null=True)
    riders = BigIntegerField(null=True)

    def photo_list(self):
        return json.loads(self.photos or "[]")

    def blob_hashes(self):
        return blobs_of_photos(self.photos)

    def shows_blobs(self):
        return not self.deleted and not self.hidden

    def is_offered_to_network(self):
        return self.network and not self.deleted and self.status in self.OPEN

    @classmethod
    def offered_to_network(cls):
        """What the network shows of other villages: their open offers and requests marked
        for it. Given, taken, withdrawn or deleted, an object is history, not an offer."""
        return (cls.network == True) & (cls.deleted == False) & cls.status.in_(cls.OPEN)  # noqa: E712

    @classmethod
    def card_fields(cls):
        """What a list shows of each object: fewer columns to build, fetch and hydrate."""
        return (cls.id, cls.version, cls.origin, cls.title, cls.kind, cls.mode, cls.status,
                cls.category, cls.place, cls.photos, cls.created_at, cls.ride_at)

    def refresh_search_text(self):
        self.search_text = self.search_text_of(self.__data__)

    @staticmethod
    def search_text_of(values):
        """What a search looks in, from an object's fields (a record as a bundle brings it)."""
        return fold(" ".join((values["title"], values["description"], values["place_detail"],
                              values.get("ride_from", ""), values.get("ride_to", ""))))

    @classmethod
    def listed(cls):
        """What visitors see: not deleted, not hidden by moderation, and born here or on
        offer to the network (a village's own objects stay in it; a hub shows the
        network's offers only)."""
        return cls.live().where((cls.hidden == False)  # noqa: E712
                                & ((cls.origin == this_box()) | cls.offered_to_network()))

    @classmethod
    def of_this_box(cls):
        """This box's own objects as the lists show them, newest first."""
        return cls.listed().where(cls.origin == this_box()).order_by(cls.created_at.desc())

    @classmethod
    def in_cafe_box(cls):
        """What the café's give box holds now: this box's objects there, still available."""
        return cls.of_this_box().where((cls.place == "box") & (cls.status == "available"))

    @classmethod
    def search(cls, query, patterns, driver=None):
        """Objects whose folded text holds every pattern (see like_pattern). `driver`: one
        of them held by few objects (catalogue.logic.FEW): those are read first, each by
        its key, then checked as any, where otherwise every listed object's text is read."""
        for pattern in patterns:
            query = query.where(contains_pattern(cls.search_text, pattern))
        if driver is None:
            return query
        found = ItemWord.holding(driver).distinct().alias("found")
        # SQLite keeps a CROSS JOIN's order: it would otherwise read every listed object
        return query.from_(NodeList((found, SQL("CROSS JOIN"), cls))).where(
            cls.id == found.c.item_id)

    def save_change(self, box_id, now):
        """Replicated.save_change, the object's words kept in the same transaction."""
        with db.atomic():
            wait_for_other_writers()  # the words' table: see there
            before = () if self.created_at is None else list(ItemWord.stored([self.id]))
            super().save_change(box_id, now)
            ItemWord.keep([self.__data__], box_id, before)
        return self


def words_of(text):
    """The words a search finds in a folded text: a query's word (no blank in it, see
    catalogue.logic.Search) matches inside one of them or not at all, so looking for it
    among these is looking for it in the text."""
    return set(text.split())


class Word(BaseModel):
    """Every word some object's text held here: a search looks for its words among these
    (a village's vocabulary, a few thousand, not every object's text), then reads which
    objects hold the matches (ItemWord). Local, rebuilt from the objects wherever they
    are; a word goes with the last object that held it (see ItemWord.keep): a search reads
    every word, so they are never more than the words of the objects a search may show."""

    text = TextField(primary_key=True)


class ItemWord(BaseModel):
    """Which object holds which word: every object a visitor may be shown (see
    ItemWord.indexes), kept by ItemWord.keep from each path that writes one. Local. One
    tree, by word: what an object held is read from its text as it was stored."""

    word = TextField()
    item_id = CharField(max_length=26)

    class Meta:
        primary_key = CompositeKey("word", "item_id")

    @staticmethod
    def indexes(row, here):
        """Whether a search may ever show this object here (a superset of Item.listed that
        a status or moderation change leaves alone): at a hub, only the network's offers
        of its 300 villages, not every object their bundles bring."""
        return not row["deleted"] and (row["network"] or row["origin"] == here)

    @classmethod
    def holding(cls, pattern):
        """The ids of the objects with a word that matches `pattern` (see like_pattern):
        the words read first (a join costs a third less than `IN` and its temporary table)."""
        return (cls.select(cls.item_id).from_(NodeList((Word, SQL("CROSS JOIN"), cls)))
                .where((cls.word == Word.text) & contains_pattern(Word.text, pattern)))

    @classmethod
    def objects_up_to(cls, pattern, most):
        """How many objects hold a word that matches `pattern`, counted up to `most` (an
        object with two such words counts twice): a scalar subquery."""
        return Select([cls.holding(pattern).limit(most).alias("held")], [fn.COUNT(SQL("*"))])

    COLUMNS = ("id", "search_text", "deleted", "network", "origin")

    @classmethod
    def stored(cls, ids):
        """What keep needs of these objects as they are stored (those there)."""
        ids = list(ids)
        for start in range(0, len(ids), BATCH):
            chunk = ids[start:start + BATCH]
            yield from cls.stored_where(f"id IN ({', '.join([db.param] * len(chunk))})", chunk)

    @classmethod
    def stored_where(cls, condition, params):
        """What keep needs of the objects that meet `condition` (SQL, with `params`)."""
        for row in db.execute_sql(
                f"SELECT {', '.join(cls.COLUMNS)} FROM item WHERE {condition}", params):  # noqa: S608
            yield dict(zip(cls.COLUMNS, row, strict=True))

    @classmethod
    def keep(cls, rows, here, before=()):
        """Bring the words of these objects (rows as stored, search_text included) up to
        date; `before`: the rows they replace (see stored). Only what changed is written:
        a reservation or a loan changes no word, and the flash wears. WORDS_AT_ONCE objects
        at a time: a 2,000-character text holds up to 1,000 words, and a router's memory
        does not hold every object's at once (a bundle's batch, an upgrade)."""
        def words(row):
            return words_of(row["search_text"]) if cls.indexes(row, here) else set()

        replaced = {row["id"]: row for row in before}
        rows = list(rows)
        for start in range(0, len(rows), WORDS_AT_ONCE):
            chunk = rows[start:start + WORDS_AT_ONCE]
            cls._change({row["id"]: words(replaced.pop(row["id"]))
                         for row in chunk if row["id"] in replaced},
                        {row["id"]: words(row) for row in chunk})
        gone = list(replaced.values())  # replaced by no row: their words go
        for start in range(0, len(gone), WORDS_AT_ONCE):
            cls._change({row["id"]: words(row) for row in gone[start:start + WORDS_AT_ONCE]}, {})

    @classmethod
    def _change(cls, held, wanted):
        """From the words objects held ({id: words}) to those they hold now."""
        gone = [(word, item_id) for item_id, words_held in held.items()
                for word in words_held - wanted.get(item_id, set())]
        new = [(word, item_id) for item_id, words_now in wanted.items()
               for word in words_now - held.get(item_id, set())]
        if gone:
            db.cursor().executemany(
                f"DELETE FROM item_word WHERE word = {db.param} AND item_id = {db.param}",  # noqa: S608
                gone)
        if new:
            insert_rows(Word, [(word,) for word in {word for word, _id in new}], or_ignore=True)
            insert_rows(cls, new)
        if gone:
            # after the new pairs: a word that only moved to another object stays
            db.cursor().executemany(
                f"DELETE FROM word WHERE text = {db.param} AND NOT EXISTS "  # noqa: S608
                f"(SELECT 1 FROM item_word WHERE word = {db.param})",
                [(word, word) for word in {word for word, _id in gone}])


# Objects whose words ItemWord.keep reads and writes together: about 45 KB of Python
# objects each at 2,000 characters of text (4.5 MB), a statement's worth of pairs each.
WORDS_AT_ONCE = 100


class PrivateKey(BaseModel):
    """The hash of a private link's token (piratebox/ownership.py). Its holder is the
    record's owner (an object's manage link, a shared file's delete link) or a claimant:
    the phone that reserved an object (keyed by the object's id), the one waiting for it
    (keyed by the waiting entry's id). Local to this box: it never travels."""

    record_id = CharField(max_length=26)
    holder = CharField(max_length=8)
    token_hash = CharField(max_length=64)

    class Meta:
        primary_key = CompositeKey("record_id", "holder")


class WaitingEntry(Replicated):
    """Someone waiting for a lendable object, in the order they joined (created_at, id); on
    a ride, a passenger who took a seat (one entry a seat)."""

    item_id = CharField(max_length=26, index=True)
    # stays in the village (never in a bundle): the hub and other villages hold ""
    pseudonym = CharField(max_length=60, default="")
    contact = CharField(max_length=200, default="")

    @classmethod
    def queue(cls, item_id):
        return cls.live().where(cls.item_id == item_id).order_by(cls.created_at, cls.id)


class Exchange(Replicated):
    """One step in an object's life, appended and never changed: the raw data of the figures.

    No pseudonym, no address: counts, never who.
    """

    item_id = CharField(max_length=26, index=True)
    action = CharField(max_length=12)
    kind = CharField(max_length=8)
    mode = CharField(max_length=8)
    place = CharField(max_length=16)
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
    """A visitor's report of an item or a board message, for the mediator. Local to this box.

    The reporter is kept as two keyed hashes, of the phone's address and of its cookie,
    never as either: enough to count a phone once, not to say who it was.
    """

    id = CharField(primary_key=True, max_length=26, default=new_id)
    subject = CharField(max_length=8, default="item")  # item | message
    item_id = CharField(max_length=26, index=True)  # the reported record's id
    reason = CharField(max_length=300, default="")
    created_at = FloatField()
    resolved = BooleanField(default=False)
    reporter_address = CharField(max_length=32, default="")
    reporter_phone = CharField(max_length=32, default="")
    # the phone had been on the box a while before reporting: only such reports hide
    reporter_known = BooleanField(default=True)


class Message(Replicated):
    """A short word on the board. Stays in the village: the sync leaves it out."""

    text = CharField(max_length=500)
    pseudonym = CharField(max_length=60, default="")
    hidden = BooleanField(default=False)


class Event(Replicated):
    """A local event; proposed by a villager, published by the mediator (or by the hub)."""

    title = CharField(max_length=120)
    kind = CharField(max_length=16)  # see piratebox/events KINDS
    starts_at = FloatField(index=True)
    ends_at = FloatField(null=True)
    place = CharField(max_length=120, default="")
    description = TextField(default="")
    status = CharField(max_length=10, default="proposed")  # proposed | published | rejected
    proposed_by = CharField(max_length=60, default="")
    # Counted by the mediator after the event (None: not counted): how many came, and at a
    # free-zone day the kilos brought and taken, weighed (never an estimate).
    attendance = BigIntegerField(null=True)
    kg_brought = FloatField(null=True)
    kg_taken = FloatField(null=True)


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

    def blob_hashes(self):
        return blobs_of_photos(self.photos)  # shown on the mediator's pages only


class Initiative(Replicated):
    """A local initiative on the map of the territory (CoCoTe's "Cartelier"): an AMAP, a
    repair café, a library... Recorded by a mediator, shown by every box of the network."""

    name = CharField(max_length=120)
    kind = CharField(max_length=16)  # see piratebox/initiatives KINDS
    theme = CharField(max_length=8)  # one of the method's five themes
    commune = CharField(max_length=120)
    place = CharField(max_length=120, default="")
    hours = CharField(max_length=200, default="")
    contact = CharField(max_length=200, default="")
    description = TextField(default="")
    latitude = FloatField(null=True)
    longitude = FloatField(null=True)
    # hidden by moderation: everywhere by its own box or the hub, on one box only by
    # another village's mediator (piratebox/moderation.py, set_hidden)
    hidden = BooleanField(default=False)


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
    shown_seq = BigIntegerField(null=True)  # local: as for an item

    def refresh_search_text(self):
        self.search_text = self.search_text_of(self.__data__)

    @staticmethod
    def search_text_of(values):
        return fold(f"{values['folder']} {values['name']}")

    @classmethod
    def row_fields(cls):
        """What the file share's list shows of each file: fifty rows a page, each built
        whole for the few that are not kept (see pagecache.kept_rows)."""
        return (cls.id, cls.version, cls.name, cls.folder, cls.size, cls.media_type,
                cls.created_at)

    def blob_hashes(self):
        return {self.blob: "file"}  # served by the file share's own pages, not as a photo

    def is_offered_to_network(self):
        return self.network and not self.deleted

    @classmethod
    def offered_to_network(cls):
        return (cls.network == True) & (cls.deleted == False)  # noqa: E712

    @classmethod
    def listed(cls, now):
        """The files visitors see: born here, or shared with the network by their village
        (a hub or a village never lists what it cannot serve)."""
        return cls.live().where(
            (cls.hidden == False) & (cls.expires_at.is_null() | (cls.expires_at > now))  # noqa: E712
            & ((cls.origin == this_box()) | cls.offered_to_network()))


class FileDownload(BaseModel):
    """How many times a file was downloaded here: local, so a download never makes a change
    to sync."""

    file_id = CharField(primary_key=True, max_length=26)
    count = BigIntegerField(default=0)


class Footfall(BaseModel):
    """How many distinct phones came to the box in a day or a week (span "day" or "week",
    starts: that day or that week's Monday, YYYY-MM-DD). Only the number: how phones were
    told apart stays in memory (piratebox/footfall.py). Local."""

    span = CharField(max_length=4)
    starts = CharField(max_length=10)
    phones = BigIntegerField(default=0)

    class Meta:
        primary_key = CompositeKey("span", "starts")


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
    # hub side: after the box was restored from a backup, every change up to this seq is
    # sent to it again, what it delivered itself included
    resend_upto = BigIntegerField(default=0)
    # hub side: the highest change sequence a bundle written for the box covered, and the
    # last bundle received from it (a return bundle names it: the box then knows the
    # hub's clock was read after its own bundle was written)
    sent_upto = BigIntegerField(default=0)
    last_received = CharField(max_length=26, null=True)
    # the blobs the peer said its records need and it lacks (its last bundle's `wants`)
    wants = TextField(default="[]")
    last_import_at = FloatField(null=True)
    last_export_at = FloatField(null=True)
    created_at = FloatField()

    @classmethod
    def boxes(cls):
        """Hub side: the enrolled boxes (revoked ones too), by name."""
        return cls.select().where(cls.role == "box").order_by(cls.name)


class PeerBlob(BaseModel):
    """Blobs a peer has: it sent them, or we sent them in a bundle it acknowledged (once
    its acknowledgement reaches `seq`). A photo goes on the stick once, not with every
    change of its object. Local."""

    peer_id = CharField(max_length=26)
    hash = CharField(max_length=64)
    seq = BigIntegerField()

    class Meta:
        primary_key = CompositeKey("peer_id", "hash")


class Quarantined(BaseModel):
    """A record a bundle brought that could not be applied: kept as it came, with why, so
    that a later version can apply it (or the mediator discard it). Local."""

    id = CharField(primary_key=True, max_length=26, default=new_id)
    peer_id = CharField(max_length=26, index=True)
    bundle_id = CharField(max_length=26)
    record_table = CharField(max_length=32)
    record_id = CharField(max_length=64)
    record_version = BigIntegerField(null=True)
    reason = CharField(max_length=200)  # a message id
    params = TextField(default="{}")  # its values, JSON
    raw = TextField()  # the record line as it came
    received_at = FloatField()


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

REPLICATED_TABLES = ("item", "exchange", "message", "event", "tally", "shared_file")


class PostgresOnly(str):
    """A statement only PostgreSQL needs: SQLite does not enforce a VARCHAR's length, and
    changing a column's declared type would mean copying the whole table on the flash."""


def index_blob_uses():
    """Migration 7: which live record needs which blob, for the records already there.
    Plain SQL, like every step, so that it replays the same on a box upgraded later."""
    param = db.obj.param
    rows = []
    for table, shown in (("item", "NOT hidden"), ("tally", "1 = 0")):
        for record_id, photos, visible in db.execute_sql(
                f"SELECT id, photos, {shown} FROM {table} WHERE NOT deleted"):  # noqa: S608
            for digest in photo_blobs(json.loads(photos or "[]")):
                rows.append((digest, record_id, bool(visible)))
    for record_id, digest in db.execute_sql("SELECT id, blob FROM shared_file WHERE NOT deleted"):
        rows.append((digest, record_id, False))
    placeholders = ", ".join([param] * 3)  # the driver's own marks, no data
    insert = ("INSERT INTO blob_use (hash, record_id, shown) VALUES "  # noqa: S608
              f"({placeholders}) ON CONFLICT DO NOTHING")
    for row in rows:
        db.execute_sql(insert, row)


def village_keeps_only_offers():
    """Migration 10: at a village box, another village's objects and files need their photos
    and content only while on offer to the network; the history they brought goes."""
    param = db.obj.param
    found = dict(db.execute_sql("SELECT key, value FROM setting WHERE key IN "
                                "('role', 'box_id')").fetchall())
    if found.get("role", "box") != "box" or "box_id" not in found:
        return
    here, open_statuses = found["box_id"], ("available", "reserved", "lent")
    statuses = ", ".join([param] * len(open_statuses))
    for table, offered in (("item", f"network AND NOT deleted AND status IN ({statuses})"),
                           ("shared_file", "network AND NOT deleted")):
        values = (here, *open_statuses) if table == "item" else (here,)
        db.execute_sql(
            "DELETE FROM blob_use WHERE record_id IN (SELECT id FROM "  # noqa: S608
            f"{table} WHERE origin <> {param} AND NOT ({offered}))", values)


def index_item_words():
    """Migration 22: the words of the objects already there (see ItemWord.keep), read
    WORDS_AT_ONCE objects at a time: a router could not hold every object's text and words
    at once, and the migration, one transaction, would fail at every start."""
    found = db.execute_sql("SELECT value FROM setting WHERE key = 'box_id'").fetchone()
    after = ""
    while True:
        rows = list(ItemWord.stored_where(
            f"NOT deleted AND id > {db.param} ORDER BY id LIMIT {db.param}",
            (after, WORDS_AT_ONCE)))
        if not rows:
            return
        ItemWord.keep(rows, found[0] if found else None)
        after = rows[-1]["id"]


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

# The database counts the exchange rows inserted, and those changed or removed, whoever
# writes them: what the figures keep between two readings may take in the new exchanges
# only when nothing else happened (piratebox/impact/exchanges.py).
EXCHANGE_COUNTERS = (
    "INSERT INTO counter (name, value) VALUES ('exchanges_added', 0)",
    "INSERT INTO counter (name, value) VALUES ('exchanges_changed', 0)",
    {"sqlite": "CREATE TRIGGER exchange_added AFTER INSERT ON exchange BEGIN UPDATE counter "
               "SET value = value + 1 WHERE name = 'exchanges_added'; END",
     "postgresql": "CREATE FUNCTION exchange_counted() RETURNS trigger AS $$ BEGIN "
                   "UPDATE counter SET value = value + 1 WHERE name = CASE TG_OP "
                   "WHEN 'INSERT' THEN 'exchanges_added' ELSE 'exchanges_changed' END; "
                   "RETURN NULL; END $$ LANGUAGE plpgsql"},
    {"sqlite": "CREATE TRIGGER exchange_changed AFTER UPDATE ON exchange BEGIN UPDATE counter "
               "SET value = value + 1 WHERE name = 'exchanges_changed'; END",
     "postgresql": "CREATE TRIGGER exchange_counted AFTER INSERT OR UPDATE OR DELETE "
                   "ON exchange FOR EACH ROW EXECUTE FUNCTION exchange_counted()"},
    {"sqlite": "CREATE TRIGGER exchange_removed AFTER DELETE ON exchange BEGIN UPDATE counter "
               "SET value = value + 1 WHERE name = 'exchanges_changed'; END",
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
        "sync that survives the field: a place that fits, who delivered a record, what a peer "
        "has, records set aside, which record needs which blob",
        [
            PostgresOnly("ALTER TABLE item ALTER COLUMN place TYPE VARCHAR(16)"),
            PostgresOnly("ALTER TABLE exchange ALTER COLUMN place TYPE VARCHAR(16)"),
            # an `answers` that is no record id was accepted from any form and refused by the
            # hub: the object keeps everything else
            "UPDATE item SET answers = NULL WHERE LENGTH(answers) <> 26",
            *[f"ALTER TABLE {table} ADD COLUMN via VARCHAR(26)" for table in REPLICATED_TABLES],
            "ALTER TABLE peer ADD COLUMN resend_upto BIGINT NOT NULL DEFAULT 0",
            "CREATE TABLE peer_blob (peer_id VARCHAR(26) NOT NULL, hash VARCHAR(64) NOT NULL, "
            "seq BIGINT NOT NULL, PRIMARY KEY (peer_id, hash))",
            "CREATE TABLE quarantined (id VARCHAR(26) PRIMARY KEY, peer_id VARCHAR(26) NOT NULL, "
            "bundle_id VARCHAR(26) NOT NULL, record_table VARCHAR(32) NOT NULL, "
            "record_id VARCHAR(64) NOT NULL, record_version BIGINT, reason VARCHAR(200) NOT NULL, "
            "params TEXT NOT NULL, raw TEXT NOT NULL, received_at REAL NOT NULL)",
            "CREATE INDEX quarantined_peer_id ON quarantined (peer_id)",
            "CREATE TABLE blob_use (hash VARCHAR(64) NOT NULL, record_id VARCHAR(26) NOT NULL, "
            "shown BOOLEAN NOT NULL, PRIMARY KEY (hash, record_id))",
            "CREATE INDEX blob_use_record_id ON blob_use (record_id)",
            index_blob_uses,
        ],
    ),
    (
        8,
        "reports counted once per phone",
        [
            "ALTER TABLE report ADD COLUMN reporter_address VARCHAR(32) NOT NULL DEFAULT ''",
            "ALTER TABLE report ADD COLUMN reporter_phone VARCHAR(32) NOT NULL DEFAULT ''",
        ],
    ),
    (
        9,
        "lending: the waiting list of an object, and private links of who reserved or waits",
        [
            "CREATE TABLE waiting_entry (" + REPLICATED_COLUMNS + ", via VARCHAR(26), "
            "item_id VARCHAR(26) NOT NULL, pseudonym VARCHAR(60) NOT NULL, "
            "contact VARCHAR(200) NOT NULL)",
            "CREATE INDEX waiting_entry_seq ON waiting_entry (seq)",
            "CREATE INDEX waiting_entry_item_id ON waiting_entry (item_id)",
            "CREATE TABLE personal_key (record_id VARCHAR(26) PRIMARY KEY, "
            "token_hash VARCHAR(64) NOT NULL)",
        ],
    ),
    (
        10,
        "sync in the field, second round: what the network was shown, what a peer lacks, "
        "offers that say how to reach their owner",
        [
            # an object shown to other villages without a contact was of no use to them:
            # every box makes the same change to the same state, so all stay alike
            "UPDATE item SET network = FALSE WHERE network AND contact = ''",
            "ALTER TABLE item ADD COLUMN shown_seq BIGINT",
            # a list shows this village's objects and the network's offers: the covering
            # index holds the two columns that say which, so lists still never read rows
            "DROP INDEX item_listing",
            "CREATE INDEX item_listing ON item (deleted, hidden, created_at, id, status, "
            "kind, mode, category, place, search_text, origin, network)",
            "ALTER TABLE shared_file ADD COLUMN shown_seq BIGINT",
            "UPDATE item SET shown_seq = seq WHERE network",
            "UPDATE shared_file SET shown_seq = seq WHERE network",
            "ALTER TABLE peer ADD COLUMN sent_upto BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE peer ADD COLUMN last_received VARCHAR(26)",
            "ALTER TABLE peer ADD COLUMN wants TEXT NOT NULL DEFAULT '[]'",
            # a box already sent bundles may hold anything the network showed until now
            "UPDATE peer SET sent_upto = (SELECT value FROM counter WHERE name = 'seq') "
            "WHERE last_export_at IS NOT NULL",
            village_keeps_only_offers,
        ],
    ),
    (
        11,
        "reports: whether the reporting phone had been on the box before",
        ["ALTER TABLE report ADD COLUMN reporter_known BOOLEAN NOT NULL DEFAULT TRUE"],
    ),
    (
        12,
        "indexes for the pages' filters, the impact figures kept up to date",
        [
            # a request's page lists the offers that answer it
            "CREATE INDEX item_answers ON item (answers)",
            # the weekly chart counts the recent exchanges from this narrow index
            "CREATE INDEX exchange_recent ON exchange (deleted, action, happened_at, origin)",
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
    (
        13,
        "one table for the hashes of every private link: an owner's, or a claimant's",
        [
            "CREATE TABLE private_key (record_id VARCHAR(26) NOT NULL, "
            "holder VARCHAR(8) NOT NULL, token_hash VARCHAR(64) NOT NULL, "
            "PRIMARY KEY (record_id, holder))",
            "INSERT INTO private_key (record_id, holder, token_hash) "
            "SELECT item_id, 'owner', token_hash FROM item_key",
            "INSERT INTO private_key (record_id, holder, token_hash) "
            "SELECT file_id, 'owner', token_hash FROM file_key",
            "INSERT INTO private_key (record_id, holder, token_hash) "
            "SELECT record_id, 'claimant', token_hash FROM personal_key",
            "DROP TABLE item_key",
            "DROP TABLE file_key",
            "DROP TABLE personal_key",
        ],
    ),
    (
        14,
        "footfall: distinct phones per day and per week, numbers only",
        ["CREATE TABLE footfall (span VARCHAR(4) NOT NULL, starts VARCHAR(10) NOT NULL, "
         "phones BIGINT NOT NULL, PRIMARY KEY (span, starts))"],
    ),
    (
        15,
        "the map of the territory's initiatives",
        [
            "CREATE TABLE initiative (" + REPLICATED_COLUMNS + ", via VARCHAR(26), "
            "name VARCHAR(120) NOT NULL, kind VARCHAR(16) NOT NULL, theme VARCHAR(8) NOT NULL, "
            "commune VARCHAR(120) NOT NULL, place VARCHAR(120) NOT NULL, "
            "hours VARCHAR(200) NOT NULL, contact VARCHAR(200) NOT NULL, "
            "description TEXT NOT NULL, latitude REAL, longitude REAL)",
            "CREATE INDEX initiative_seq ON initiative (seq)",
        ],
    ),
    (
        16,
        "events that count: how many came, the kilos weighed at a free-zone day",
        [
            "ALTER TABLE event ADD COLUMN attendance BIGINT",
            "ALTER TABLE event ADD COLUMN kg_brought REAL",
            "ALTER TABLE event ADD COLUMN kg_taken REAL",
        ],
    ),
    (
        17,
        "an initiative hidden by moderation, on one box or on the whole network",
        ["ALTER TABLE initiative ADD COLUMN hidden BOOLEAN NOT NULL DEFAULT FALSE"],
    ),
    (
        18,
        "rides beside objects: when, from and to where, seats, distance, who rode",
        [
            "ALTER TABLE item ADD COLUMN ride_at REAL",
            "ALTER TABLE item ADD COLUMN ride_from VARCHAR(120) NOT NULL DEFAULT ''",
            "ALTER TABLE item ADD COLUMN ride_to VARCHAR(120) NOT NULL DEFAULT ''",
            "ALTER TABLE item ADD COLUMN seats BIGINT",
            "ALTER TABLE item ADD COLUMN km REAL",
            "ALTER TABLE item ADD COLUMN riders BIGINT",
            # the figures read the rides that left from it, never the objects' rows
            "CREATE INDEX item_ride_at ON item (ride_at)",
        ],
    ),
    (
        19,
        "the newest change of the rides, read without reading every ride",
        # the figures page is kept while what its figures are made of has no newer change
        # (impact.changes.latest): the rides are a few of the objects
        ["CREATE INDEX item_ride_seq ON item (seq) WHERE ride_at IS NOT NULL"],
    ),
    (
        20,
        "indexes for a request's answers, the catalogue's counts and the board's page",
        [
            # SQLite chose the listing's index (deleted, hidden) over item_answers (one
            # column) and read every listed object to find a request's few answers
            "DROP INDEX item_answers",
            "CREATE INDEX item_answers_listed ON item (answers, deleted, hidden, created_at)",
            # the catalogue counts the open objects, filtered or not, from these columns
            # only (item_listing holds every object's search text; a search still reads it)
            "CREATE INDEX item_open ON item (deleted, hidden, status, origin, network, kind, "
            "mode, category, place)",
            # the board's page, newest first, read narrow (id, version) from its index alone
            "DROP INDEX message_listing",
            "CREATE INDEX message_listing ON message (deleted, hidden, created_at, id, version)",
        ],
    ),
    (
        21,
        "the file share's list, count and folders read from their index alone",
        [
            # the list is read narrow (id, version) newest first; what makes a file shown
            # (expiry, origin, network) and the folders are beside them: 60 files' rows
            # were a third of the list's query
            "DROP INDEX shared_file_listing",
            "CREATE INDEX shared_file_listing ON shared_file (deleted, hidden, created_at, id, "
            "version, expires_at, origin, network, folder)",
        ],
    ),
    (
        22,
        "the words of the objects' text, for the catalogue's search",
        [
            # no rowid in SQLite: each table is its primary key's tree, no second copy
            {"sqlite": "CREATE TABLE word (text TEXT NOT NULL PRIMARY KEY) WITHOUT ROWID",
             "postgresql": "CREATE TABLE word (text TEXT NOT NULL PRIMARY KEY)"},
            # by word only: a search reads a word's objects, a change an object's words
            # from its text as it was (half the bytes of a second tree by object)
            {"sqlite": "CREATE TABLE item_word (word TEXT NOT NULL, item_id VARCHAR(26) NOT "
                       "NULL, PRIMARY KEY (word, item_id)) WITHOUT ROWID",
             "postgresql": "CREATE TABLE item_word (word TEXT NOT NULL, item_id VARCHAR(26) "
                           "NOT NULL, PRIMARY KEY (word, item_id))"},
            index_item_words,
        ],
    ),
    (
        23,
        "the figures kept between two readings, the rides found without reading every object",
        [
            *EXCHANGE_COUNTERS,
            # the figures' rides (impact/rides.py): a ride's category and time, rides only
            "CREATE INDEX item_ride_time ON item (category, ride_at) WHERE ride_at IS NOT NULL",
        ],
    ),
]


SCHEMA_VERSION = MIGRATIONS[-1][0]


def schema_version():
    if "setting" not in db.get_tables():
        return 0
    return int(Setting.get_value("schema_version", 0))


def is_postgres():
    return isinstance(db.obj, PostgresqlDatabase)


EXCLUSIVE_LOCK_KEY = 0x636F636F  # "coco": any fixed number, the same in every process


def wait_for_other_writers():
    """Wait for any other transaction that called this (an import, a change made here)
    to end, and hold the others back until this one ends. SQLite has one writer at a time
    already; on PostgreSQL (a hub), two transactions write at once, and each reads what
    the other has not committed yet as it was: one removing an object's last holder of a
    word would delete that word while the other adds an object holding it, and that object
    would not be found by it (ItemWord.keep). Called first in a change's transaction, before
    it locks any row an import writes too (the counters'): taken after them, two
    transactions could each wait for the other."""
    if is_postgres():
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (EXCLUSIVE_LOCK_KEY,))


def for_this_engine(statement):
    """The statement as this engine takes it (None: nothing to do here). REAL is 8 bytes in
    SQLite, 4 in PostgreSQL, where a timestamp needs DOUBLE PRECISION; triggers are
    written for each engine ({"sqlite": ..., "postgresql": ...})."""
    if isinstance(statement, dict):
        statement = statement["postgresql" if is_postgres() else "sqlite"]
    if is_postgres() and statement:
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
                for statement in statements:
                    if callable(statement):
                        statement()
                    elif not isinstance(statement, PostgresOnly) or is_postgres():
                        statement = for_this_engine(statement)
                        if statement:
                            db.execute_sql(statement)
                Setting.put("schema_version", number)
    return schema_version()


def all_models():
    return [Setting, Counter, Blob, BlobUse, Item, Word, ItemWord, PrivateKey, WaitingEntry,
            Exchange, ExchangeTotal, Report, Message, Event, Tally, Initiative, SharedFile,
            FileDownload, Footfall,
            Peer, PeerBlob, Quarantined, ReceivedBundle]
