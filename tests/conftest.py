import contextlib
import os
import re
import subprocess

import pytest
from click.testing import CliRunner

import app as application
from models import db, new_id
from piratebox import box
from piratebox.storage import DataDir

TEST_CONFIG = {
    "TESTING": True,
    # Fast hashing in tests only: the real rounds are a deployment setting.
    "PASSWORD_HASH_ROUNDS": 1000,
}
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def data_dir(tmp_path):
    """A freshly initialised box in its own folder: a real SQLite file each test."""
    folder = DataDir(tmp_path / "data")
    box.create(folder, role="box", name="Saint-Bonnet")
    return folder


@pytest.fixture
def make_app(data_dir):
    def make(**overrides):
        return application.create_app({"DATA_DIR": str(data_dir.path), **TEST_CONFIG,
                                       **overrides})

    yield make
    if not db.is_closed():
        db.close()


@pytest.fixture
def app(make_app, request):
    """The box's app; a test module may give it settings of its own (APP_CONFIG)."""
    return make_app(**getattr(request.module, "APP_CONFIG", {}))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner():
    return CliRunner()


def csrf_from(html):
    """The token a page's form carries, as a browser would send it back."""
    match = CSRF_INPUT.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def post_from_page(client, page, action, data, **kwargs):
    """Load `page`, take the CSRF token from its form, post `data` to `action`."""
    html = client.get(page).get_data(as_text=True)
    return client.post(action, data={"csrf_token": csrf_from(html), **data}, **kwargs)


def plan_of(query, shape, values):
    """How SQLite answers a prepared query (models.Prepared) of this shape: which index."""
    with db.connection_context():
        _model, sql, params = query._sql(shape)
        plan = db.execute_sql("EXPLAIN QUERY PLAN " + sql, query._bind(params, values))
        return " ".join(row[-1] for row in plan.fetchall())


def phone_seen_before(app, address):
    """A visitor's phone that the box first saw long ago, as its cookie says (reports from
    phones the box has just met never hide anything: piratebox/moderation.py)."""
    from piratebox.phone import SEEN_KEY

    visitor = app.test_client()
    visitor.environ_base["REMOTE_ADDR"] = address
    with visitor.session_transaction() as session:
        session[SEEN_KEY] = 0
    return visitor


@pytest.fixture
def admin_password(app):
    with app.app_context(), db.connection_context():
        box.set_password("village-secret", 1000)
    return "village-secret"


@pytest.fixture
def admin(client, admin_password):
    response = post_from_page(client, "/admin/", "/admin/login", {"password": admin_password})
    assert response.status_code == 302
    return client


# --- PostgreSQL for the hub tests (scripts/test starts a throw-away server) ----------------

POSTGRES_HOST = os.environ.get("PIRATEBOX_TEST_POSTGRESQL_HOST")
POSTGRES_PORT = os.environ.get("PIRATEBOX_TEST_POSTGRESQL_PORT")


def postgres_url(database):
    return f"postgresql://postgres@/{database}?host={POSTGRES_HOST}&port={POSTGRES_PORT}"


def _admin_connection():
    import psycopg2

    connection = psycopg2.connect(dbname="postgres", user="postgres", host=POSTGRES_HOST,
                                  port=POSTGRES_PORT)
    connection.autocommit = True
    return connection


@pytest.fixture
def postgres_database():
    """A fresh, empty PostgreSQL database for one test; its URL."""
    if not POSTGRES_HOST:
        pytest.skip("no PostgreSQL server for the tests: scripts/test starts one when "
                    "PostgreSQL is installed (apt-get install postgresql)")
    name = f"hub_{new_id()}"
    connection = _admin_connection()  # not `with`: psycopg2 would open a transaction
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    yield postgres_url(name)
    if not db.is_closed():
        db.close()
    connection = _admin_connection()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    connection.close()


HUB_ENGINES = ["sqlite", "postgresql"]
hub_database = {"url": None}  # read by tests.test_sync.make() when it makes a hub


@pytest.fixture(params=HUB_ENGINES)
def hub_engine(request):
    """Run a hub test on each engine: SQLite in the data directory, then PostgreSQL."""
    hub_database["url"] = (request.getfixturevalue("postgres_database")
                           if request.param == "postgresql" else None)
    yield request.param
    hub_database["url"] = None


@contextlib.contextmanager
def small_filesystem(folder, size):
    """A real filesystem of `size` (tmpfs, e.g. "2m") at `folder`, where the machine lets us
    mount one; the test is skipped, saying why, where it does not (not root)."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("cannot mount a small filesystem here (needs root)")
    try:
        yield folder
    finally:
        if not db.is_closed():
            db.close()
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def stick(tmp_path):
    """The mediator's USB stick, as mounted: a folder with its cocote/ folder."""
    folder = tmp_path / "stick"
    (folder / "cocote").mkdir(parents=True)
    return folder
