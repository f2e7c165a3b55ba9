import pytest
from peewee import SqliteDatabase

import models
from models import MIGRATIONS, SCHEMA_VERSION, Setting, db, migrate, schema_version
from piratebox.database import open_existing
from piratebox.errors import SchemaTooNew
from piratebox.storage import DataDir


@pytest.fixture
def empty_db(tmp_path):
    db.initialize(SqliteDatabase(str(tmp_path / "piratebox.db")))
    db.connect()
    yield db
    db.close()


def test_migrations_are_numbered_one_by_one():
    assert [number for number, _title, _sql in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))


def test_the_migrated_schema_matches_the_models(empty_db):
    assert migrate() == SCHEMA_VERSION
    for model in models.all_models():
        table = model._meta.table_name
        columns = {column.name for column in db.get_columns(table)}
        fields = {field.column_name for field in model._meta.sorted_fields}
        assert fields == columns, table


def test_an_older_database_is_upgraded_and_keeps_its_data(empty_db):
    if SCHEMA_VERSION < 2:
        pytest.skip("only one schema version exists so far")
    migrate(upto=SCHEMA_VERSION - 1)
    Setting.put("box_name", "Saint-Bonnet")
    db.execute_sql("UPDATE counter SET value = 41 WHERE name = 'lamport'")
    steps = []
    migrate(progress=lambda number, title: steps.append(number))
    assert steps == [SCHEMA_VERSION]
    assert Setting.get_value("box_name") == "Saint-Bonnet"
    assert models.Counter.current("lamport") == 41


def test_migrating_twice_changes_nothing(empty_db):
    migrate()
    Setting.put("box_name", "Marols")
    assert migrate() == SCHEMA_VERSION
    assert Setting.get_value("box_name") == "Marols"


def test_a_database_from_newer_software_is_refused(data_dir):
    open_existing(data_dir)
    with db.connection_context():
        Setting.put("schema_version", SCHEMA_VERSION + 1)
    with pytest.raises(SchemaTooNew, match="newer version"):
        open_existing(data_dir)


def test_opening_an_older_box_upgrades_it(tmp_path):
    folder = DataDir(tmp_path)
    folder.create()
    db.initialize(SqliteDatabase(str(folder.database)))
    with db.connection_context():
        migrate(upto=1)
        Setting.put("box_id", "abc")
    open_existing(folder)
    with db.connection_context():
        assert schema_version() == SCHEMA_VERSION
        assert Setting.get_value("box_id") == "abc"
        assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_migration_7_lets_every_place_in_and_indexes_the_blobs_already_used(
        request, tmp_path, engine):
    """A hub or a box that ran version 6: objects with photos, one "elsewhere" (which did not
    fit PostgreSQL's VARCHAR(8)), one with an `answers` no form should have let through."""
    import json

    from peewee import DataError, PostgresqlDatabase
    from playhouse.db_url import connect

    from models import BlobUse, Item

    if engine == "postgresql":
        db.initialize(connect(request.getfixturevalue("postgres_database")))
    else:
        db.initialize(SqliteDatabase(str(tmp_path / "piratebox.db")))
    with db.connection_context():
        migrate(upto=6)
        photo = {"full": "a" * 64, "thumb": "b" * 64}
        columns = ("id, origin, version, seq, deleted, created_at, updated_at, kind, mode, "
                   "title, description, category, condition, place, place_detail, pseudonym, "
                   "contact, photos, status, reserved_by, reserved_message, lent_to, "
                   "lent_until, answers, hidden, network, search_text")
        param = db.obj.param
        for number, (place, answers, hidden) in enumerate((("home", None, False),
                                                           ("box", "x" * 20, True))):
            db.execute_sql(
                f"INSERT INTO item ({columns}) VALUES ({', '.join([param] * 27)})",  # noqa: S608
                (f"{number}" * 26, "o" * 26, 1, 1, False, 1.0, 1.0, "offer", "give", "Vélo",
                 "", "bikes", "", place, "", "", "", json.dumps([photo]), "available", "", "",
                 "", "", answers, hidden, False, "velo"))
        if isinstance(db.obj, PostgresqlDatabase):
            with pytest.raises(DataError), db.atomic():  # what the hub refused
                db.execute_sql("UPDATE item SET place = 'elsewhere'")
        migrate()
        Item.update(place="elsewhere").execute()
        assert {item.place for item in Item.select()} == {"elsewhere"}
        assert Item.get_by_id("1" * 26).answers is None
        assert sorted((use.record_id, use.hash, use.shown) for use in BlobUse.select()) == [
            ("0" * 26, "a" * 64, True), ("0" * 26, "b" * 64, True),
            ("1" * 26, "a" * 64, False), ("1" * 26, "b" * 64, False)]


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_migration_10_keeps_in_the_village_an_offer_with_no_contact_and_lets_history_go(
        request, tmp_path, engine):
    """A village box that ran version 9: its own object shown to the network without a
    contact, another village's open offer and another's given object, each with a photo."""
    import json

    from playhouse.db_url import connect

    from models import BlobUse, Item, Peer

    if engine == "postgresql":
        db.initialize(connect(request.getfixturevalue("postgres_database")))
    else:
        db.initialize(SqliteDatabase(str(tmp_path / "piratebox.db")))
    with db.connection_context():
        migrate(upto=9)
        Setting.put("box_id", "h" * 26)
        Setting.put("role", "box")
        db.execute_sql("UPDATE counter SET value = 40 WHERE name = 'seq'")
        columns = ("id, origin, version, seq, deleted, created_at, updated_at, kind, mode, "
                   "title, description, category, condition, place, place_detail, pseudonym, "
                   "contact, photos, status, reserved_by, reserved_message, lent_to, "
                   "lent_until, answers, hidden, network, search_text")
        param = db.obj.param
        for number, (origin, contact, status) in enumerate((
                ("h" * 26, "", "available"), ("o" * 26, "06", "available"),
                ("o" * 26, "06", "given"))):
            photo = {"full": str(number) * 64, "thumb": str(number + 5) * 64}
            db.execute_sql(
                f"INSERT INTO item ({columns}) VALUES ({', '.join([param] * 27)})",  # noqa: S608
                (f"{number}" * 26, origin, 1, number + 1, False, 1.0, 1.0, "offer", "give",
                 "Vélo", "", "bikes", "", "home", "", "", contact, json.dumps([photo]),
                 status, "", "", "", "", None, False, True, "velo"))
            marks = ", ".join([param] * 3)  # the driver's own marks, no data
            for digest in photo.values():
                db.execute_sql("INSERT INTO blob_use (hash, record_id, shown) VALUES "  # noqa: S608
                               f"({marks})", (digest, f"{number}" * 26, True))
        marks = ", ".join([param] * 12)
        db.execute_sql(
            "INSERT INTO peer (id, role, name, commune, key, status, retired_epochs, "  # noqa: S608
            f"acked_upto, received_upto, resend_upto, last_export_at, created_at) VALUES ({marks})",
            ("p" * 26, "hub", "Hub", "", "k" * 64, "active", "[]", 0, 0, 0, 5.0, 1.0))
        migrate()
        mine, offered, given = (Item.get_by_id(f"{number}" * 26) for number in range(3))
        assert (mine.network, offered.network, given.network) == (False, True, True)
        assert (mine.shown_seq, offered.shown_seq, given.shown_seq) == (None, 2, 3)
        assert {use.record_id for use in BlobUse.select()} == {mine.id, offered.id}
        assert Peer.get().sent_upto == 40  # it may hold anything the network showed
        assert [item.id for item in Item.listed()] == [mine.id, offered.id]


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_migration_12_adds_up_the_events_already_there_and_keeps_them_added_up(
        request, tmp_path, engine):
    """A box that ran version 11 with a few exchanges: the totals start from them, and the
    triggers follow what is written after."""
    from playhouse.db_url import connect

    from models import Exchange, ExchangeTotal

    if engine == "postgresql":
        db.initialize(connect(request.getfixturevalue("postgres_database")))
    else:
        db.initialize(SqliteDatabase(str(tmp_path / "piratebox.db")))
    with db.connection_context():
        migrate(upto=11)
        param = db.obj.param
        columns = ("id, origin, version, seq, deleted, created_at, updated_at, item_id, "
                   "action, kind, mode, place, category, mass_kg, avoided_purchase, happened_at")
        for number, (action, avoided, deleted) in enumerate((
                ("taken", True, False), ("taken", None, False), ("lent", False, False),
                ("given", True, True))):
            db.execute_sql(
                f"INSERT INTO exchange ({columns}) VALUES ({', '.join([param] * 16)})",  # noqa: S608
                (f"{number}" * 26, "o" * 26, 1, number + 1, deleted, 1.0, 1.0, "i" * 26,
                 action, "offer", "give", "box", "books", 0.5, avoided, 1.0))
        migrate()

        def totals():
            return sorted(ExchangeTotal.select(ExchangeTotal.action, ExchangeTotal.events,
                                               ExchangeTotal.mass_kg, ExchangeTotal.answered,
                                               ExchangeTotal.avoided).tuples())

        assert totals() == [("lent", 1, 0.5, 1, 0), ("taken", 2, 1.0, 1, 1)]
        Exchange.update(deleted=True).where(Exchange.id == "0" * 26).execute()
        Exchange.update(deleted=False).where(Exchange.id == "3" * 26).execute()
        assert totals() == [("given", 1, 0.5, 1, 1), ("lent", 1, 0.5, 1, 0),
                            ("taken", 1, 0.5, 0, 0)]


def test_migration_13_moves_every_private_link_into_one_table(empty_db):
    migrate(upto=12)
    db.execute_sql("INSERT INTO item_key VALUES ('anitem', 'hash-of-the-manage-link')")
    db.execute_sql("INSERT INTO file_key VALUES ('afile', 'hash-of-the-delete-link')")
    db.execute_sql("INSERT INTO personal_key VALUES ('anitem', 'hash-of-the-reservation')")
    db.execute_sql("INSERT INTO personal_key VALUES ('anentry', 'hash-of-a-place-in-line')")
    migrate()
    assert sorted(models.PrivateKey.select().tuples()) == [
        ("afile", "owner", "hash-of-the-delete-link"),
        ("anentry", "claimant", "hash-of-a-place-in-line"),
        ("anitem", "claimant", "hash-of-the-reservation"),
        ("anitem", "owner", "hash-of-the-manage-link"),
    ]
    assert not {"item_key", "file_key", "personal_key"} & set(db.get_tables())
