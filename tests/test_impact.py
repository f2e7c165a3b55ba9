import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import Exchange, db
from piratebox.impact import logic as impact

NOW = datetime(2026, 11, 18, 12, tzinfo=UTC).timestamp()  # a Wednesday
WEEK = 7 * 86400


def event(action, category, mass, avoided=None, at=NOW):
    return SimpleNamespace(action=action, category=category, mass_kg=mass,
                           avoided_purchase=avoided, happened_at=at)


KNOWN = [
    event("deposited", "clothes", 0.5),
    event("taken", "clothes", 0.5, True),  # 5.2 kg CO2e
    event("given", "books", 0.4, False, at=NOW - 3 * WEEK),
    event("given", "bikes", 15.0, True, at=NOW - 3 * WEEK),  # 116 kg CO2e
    event("lent", "tools", 2.0),  # changes hands and comes back: no kilos kept
    event("returned", "tools", 2.0),
    event("taken", "toys", 0.8, True, at=NOW - 20 * WEEK),  # no published figure: 0
    event("fulfilled", "bikes", 15.0),
    event("requested", "bikes", 15.0),
    event("lent", "bikes", 15.0, True),  # a bike the borrower would have bought: 116
]


def test_figures_from_known_events_as_counted_by_hand():
    figures = impact.compute(KNOWN, NOW, impact.load_factors())
    assert figures.exchanges == 6  # taken x2, given x2, lent x2
    assert (figures.deposited, figures.taken, figures.given, figures.lent) == (1, 2, 2, 2)
    assert (figures.returned, figures.fulfilled, figures.requested) == (1, 1, 1)
    assert figures.answered == 5  # clothes yes, books no, bikes yes, toys yes, lent bike yes
    assert figures.purchases_avoided == 4
    assert figures.kg_kept_in_use == pytest.approx(0.5 + 0.4 + 15.0 + 0.8)
    assert figures.kg_co2e_avoided == pytest.approx(5.2 + 116 + 116)
    assert figures.by_category == {"clothes": 1, "books": 1, "bikes": 2, "tools": 1, "toys": 1}
    weeks = dict(figures.weeks)
    assert len(weeks) == 12
    assert weeks[datetime(2026, 11, 16).date()] == 3  # this week: clothes, tools, the bike
    assert weeks[datetime(2026, 10, 26).date()] == 2  # three weeks before
    assert sum(weeks.values()) == 5  # twenty weeks ago is outside the chart


def test_every_factor_names_its_source_and_licence():
    factors = impact.load_factors()
    assert factors["bikes"]["kg_co2e_per_object"] == "116"
    for row in factors.values():
        assert float(row["kg_co2e_per_object"]) > 0
        assert row["source_fr"] and row["source_en"] and row["basis_fr"] and "MIT" in row["licence"]


def test_the_factors_sources_read_in_the_pages_language(client):
    import re

    def table(page):
        return page[page.index("<th>Source</th>"):].split("</table>")[0]

    french = table(client.get("/stats/").get_data(as_text=True))
    assert "t-shirt en coton" in french and "cotton" not in french
    assert "5,2" in french and not re.search(r"\d\.\d", french)  # decimal commas
    client.get("/lang/en")
    english = table(client.get("/stats/").get_data(as_text=True))
    assert "cotton t-shirt" in english and "5.2" in english


def add_events(count):
    rows = [{"id": f"e{n:024d}", "origin": "box", "version": n + 1, "seq": n + 1,
             "deleted": False, "created_at": NOW, "updated_at": NOW, "item_id": f"i{n}",
             "action": "taken" if n % 2 else "given", "kind": "offer", "mode": "give",
             "place": "box", "category": "books" if n % 3 else "bikes", "mass_kg": 1.0,
             "avoided_purchase": n % 4 == 0, "happened_at": NOW - (n % 100) * 86400}
            for n in range(count)]
    with db.connection_context(), db.atomic():
        for start in range(0, len(rows), 500):
            Exchange.insert_many(rows[start:start + 500]).execute()


@pytest.mark.parametrize("count", [0, 1, 10_000])
def test_the_page_and_its_charts_read_right_with_0_1_and_10000_events(client, count):
    add_events(count)
    html = client.get("/stats/").get_data(as_text=True)
    charts = [html[start:html.index("</svg>", start) + 6]
              for start in [i for i in range(len(html)) if html.startswith("<svg", i)]]
    assert charts, "the weekly chart is drawn even with nothing in it"
    for chart in charts:
        root = ET.fromstring(chart)  # noqa: S314 - the box's own output
        for rect in root.iter("{http://www.w3.org/2000/svg}rect"):
            assert 0 <= float(rect.get("height")) <= 180
            assert 0 <= float(rect.get("width")) <= 340
    body = client.get("/api/v1/stats").get_json()
    assert body["exchanges"] == count
    assert body["purchases_avoided"] == len(range(0, count, 4))
    assert f"<dd>{count:,}</dd>".replace(",", "\u202f") in html  # 10 000, French


def test_objects_taken_through_the_app_are_counted(client):
    from tests.test_catalogue import offer, only_item, post

    offer(client, place="box", category="bikes", title="Vélo")
    item = only_item()
    post(client.application.test_client(), f"/items/{item.id}/take", f"/items/{item.id}",
         avoided_purchase="yes")
    body = client.get("/api/v1/stats").get_json()
    assert (body["exchanges"], body["purchases_avoided"]) == (1, 1)
    assert body["kg_co2e_avoided"] == 116
    assert "Achats évités" in client.get("/stats/").get_data(as_text=True)


def test_stats_csv_from_the_command_line_opens_in_a_spreadsheet(runner, data_dir):
    import app as application

    add_events(4)
    result = runner.invoke(application.cli, ["--data", str(data_dir.path), "stats", "--csv",
                                             "--decimal-comma"])
    assert result.exit_code == 0, result.output
    rows = dict(csv.reader(io.StringIO(result.output), delimiter=";"))
    assert rows["exchanges"] == "4" and rows["kg_kept_in_use"] == "4,0"
    assert any(label.startswith("échanges semaine du ") for label in rows)
    english = runner.invoke(application.cli, ["--data", str(data_dir.path), "stats", "--csv"])
    assert any(label.startswith("exchanges week of 20") for label in dict(
        csv.reader(io.StringIO(english.output))))  # the English spreadsheet, ISO days


def test_the_page_and_the_command_line_round_the_kilos_alike(runner, client, data_dir):
    import re

    import app as application

    add_events(3)
    with db.connection_context():  # a coat, a pan, a coat: 2.5 kg kept in use
        for event_id, mass in zip(Exchange.select(Exchange.id), (0.5, 1.5, 0.5), strict=True):
            Exchange.update(mass_kg=mass).where(Exchange.id == event_id.id).execute()
    page = client.get("/stats/").get_data(as_text=True)
    on_page = re.search(r"Kilos gardés en usage</dt><dd>([^<]*)</dd>", page).group(1)
    said = runner.invoke(application.cli, ["--data", str(data_dir.path), "stats"]).output
    in_terminal = re.search(r"Kilos gardés en usage +(\S+)", said).group(1)
    in_csv = dict(csv.reader(io.StringIO(runner.invoke(application.cli, [
        "--data", str(data_dir.path), "stats", "--csv", "--decimal-comma"]).output),
        delimiter=";"))["kg_kept_in_use"]
    assert on_page == in_terminal == in_csv == "2,5"


def test_the_command_line_counts_the_mediators_tally_like_the_page(runner, admin):
    import app as application
    from tests.conftest import csrf_from

    page = admin.get("/admin/tally").get_data(as_text=True)
    admin.post("/admin/tally", data={"csrf_token": csrf_from(page), "week_of": "2026-11-16",
                                     "deposited": "3", "taken": "2"})
    data_dir = admin.application.extensions["box"].data_dir.path
    result = runner.invoke(application.cli, ["--data", str(data_dir), "stats", "--csv"])
    rows = dict(csv.reader(io.StringIO(result.output)))
    assert (rows["tallied_taken"], rows["exchanges"]) == ("2", "2")
    assert admin.get("/api/v1/stats").get_json()["exchanges"] == 2


def test_the_mediator_downloads_the_csv(admin):
    add_events(2)
    response = admin.get("/admin/stats.csv")
    text = response.get_data(as_text=True)
    assert response.mimetype == "text/csv" and text.startswith("\ufeff")
    assert "exchanges;2" in text


def test_no_person_appears_in_the_figures(client):
    body = client.get("/api/v1/stats").get_json()
    assert not set(body) & {"pseudonym", "contact", "reserved_by", "address"}


def test_the_weekly_tally_adds_to_the_counts_but_never_to_kilos_or_co2(admin, app):
    from werkzeug.datastructures import FileStorage

    from tests.conftest import csrf_from
    from tests.images import jpeg

    add_events(1)
    page = admin.get("/admin/tally").get_data(as_text=True)
    response = admin.post("/admin/tally", data={
        "csrf_token": csrf_from(page), "week_of": "2026-11-19", "deposited": "7",
        "taken": "5", "note": "beaucoup de livres",
        "photos": [FileStorage(io.BytesIO(jpeg(gps=True)), filename="boite.jpg")]},
        content_type="multipart/form-data")
    assert response.status_code == 302
    body = admin.get("/api/v1/stats").get_json()
    assert (body["tallied_deposited"], body["tallied_taken"]) == (7, 5)
    assert body["exchanges"] == 6 and body["deposited"] == 7
    assert body["kg_kept_in_use"] == 1.0  # the tally has no mass: only the recorded event
    listing = admin.get("/admin/tally").get_data(as_text=True)
    assert "Semaine du lundi 16 novembre" in listing and "/photos/" in listing  # its Monday
    assert "7 déposés, 5 pris" in listing
    # a second tally for the same week replaces the first
    admin.post("/admin/tally", data={"csrf_token": csrf_from(listing), "week_of": "2026-11-16",
                                     "deposited": "1", "taken": "0"})
    body = admin.get("/api/v1/stats").get_json()
    assert (body["tallied_deposited"], body["tallied_taken"]) == (1, 0)
    assert "1 déposé, 0 pris" in admin.get("/admin/tally").get_data(as_text=True)
    assert "1 déposé, 0 pris." in admin.get("/stats/").get_data(as_text=True)


def test_a_tally_with_too_many_photos_says_so_for_the_tally(admin):
    from werkzeug.datastructures import FileStorage

    from tests.conftest import csrf_from
    from tests.images import jpeg

    page = admin.get("/admin/tally").get_data(as_text=True)
    response = admin.post("/admin/tally", data={
        "csrf_token": csrf_from(page), "week_of": "2026-11-16", "deposited": "1", "taken": "1",
        "photos": [FileStorage(io.BytesIO(jpeg()), filename=f"{n}.jpg") for n in range(4)]},
        content_type="multipart/form-data")
    assert response.status_code == 400
    said = response.get_data(as_text=True)
    assert "3 photos au plus par relevé de la semaine." in said and "par objet" not in said


@pytest.mark.parametrize(("field", "value"), [("taken", "-3"), ("deposited", "beaucoup"),
                                              ("week_of", "semaine 47"),
                                              ("week_of", "2030-01-07"),  # not begun
                                              ("week_of", "2026-11-30"),  # next week
                                              ("week_of", "1900-01-01")])
def test_a_bad_tally_is_refused(admin, field, value):
    from tests.conftest import csrf_from

    page = admin.get("/admin/tally").get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "week_of": "2026-11-16", "deposited": "1",
            "taken": "1", field: value}
    response = admin.post("/admin/tally", data=data)
    assert response.status_code == 400
    assert admin.get("/api/v1/stats").get_json()["tallied_taken"] == 0


def tally_of(admin, week, deposited, taken):
    from tests.conftest import csrf_from

    page = admin.get("/admin/tally").get_data(as_text=True)
    return admin.post("/admin/tally", data={"csrf_token": csrf_from(page), "week_of": week,
                                            "deposited": deposited, "taken": taken})


def test_the_mediator_corrects_and_deletes_a_tally_and_the_figures_follow(admin):
    from models import Tally, db
    from tests.conftest import post_from_page

    tally_of(admin, "2026-11-09", "40", "30")
    tally_of(admin, "2026-11-16", "7", "5")
    assert admin.get("/api/v1/stats").get_json()["tallied_deposited"] == 47
    with db.connection_context():
        wrong = Tally.get(Tally.week_of == "2026-11-09")
    form = admin.get(f"/admin/tally?correct={wrong.id}").get_data(as_text=True)
    assert 'value="2026-11-09"' in form and 'value="40"' in form
    tally_of(admin, "2026-11-09", "4", "3")  # the same week: corrected
    assert admin.get("/api/v1/stats").get_json()["tallied_deposited"] == 11
    post_from_page(admin, "/admin/tally", f"/admin/tally/{wrong.id}/delete", {})
    assert admin.get("/api/v1/stats").get_json()["tallied_deposited"] == 11  # not ticked
    post_from_page(admin, "/admin/tally", f"/admin/tally/{wrong.id}/delete", {"confirm": "yes"})
    body = admin.get("/api/v1/stats").get_json()
    assert (body["tallied_deposited"], body["tallied_taken"]) == (7, 5)
    assert "Semaine du 2026-11-09" not in admin.get("/admin/tally").get_data(as_text=True)


def test_a_tally_for_a_week_not_begun_counts_nothing_wherever_it_came_from(admin):
    from models import Tally, db

    tally_of(admin, "2026-11-16", "7", "5")
    with db.connection_context():  # as a box whose clock ran ahead would have sent it
        Tally.update(week_of="2030-01-07").execute()
    body = admin.get("/api/v1/stats").get_json()
    assert (body["tallied_deposited"], body["deposited"]) == (0, 0)


def test_the_tally_is_the_mediators(client):
    assert client.get("/admin/tally").status_code == 302


# --- the totals the database keeps agree with the events, whatever writes them ---------------

ORIGINS = ("a" * 26, "b" * 26)
event_states = st.fixed_dictionaries({
    "origin": st.sampled_from(ORIGINS),
    "action": st.sampled_from(impact.COUNTED_ACTIONS + ("expired", "withdrawn")),
    "category": st.sampled_from(("books", "bikes", "clothes", "no_such_category")),
    "avoided_purchase": st.sampled_from((None, True, False)),
    "mass_kg": st.sampled_from((0.0, 0.4, 2.0, 15.0)),
    "happened_at": st.integers(-16 * WEEK, WEEK).map(lambda offset: NOW + offset),
    "deleted": st.booleans(),
})


def exchange_record(number, state, version):
    return {"id": f"{number:026d}".replace("0", "a"), "version": version, "created_at": NOW,
            "updated_at": NOW, "item_id": f"item{number}", "kind": "offer", "mode": "give",
            "place": "box", **state}


@settings(max_examples=40, deadline=None)
@given(first=st.lists(event_states, min_size=0, max_size=12),
       later=st.dictionaries(st.integers(0, 11), event_states, max_size=8),
       tombstoned=st.sets(st.integers(0, 11), max_size=4),
       recategorised=st.sets(st.integers(0, 11), max_size=4),
       removed=st.sets(st.integers(0, 11), max_size=4))
def test_the_kept_totals_match_the_events_through_sync_tombstones_and_deletes(
        tmp_path_factory, first, later, tombstoned, recategorised, removed):
    from peewee import SqliteDatabase

    from models import migrate
    from piratebox.sync.records import merge

    db.initialize(SqliteDatabase(str(tmp_path_factory.mktemp("totals") / "piratebox.db")))
    with db.connection_context():
        migrate()
        with db.atomic():  # as bundles bring them: new records, then newer versions
            for version, states in ((1, dict(enumerate(first))), (2, later)):
                merge(Exchange, [exchange_record(n, state, version)
                                 for n, state in states.items()],
                      relay=True, via="c" * 26, here="d" * 26)

            def ids(numbers):
                return [exchange_record(n, {}, 0)["id"] for n in numbers]

            Exchange.update(deleted=True).where(Exchange.id.in_(ids(tombstoned))).execute()
            Exchange.update(category="clothes", mass_kg=0.5).where(
                Exchange.id.in_(ids(recategorised))).execute()
            Exchange.delete().where(Exchange.id.in_(ids(removed))).execute()
        live = list(Exchange.live())
        kept = impact.figures_now(NOW, "Europe/Paris")
    counted = impact.compute(live, NOW, impact.load_factors())
    for name in impact.CSV_COLUMNS:
        assert getattr(kept, name) == pytest.approx(getattr(counted, name), abs=1e-9), name
    assert kept.weeks == counted.weeks
    assert kept.by_category == counted.by_category
