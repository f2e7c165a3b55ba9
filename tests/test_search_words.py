"""The catalogue's search reads the box's table of words (models.ItemWord): it finds exactly
the objects, in the same order, that a LIKE over every object's text finds, whichever path
wrote them (the form, an edit, a removal, expiry, a bundle's record), and the table holds
exactly the words of what a search may show."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import (
    Item,
    ItemWord,
    Setting,
    Word,
    contains_pattern,
    db,
    fold,
    like_pattern,
    migrate,
    new_id,
    words_of,
)
from piratebox import box
from piratebox.blobs import BlobStore
from piratebox.box import Actor
from piratebox.catalogue import logic
from piratebox.database import open_existing
from piratebox.storage import DataDir
from piratebox.sync import records
from tests.conftest import plan_of

ITEM = {"kind": "offer", "mode": "give", "title": "Vélo", "description": "",
        "category": "sport", "condition": "good", "place": "home", "place_detail": "",
        "pseudonym": "", "contact": "", "network": False, "answers": None}
PEER = "p" * 26
DAY = 24 * 3600

# What villagers type, and what trips a search up: accents and case, letters that fold to
# two (ß, œ), LIKE's own % _ and its escape \, punctuation, blanks that are not spaces.
ALPHABET = "aeEéÉèçœŒßiİk%_\\'-. \u00a0\t"
texts = st.text(ALPHABET, max_size=14)
queries = st.lists(st.text(ALPHABET, min_size=1, max_size=4), min_size=0, max_size=3).map(" ".join)


@pytest.fixture
def opened(data_dir):
    open_existing(data_dir)
    with db.connection_context():
        yield Actor(box.identity()["id"], 1_790_000_000.0, BlobStore(data_dir))


@pytest.fixture(params=["sqlite", "postgresql"])
def opened_on_each_engine(request, tmp_path):
    """`opened`, on a SQLite file, then on PostgreSQL (as a hub may hold its objects)."""
    folder = DataDir(tmp_path / "each")
    url = request.getfixturevalue("postgres_database") if request.param == "postgresql" else None
    box.create(folder, role="box", name="Saint-Bonnet", database_url=url)
    open_existing(folder)
    with db.connection_context():
        yield Actor(box.identity()["id"], 1_790_000_000.0, BlobStore(folder))


def by_like(query, open_only=True):
    """The search as it was: every word LIKE'd in every listed object's text."""
    found = Item.listed().select(Item.id)
    if open_only:
        found = found.where(Item.status.in_(logic.OPEN_STATUSES))
    for word in fold(query).split()[:logic.MAX_WORDS]:
        found = found.where(contains_pattern(Item.search_text, like_pattern(word)))
    return [row.id for row in found.order_by(Item.created_at.desc(), Item.id.desc())]


def by_words(query, open_only=True):
    status = "open" if open_only else "all"
    rows, count = logic.browse({"q": query, "status": status}, fields=(Item.id,))
    return [row.id for row in rows], count


def by_each_plan(query, open_only=True):
    """The search's page and count read every way it may be: from each of its words'
    objects first, and from every listed object's text."""
    search = logic.Search({"q": query, "status": "open" if open_only else "all"}, 1)
    open_only, names, words, _fewest = search.shape
    found = set()
    for driver in (None, *range(words)):
        shape = (open_only, names, words, driver)
        page = logic.PAGE.tuples((Item.id,), *shape, offset=0, **search.values)
        found.add((tuple(item_id for item_id, in page),
                   logic.COUNT.scalar(*shape, **search.values)))
    # and as a kept page reads it (every match at once when its word's objects are few)
    found.add((tuple(item_id for item_id, _version in search.versions()), search.count()))
    return found


def held_words():
    return set(db.execute_sql("SELECT item_id, word FROM item_word").fetchall())


def expected_words(here):
    return {(item.id, word) for item in Item.select()
            if ItemWord.indexes(item.__data__, here) for word in words_of(item.search_text)}


def vocabulary():
    return {word.text for word in Word.select()}


def by_bundle(actor, text, network=True, version=None, **fields):
    """An object of another village arriving in a bundle: its record read as any is."""
    line = {"table": "item", "record": {
        **{name: value for name, value in ITEM.items() if name != "answers"},
        "id": fields.pop("id", None) or new_id(), "origin": PEER, "version": version or 1,
        "created_at": actor.now, "updated_at": actor.now, "status": "available",
        "title": "T " + text, "description": text, "network": network,
        "contact": "06 12 34 56 78", **fields}}
    model, clean = records.parse(line)
    records.merge(model, [clean], relay=False, via=PEER, here=actor.box_id)
    return clean["id"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(objects=st.lists(st.tuples(texts, texts, st.sampled_from(["form", "bundle"])),
                        min_size=1, max_size=6),
       changes=st.lists(st.tuples(st.sampled_from(["edit", "delete", "expire", "renew by bundle",
                                                   "off the network", "gone by bundle"]),
                                  st.integers(0, 5), texts), max_size=4),
       searched=st.lists(queries, min_size=1, max_size=4))
def test_the_search_finds_what_like_finds_whatever_wrote_the_objects(
        opened_on_each_engine, objects, changes, searched):
    actor = opened_on_each_engine
    made = []
    for title, description, path in objects:
        actor.now += 60
        if path == "form":
            item, _token = logic.create({**ITEM, "title": "T " + title,
                                         "description": description}, [], actor)
            made.append(("form", item.id, 1))
        else:
            made.append(("bundle", by_bundle(actor, title + " " + description), 1))
    for change, which, text in changes:
        path, item_id, version = made[which % len(made)]
        item = Item.get_by_id(item_id)
        if item.deleted:
            continue
        actor.now += 60
        if path == "form":
            if change == "delete":
                logic.delete(item, actor)
            elif change == "expire":
                actor.now += 31 * DAY
                logic.expire_due(actor)
            else:
                logic.edit(item, {"title": "E " + text, "description": text}, [], actor)
        else:
            version += 1
            made[which % len(made)] = (path, item_id, version)
            by_bundle(actor, text, id=item_id, version=version,
                      network=change != "off the network",
                      deleted=change in ("delete", "gone by bundle"))
    for query in searched:
        for open_only in (True, False):
            like = by_like(query, open_only)
            assert by_each_plan(query, open_only) == {(tuple(like[:logic.PAGE_SIZE]), len(like))}
            assert by_words(query, open_only) == (like[:logic.PAGE_SIZE], len(like))
    assert held_words() == expected_words(actor.box_id)
    # a search reads every word: those of no object any more are gone with it
    assert vocabulary() == {word for _item_id, word in expected_words(actor.box_id)}


def test_an_object_arriving_by_bundle_is_found_as_one_made_by_the_form(opened):
    actor = opened
    mine, _token = logic.create({**ITEM, "title": "Étagère en chêne",
                                 "description": "Grande, 4 planches"}, [], actor)
    theirs = by_bundle(actor, "Étagère en chêne Grande, 4 planches")
    for query in ("ETAGERE", "chên", "planch 4", "grande,"):
        assert set(by_words(query)[0]) == {mine.id, theirs}, query
    assert by_words("etagere pin") == ([], 0)


def test_a_reservation_writes_no_word(opened):
    actor = opened
    item, _token = logic.create({**ITEM, "title": "Perceuse"}, [], actor)
    before = db.execute_sql("SELECT COUNT(*) FROM item_word").fetchone()[0]
    db.execute_sql("CREATE TEMP TABLE writes (n INTEGER)")
    db.execute_sql("CREATE TEMP TRIGGER counted AFTER INSERT ON item_word "
                   "BEGIN INSERT INTO writes VALUES (1); END")
    logic.reserve(item, {"reserved_by": "Anne"}, None, actor)
    assert db.execute_sql("SELECT COUNT(*) FROM writes").fetchone()[0] == 0
    assert db.execute_sql("SELECT COUNT(*) FROM item_word").fetchone()[0] == before


def test_another_villages_object_off_the_network_leaves_no_word(opened):
    actor = opened
    private = by_bundle(actor, "tondeuse", network=False)
    shown = by_bundle(actor, "tondeuse")
    assert {item_id for item_id, _word in held_words()} == {shown}
    assert by_words("tondeuse")[0] == [shown]
    assert private not in by_words("tondeuse")[0]


@pytest.mark.parametrize("filters", [{"q": "chêne"}, {"q": "chêne pin", "kind": "offer"}])
def test_a_search_reads_the_matching_words_then_their_objects(app, filters):
    """Not every listed object's text: the words that match, then each object by its key."""
    search = logic.Search(filters, 1)
    for query, shape in ((logic.COUNT, search.shape),
                         (logic.PAGE, (Item.card_fields(), *search.shape))):
        plan = plan_of(query, shape, {**search.values, "offset": 0})
        assert "USING PRIMARY KEY (word=?)" in plan
        assert "USING INDEX sqlite_autoindex_item_1 (id=?)" in plan
        assert "item_listing" not in plan and "item_open" not in plan


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_the_migration_fills_the_words_of_a_box_already_there(request, tmp_path, engine):
    """A box (or hub) of version 21 with objects: its own, another village's on offer to the
    network and not, a deleted one. Upgraded, its search finds them as before."""
    from peewee import SqliteDatabase
    from playhouse.db_url import connect

    if engine == "postgresql":
        db.initialize(connect(request.getfixturevalue("postgres_database")))
    else:
        db.initialize(SqliteDatabase(str(tmp_path / "piratebox.db")))
    with db.connection_context():
        migrate(upto=21)
        here = "h" * 26
        Setting.put("box_id", here)
        rows = [("a" * 26, here, False, False, "etagere en chene"),
                ("b" * 26, PEER, False, True, "chene massif"),
                ("c" * 26, PEER, False, False, "chene prive"),
                ("d" * 26, here, True, False, "chene perdu")]
        for number, (item_id, origin, deleted, network, text) in enumerate(rows):
            Item.insert(id=item_id, origin=origin, version=1, seq=number, deleted=deleted,
                        created_at=1.0 + number, updated_at=1.0, kind="offer", mode="give",
                        title=text, category="furniture", place="home", network=network,
                        search_text=text).execute()
        migrate()
        assert held_words() == {("a" * 26, "etagere"), ("a" * 26, "en"), ("a" * 26, "chene"),
                                ("b" * 26, "chene"), ("b" * 26, "massif")}
        assert {word.text for word in Word.select()} == {"etagere", "en", "chene", "massif"}
        assert by_words("chen")[0] == by_like("chen") == ["b" * 26, "a" * 26]


def test_a_word_in_many_objects_is_looked_for_in_every_objects_text(opened):
    actor = opened
    for number in range(logic.FEW):
        actor.now += 60
        logic.create({**ITEM, "title": f"Chêne {number}"}, [], actor)
    assert logic.Search({"q": "chene"}, 1).shape[-1] == 0  # read from its objects
    logic.create({**ITEM, "title": "Vieux chêne"}, [], actor)
    assert logic.Search({"q": "chene"}, 1).shape[-1] is None  # read from every text
    assert logic.Search({"q": "chene vieux"}, 1).shape[-1] == 1
    assert by_words("chene")[1] == logic.FEW + 1


def test_a_search_of_a_word_in_few_objects_reads_them_once_for_its_count_and_pages(
        opened, monkeypatch):
    actor = opened
    for number in range(45):
        actor.now += 60
        logic.create({**ITEM, "title": f"Chêne {number}",
                      "kind": "request" if number % 7 == 0 else "offer"}, [], actor)
    statements = []
    execute_sql = db.obj.execute_sql

    def counted(sql, *args, **kwargs):
        statements.append(sql)
        return execute_sql(sql, *args, **kwargs)

    monkeypatch.setattr(db.obj, "execute_sql", counted)
    for filters in ({"q": "chêne"}, {"q": "chêne", "kind": "offer"}):
        like = [item_id for item_id in by_like("chene")
                if "kind" not in filters or Item.get_by_id(item_id).kind == "offer"]
        for page in (1, 2, 3):
            statements.clear()
            (_rows, total), (count, versions) = logic.listing(filters, page)
            assert len(statements) == 2, "how many hold the word, then its objects"
            start = (page - 1) * logic.PAGE_SIZE
            assert [item_id for item_id, _version in versions] == like[
                start:start + logic.PAGE_SIZE]
            assert total == count == len(like)


def test_the_migration_and_a_bundle_index_a_few_objects_at_a_time(tmp_path, monkeypatch):
    """An upgrade (every object already there) and a bundle's batch of records hold the
    words of models.WORDS_AT_ONCE objects at a time, never every object's at once: a
    router's memory would not hold them."""
    from peewee import SqliteDatabase

    import models

    monkeypatch.setattr(models, "WORDS_AT_ONCE", 2)
    held_at_once = []
    keep, insert = ItemWord.keep.__func__, models.insert_rows

    def counted_keep(cls, rows, here, before=()):
        rows = list(rows)
        held_at_once.append(len(rows))
        return keep(cls, rows, here, before)

    def counted_insert(model, rows, *args, **kwargs):
        if model is ItemWord:
            held_at_once.append(len({item_id for _word, item_id in rows}))
        return insert(model, rows, *args, **kwargs)

    db.initialize(SqliteDatabase(str(tmp_path / "piratebox.db")))
    with db.connection_context():
        migrate(upto=21)
        here = "h" * 26
        Setting.put("box_id", here)
        for number in range(7):
            Item.insert(id=f"{number:026d}", origin=here, version=1, seq=number,
                        created_at=1.0, updated_at=1.0, kind="offer", mode="give",
                        title="t", category="other", place="home",
                        search_text=f"chene mot{number}").execute()
        monkeypatch.setattr(ItemWord, "keep", classmethod(counted_keep))
        migrate()
        assert held_at_once and max(held_at_once) == 2
        assert len(held_at_once) == 4  # 7 objects, 2 at a time
        assert len(held_words()) == 14
        monkeypatch.setattr(ItemWord, "keep", classmethod(keep))
        monkeypatch.setattr(models, "insert_rows", counted_insert)
        held_at_once.clear()
        cleans = [records.parse({"table": "item", "record": {
            **{name: value for name, value in ITEM.items() if name != "answers"},
            "id": new_id(), "origin": PEER, "version": 1, "created_at": 1.0,
            "updated_at": 1.0, "status": "available", "title": f"Chêne {number}",
            "network": True, "contact": "06 12 34 56 78"}})[1] for number in range(5)]
        records.merge(Item, cleans, relay=False, via=PEER, here=here)
        assert held_at_once and max(held_at_once) == 2
        assert len(by_words("chene")[0]) == 12


def test_a_search_of_words_no_object_holds_reads_the_vocabulary_once(opened):
    """A search reads every word of the box for a word held by no object: with eight such
    words, once, not once a word (and not again for its count and its page)."""
    actor = opened
    for number in range(30):
        actor.now += 60
        logic.create({**ITEM, "title": f"Chêne {number}", "description": f"mot{number}"},
                     [], actor)
    vocabulary_size = len(vocabulary())
    compared = []

    def like(pattern, value, escape):
        compared.append(value)
        escaped = re.escape(pattern.replace("\\%", "\0").replace("\\_", "\1"))
        expression = escaped.replace("%", ".*").replace("_", ".")
        return re.fullmatch(expression.replace("\0", "%").replace("\1", "_"),
                            value or "", re.IGNORECASE | re.DOTALL) is not None

    db.connection().create_function("like", 3, like)
    assert by_words("zq1 zq2 zq3 zq4 zq5 zq6 zq7 zq8") == ([], 0)
    assert len(compared) <= vocabulary_size
    compared.clear()
    assert by_words("mot7 chene") == ([by_like("mot7")[0]], 1)


def test_on_a_hub_a_word_an_edit_lets_go_stays_with_an_object_an_import_brings_meanwhile(
        tmp_path, postgres_database):
    """On PostgreSQL two transactions write at once. An import brings an object holding a
    word, not committed yet, while the mediator's edit takes that word from the only object
    that held it: the edit waits for the import, and then sees the word is still held (it
    would delete the word, and the new object would not be found by it)."""
    from threading import Event, Thread

    from piratebox import database

    folder = DataDir(tmp_path / "hub")
    box.create(folder, role="box", name="Saint-Bonnet", database_url=postgres_database)
    open_existing(folder)
    with db.connection_context():
        actor = Actor(box.identity()["id"], 1_790_000_000.0, BlobStore(folder))
        mine, _token = logic.create({**ITEM, "title": "Échelle"}, [], actor)
    importing, may_commit, brought = Event(), Event(), []

    def an_import():
        with db.connection_context(), database.exclusive():
            brought.append(by_bundle(actor, "échelle en bois"))
            importing.set()
            assert may_commit.wait(timeout=30)

    def the_edit():
        with db.connection_context():
            logic.edit(Item.get_by_id(mine.id), {**ITEM, "title": "Escabeau"}, [], actor)

    importer = Thread(target=an_import)
    importer.start()
    assert importing.wait(timeout=30)
    editor = Thread(target=the_edit)
    editor.start()
    editor.join(timeout=0.5)  # what the edit does before the import commits
    may_commit.set()
    importer.join(timeout=30)
    editor.join(timeout=30)
    with db.connection_context():
        assert by_words("échelle") == (brought, 1)
        assert "echelle" in vocabulary() and held_words() == expected_words(actor.box_id)
