"""A prepared query's records are the ones peewee itself makes (models.Prepared and
models.instances), for every table, whatever the stored values."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from peewee import SQL, BigIntegerField, BooleanField, CharField, FloatField, TextField

import models
from models import Prepared, db
from piratebox.database import open_existing

TABLES = sorted((model for model in vars(models).values()
                 if isinstance(model, type) and issubclass(model, models.BaseModel)
                 and model not in (models.BaseModel, models.Replicated)),
                key=lambda model: model.__name__)

# What SQLite may hold in each kind of column: a number stored in a text column, an integer
# in a float column, a flag stored as 0/1, NULL anywhere a column allows it.
STORED = {
    BigIntegerField: st.integers(-2**63, 2**63 - 1),
    BooleanField: st.sampled_from([0, 1]),
    CharField: st.text(max_size=20),
    FloatField: st.one_of(st.floats(allow_nan=False), st.integers(-2**53, 2**53)),
    TextField: st.text(max_size=40),
}


@pytest.fixture
def opened(data_dir):
    open_existing(data_dir)
    db.connect()
    yield
    db.close()


def stored_value(field):
    kind = next(kind for kind in STORED if isinstance(field, kind))
    return st.none() | STORED[kind] if field.null else STORED[kind]


@st.composite
def table_and_rows(draw):
    model = draw(st.sampled_from(TABLES))
    rows = draw(st.lists(st.fixed_dictionaries(
        {field.column_name: stored_value(field) for field in model._meta.sorted_fields}),
        min_size=1, max_size=4))
    return model, rows


def as_made(record):
    """All of a record that peewee made, each value with its type (True == 1, 2.0 == 2)."""
    typed = {name: (type(value), value) for name, value in record.__data__.items()}
    return type(record), typed, record._dirty, record.__rel__, vars(record).get("extra")


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table_and_rows())
def test_prepared_rows_are_the_records_peewee_makes(opened, drawn):
    model, rows = drawn
    with db.atomic() as transaction:
        table = model._meta.table_name
        for row in rows:  # as stored, without peewee's conversion on the way in
            columns = ", ".join(f'"{column}"' for column in row)
            db.execute_sql(f'INSERT OR REPLACE INTO "{table}" ({columns}) VALUES '  # noqa: S608 - the model's names; values bound
                           f"({', '.join('?' * len(row))})", list(row.values()))
        whole = Prepared(lambda: model.select())
        assert [as_made(r) for r in whole.rows()] == [as_made(r) for r in model.select()]
        # a column that is no field comes as an attribute; a repeated one, once
        first = model._meta.sorted_fields[0]
        extra = Prepared(lambda: model.select(first, first, SQL("1 AS extra")))
        made = extra.rows()
        expected = list(model.select(first, first, SQL("1 AS extra")))
        assert [as_made(r) for r in made] == [as_made(r) for r in expected]
        assert all(record.extra == 1 for record in made)
        transaction.rollback()
