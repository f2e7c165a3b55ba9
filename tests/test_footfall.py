"""Footfall: distinct phones per day and week, and nothing that could tell one phone again."""

import http.client
from datetime import UTC, datetime

from models import Footfall, db
from piratebox import footfall
from tests.server import Server

# Tuesday 17 November 2026, noon in the village (Europe/Paris is UTC+1 in November)
TUESDAY = datetime(2026, 11, 17, 11, tzinfo=UTC).timestamp()
DAY = 86400


def saved():
    return {(row.span, row.starts): row.phones for row in Footfall.select()}


def test_distinct_phones_are_counted_per_day_and_per_week(app):
    with app.app_context():
        counter = footfall.Counter("Europe/Paris")
        for address in ("10.0.0.2", "10.0.0.3", "10.0.0.2", "fe80::1", "10.0.0.3"):
            counter.saw(address, TUESDAY)
        counter.saw("10.0.0.2", TUESDAY + DAY)  # Wednesday: the same phone again
        counter.saw("10.0.0.9", TUESDAY + DAY)
        counter.flush(TUESDAY + DAY)
        assert saved() == {("day", "2026-11-17"): 3, ("day", "2026-11-18"): 2,
                           ("week", "2026-11-16"): 4}
        counter.saw("10.0.0.2", TUESDAY + 6 * DAY)  # the next Monday opens a new week
        counter.flush(TUESDAY + 6 * DAY)
        assert saved()[("week", "2026-11-23")] == 1
        assert saved()[("week", "2026-11-16")] == 4


def test_a_count_waits_to_be_written_in_a_batch(app):
    with app.app_context():
        counter = footfall.Counter("Europe/Paris", flush_seconds=300)
        counter.saw("10.0.0.2", TUESDAY)
        for second in range(1, 299):
            counter.saw(f"10.0.0.{second % 200 + 3}", TUESDAY + second)
        assert saved() == {}  # not one write in five minutes of visits
        counter.saw("10.0.0.2", TUESDAY + 300)
        assert saved()[("day", "2026-11-17")] == 201


def test_the_day_turns_at_the_villages_midnight(app):
    with app.app_context():
        counter = footfall.Counter("Europe/Paris")
        counter.saw("10.0.0.2", datetime(2026, 11, 17, 22, 59, tzinfo=UTC).timestamp())
        counter.saw("10.0.0.2", datetime(2026, 11, 17, 23, 1, tzinfo=UTC).timestamp())
        counter.flush(TUESDAY + DAY)
        assert saved()[("day", "2026-11-17")] == 1
        assert saved()[("day", "2026-11-18")] == 1
        assert saved()[("week", "2026-11-16")] == 1


def test_a_restart_counts_a_phone_seen_before_it_once_more_as_documented(app):
    with app.app_context():
        before = footfall.Counter("Europe/Paris")
        before.saw("10.0.0.2", TUESDAY)
        before.saw("10.0.0.3", TUESDAY)
        before.flush(TUESDAY)
        after = footfall.Counter("Europe/Paris")  # a new process: new salts
        after.saw("10.0.0.2", TUESDAY + 60)
        after.flush(TUESDAY + 60)
        assert saved()[("day", "2026-11-17")] == 3


def test_nothing_that_tells_a_phone_apart_reaches_the_disk(app, data_dir):
    with app.app_context():
        counter = footfall.Counter("Europe/Paris")
        counter.saw("10.0.0.77", TUESDAY)
        day = counter._day
        counter.flush(TUESDAY)
    db.close()
    hashed = next(iter(day.seen))
    for path in data_dir.path.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for secret in (day.salt, hashed, b"10.0.0.77"):
                assert secret not in content, path
    assert [column.name for column in Footfall._meta.sorted_fields] == ["span", "starts",
                                                                        "phones"]


def test_a_flood_of_made_up_addresses_stops_at_the_cap(app, monkeypatch):
    monkeypatch.setattr(footfall, "MAX_PHONES", 50)
    with app.app_context():
        counter = footfall.Counter("Europe/Paris")
        for number in range(500):
            counter.saw(f"2001:db8::{number:x}", TUESDAY)
        counter.flush(TUESDAY)
        assert saved()[("day", "2026-11-17")] == 50


def test_the_figures_page_the_csv_and_the_api_show_the_footfall(app, admin):
    for address in ("10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.3"):
        phone = app.test_client()
        phone.environ_base["REMOTE_ADDR"] = address
        assert phone.get("/").status_code == 200
    now = app.extensions["box"].clock.now()
    with app.app_context():
        app.extensions["footfall"].flush(now)
    page = app.test_client().get("/stats/").get_data(as_text=True)
    # the mediator's own phone (127.0.0.1) counts too: four phones
    assert "4 téléphones sont venus sur la boîte aujourd’hui" in page
    assert "Fréquentation" in page
    today = datetime.fromtimestamp(now, footfall.display_zone("Europe/Paris")).date()
    api = app.test_client().get("/api/v1/stats").get_json()["footfall"]
    assert api["days"][-1] == {"day": today.isoformat(), "phones": 4}
    csv_text = admin.get("/admin/stats.csv").get_data(as_text=True)
    assert f"téléphones le {today:%d/%m/%Y};4" in csv_text  # the French CSV, in French


def test_the_server_saves_its_count_when_stopped(data_dir):
    with Server(data_dir.path) as server:
        for last in (2, 3, 4, 3):
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10,
                                                    source_address=(f"127.0.0.{last}", 0))
            connection.request("GET", "/")
            assert connection.getresponse().status == 200
            connection.close()
    from piratebox.database import open_existing

    open_existing(data_dir)
    with db.connection_context():
        days = [row.phones for row in Footfall.select().where(Footfall.span == "day")]
    assert days == [3]  # the health checks of the start do not count


def test_the_figures_page_counts_the_phones_not_saved_yet_and_stays_cached(make_app):
    app = make_app(PAGE_CACHE_SECONDS=300)
    visitor = app.test_client()
    visitor.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    page = visitor.get("/stats/")
    assert "1 téléphone est venu sur la boîte aujourd’hui · 1 cette semaine" in page.get_data(
        as_text=True)
    again = visitor.get("/stats/", headers={"If-None-Match": page.headers["ETag"]})
    assert again.status_code == 304  # the same count: the page kept
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.3"
    assert "2 téléphones sont venus sur la boîte aujourd’hui" in other.get(
        "/stats/").get_data(as_text=True)
    assert other.get("/api/v1/stats").get_json()["footfall"]["days"][-1]["phones"] == 2
    with db.connection_context():
        assert not Footfall.select().exists()  # nothing saved yet: shown from memory
