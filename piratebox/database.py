"""Opening the database: one place decides the engine, the pragmas and the schema check."""

from peewee import SqliteDatabase

from models import SCHEMA_VERSION, db, migrate, schema_version
from piratebox.errors import NotInitialised, SchemaTooNew

# WAL lets visitors read while one write is in flight. synchronous=FULL because a box
# loses power without warning and a commit must mean "on the flash"; writes are rare.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "full",
    "cache_size": -2000,  # 2 MB: a router has 128 MB for everything
    "temp_store": "memory",
}
BUSY_TIMEOUT_SECONDS = 10


def sqlite_database(path):
    return SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS, timeout=BUSY_TIMEOUT_SECONDS)


def bind(data_dir):
    """Point the models at this box's database (no connection is opened yet)."""
    db.initialize(sqlite_database(data_dir.database))
    return db


def open_existing(data_dir):
    """Bind, refuse a missing or too-new database, and upgrade an older one."""
    if not data_dir.exists():
        raise NotInitialised(data_dir.path)
    bind(data_dir)
    with db.connection_context():
        found = schema_version()
        if found > SCHEMA_VERSION:
            raise SchemaTooNew(found, SCHEMA_VERSION)
        if found < SCHEMA_VERSION:
            migrate()
    return db
