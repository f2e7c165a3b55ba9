import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from peewee import CharField

from models import BlobUse, Counter, Replicated, SharedFile, db, new_id
from piratebox.database import open_existing


class Note(Replicated):
    """A replicated record made for these tests only."""

    text = CharField()


@pytest.fixture
def opened(data_dir):
    open_existing(data_dir)
    db.connect()
    db.create_tables([Note])
    yield data_dir
    if not db.is_closed():
        db.close()


def test_ids_are_random_and_url_safe():
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 26 and i.isalnum() and i.islower() for i in ids)


def test_each_local_change_gets_a_new_version_and_sequence(opened):
    note = Note(text="vélo").save_change("box-a", now=100.0)
    first = (note.version, note.seq)
    note.text = "vélo rouge"
    note.save_change("box-a", now=200.0)
    stored = Note.get_by_id(note.id)
    assert stored.text == "vélo rouge"
    assert (stored.version, stored.seq) > first
    assert stored.origin == "box-a"
    assert (stored.created_at, stored.updated_at) == (100.0, 200.0)


def test_a_tombstone_is_a_change_not_a_delete(opened):
    note = Note(text="table").save_change("box-a", now=1.0)
    before = note.version
    note.tombstone("box-a", now=2.0)
    stored = Note.get_by_id(note.id)
    assert stored.deleted and stored.version > before
    assert note.id not in {n.id for n in Note.live()}


def test_last_writer_wins_on_version_then_origin(opened):
    note = Note(text="x", origin="box-b").save_change("box-a", now=1.0)
    assert note.wins_over(note.version - 1, "zzz")
    assert not note.wins_over(note.version + 1, "aaa")
    assert note.wins_over(note.version, "box-a")  # same version: the origin decides
    assert not note.wins_over(note.version, "box-c")


def test_the_lamport_clock_follows_what_it_witnesses_and_survives_reopening(opened):
    Note(text="a").save_change("box-a", now=1.0)
    Counter.witness("lamport", 500)
    Counter.witness("lamport", 20)  # never backwards
    db.close()
    open_existing(opened)
    db.connect()
    note = Note(text="b").save_change("box-a", now=2.0)
    assert note.version == 501


def test_a_failed_change_leaves_no_trace(opened):
    before = Counter.current("lamport"), Counter.current("seq")
    with pytest.raises(Exception):  # noqa: B017,PT011 - any database error will do
        Note(text=None).save_change("box-a", now=1.0)
    assert (Counter.current("lamport"), Counter.current("seq")) == before
    assert Note.select().count() == 0


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=TEXT, folder=TEXT, size=st.integers(0, 2**53), hidden=st.booleans(),
       network=st.booleans(), expires_at=st.none() | st.floats(0, 2e9),
       now=st.floats(0, 2e9))
def test_a_new_record_is_stored_as_peewee_stores_it(opened, name, folder, size, hidden,
                                                    network, expires_at, now):
    """A new record's row, inserted with SQL built once, is the row peewee's own save()
    writes of the same values, field by field, and its blob is counted as used."""
    values = {"name": name, "folder": folder, "blob": "ab" * 32, "size": size,
              "hidden": hidden, "network": network, "expires_at": expires_at}
    with db.atomic() as transaction:
        ours = SharedFile(**values).save_change("box-a", now)
        theirs = SharedFile(**{**ours.__data__, "id": new_id()})
        theirs.save(force_insert=True)
        rows = {row[0]: row[1:] for row in db.execute_sql(
            "SELECT * FROM shared_file WHERE id IN (?, ?)", (ours.id, theirs.id))}
        uses = BlobUse.select().where(BlobUse.record_id == ours.id).count()
        transaction.rollback()
    assert rows[ours.id] == rows[theirs.id]
    assert uses == 1
