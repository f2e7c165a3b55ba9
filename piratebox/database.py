"""Opening the database: one place decides the engine, the pragmas and the schema check.

SQLite in the data directory is the default (a box, a small hub). A hub that outgrows one
file names a PostgreSQL database with DATABASE_URL (config.ini, written by
`init --database-url`, or PIRATEBOX_DATABASE_URL); the photos, files and secret key stay
in the data directory either way.
"""

import contextlib

from peewee import SqliteDatabase

from models import SCHEMA_VERSION, db, is_postgres, migrate, schema_version, wait_for_other_writers
from piratebox.config import load as load_config
from piratebox.errors import ConfigError, NotInitialised, SchemaTooNew
from piratebox.i18n import N_

POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+pool", "postgres+pool")

# WAL lets visitors read while one write is in flight. synchronous=FULL because a box
# loses power without warning and a commit must mean "on the flash"; writes are rare.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "full",
    # 512 KB a connection, and the server keeps one per thread: a router has 128 MB for
    # everything, and the pages it reads again come from memory (the page cache) anyway
    "cache_size": -512,
    "temp_store": "memory",
}
BUSY_TIMEOUT_SECONDS = 10
# Prepared statements each connection keeps (Python's default is 128). The village's mix
# runs some 850 different statements, so 128 never held them all, and each kept one is
# SQLite's compiled program: with 32, SQLite holds 1.2 MB after the village's load, not 2.0,
# at no cost measured to a page rendered again (docs/benchmarks.md, "Fourth round").
STATEMENTS_KEPT = 32
# Connections: the server opens one per thread at its first query and keeps it from one
# request to the next. Opening one costs more than most pages (SQLite reads the schema
# again and the pragmas are set again: a millisecond here, tens on a router), and
# waitress's threads are a fixed pool, so connections never pile up.


def sqlite_database(path):
    return SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS, timeout=BUSY_TIMEOUT_SECONDS,
                          cached_statements=STATEMENTS_KEPT)


def postgres_database(url):
    """A PostgreSQL database from its URL; the driver is an optional extra."""
    scheme = url.split(":", 1)[0].lower()
    if scheme not in POSTGRES_SCHEMES:
        raise ConfigError(N_("DATABASE_URL must be a postgresql:// address (or empty for "
                             "SQLite), not {url}."), url=url.split("@")[-1])
    try:
        import psycopg2  # noqa: F401 - only to say clearly what is missing
    except ImportError:
        raise ConfigError(N_("DATABASE_URL names PostgreSQL but its driver is not installed: "
                             "pip install '.[postgres]' (or apt-get install "
                             "python3-psycopg2).")) from None
    from playhouse.db_url import connect

    return connect(url)


def configured_url(data_dir):
    return load_config(data_dir)["DATABASE_URL"].strip()


def bind(data_dir):
    """Point the models at this box's database (no connection is opened yet)."""
    url = configured_url(data_dir)
    db.initialize(postgres_database(url) if url else sqlite_database(data_dir.database))
    return db


def initialised(data_dir):
    """Is there a box here: the SQLite file, or the named PostgreSQL database's schema?"""
    if not configured_url(data_dir):
        return data_dir.database.exists()
    bind(data_dir)
    with db.connection_context():
        return schema_version() > 0


def exclusive():
    """A transaction that waits for any other writer first, on either engine: two
    imports at once apply one after the other, never interleaved."""
    if is_postgres():
        transaction = db.atomic()

        class Locked:
            def __enter__(self):
                transaction.__enter__()
                wait_for_other_writers()
                return transaction

            def __exit__(self, *exc):
                return transaction.__exit__(*exc)

        return Locked()
    return db.atomic("IMMEDIATE")


# An import writes thousands of rows into indexes spread over the whole file: within a
# page's 512 KB, SQLite read the same index pages again and again (a third of a hub's
# inserts). A cache holds only the pages read, and shrinks back after the import.
IMPORT_CACHE_KB = 8 * 1024


@contextlib.contextmanager
def cache_for_import():
    """The connection's page cache widened for the time of an import (SQLite only: a
    PostgreSQL server has its own)."""
    if is_postgres():
        yield
        return
    db.execute_sql(f"PRAGMA cache_size = -{IMPORT_CACHE_KB}")
    try:
        yield
    finally:
        db.execute_sql(f"PRAGMA cache_size = {SQLITE_PRAGMAS['cache_size']}")


def open_existing(data_dir):
    """Bind, refuse a missing or too-new database, and upgrade an older one."""
    with connected(data_dir):
        return db


@contextlib.contextmanager
def connected(data_dir):
    """open_existing, its connection left open for the caller's reads: a start opens the
    database once, not once to check it and again to read it (each time SQLite reads the
    schema and the pragmas are set again: tens of milliseconds on a router)."""
    if not initialised(data_dir):
        raise NotInitialised(data_dir.path)
    bind(data_dir)
    with db.connection_context():
        found = schema_version()
        if found > SCHEMA_VERSION:
            raise SchemaTooNew(found, SCHEMA_VERSION)
        if found < SCHEMA_VERSION:
            migrate()
        yield db

