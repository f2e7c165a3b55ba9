"""Events that count: the mediator notes after an event how many came and, at a free-zone
day, the kilos brought and taken (weighed); they go into the figures on their own lines,
never into the estimated kilos, in the CSV and the command line too, and they travel to
the hub and back like the events themselves."""

import csv
import io
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import app as application
from models import Event, db
from piratebox.timefmt import local_datetime
from tests.conftest import csrf_from, post_from_page
from tests.field import enrolled_network
from tests.test_field_sync import on_both_engines


@pytest.fixture
def network(tmp_path, stick):
    return enrolled_network(tmp_path, stick)


def days_ago(app, days):
    with app.app_context():
        now = app.extensions["box"].clock.now()
    return (local_datetime(now, "Europe/Paris").date() - timedelta(days=days)).isoformat()


def publish(client, app, title, kind, days=3):
    post_from_page(client, "/events/new", "/events/new", {
        "title": title, "kind": kind, "day": days_ago(app, days), "start": "10:00",
        "end": "17:00", "place": "Place du marché"})
    with db.connection_context():
        return Event.get(Event.title == title).id


def count(client, event_id, **fields):
    return post_from_page(client, f"/admin/events/{event_id}/count",
                          f"/admin/events/{event_id}/count", fields)


def stored(event_id):
    with db.connection_context():
        event = Event.get_by_id(event_id)
    return event.attendance, event.kg_brought, event.kg_taken


def test_a_free_zone_day_is_weighed_and_counted_apart_from_the_estimates(app, admin):
    free_zone = publish(admin, app, "Zone de gratuité", "free_zone")
    repair = publish(admin, app, "Repair café", "repair_cafe")
    event_page = admin.get(f"/events/{free_zone}").get_data(as_text=True)
    assert "Compter les participants et les kilos" in event_page
    assert count(admin, free_zone, attendance="85", kg_brought="1 234,5".replace(" ", ""),
                 kg_taken="980.4").status_code == 302
    # a repair café weighs nothing: kilos sent anyway are not taken
    assert count(admin, repair, attendance="23", kg_brought="50").status_code == 302
    assert stored(free_zone) == (85, 1234.5, 980.4)
    assert stored(repair) == (23, None, None)
    visitor = app.test_client()
    shown = visitor.get(f"/events/{free_zone}").get_data(as_text=True)
    assert "85 personnes" in shown and "1\u202f234,5\u00a0kg" in shown
    page = visitor.get("/stats/").get_data(as_text=True)
    assert "Personnes venues</dt><dd>108" in page
    assert "Kilos apportés aux zones de gratuité (pesés)</dt><dd>1\u202f234,5" in page
    assert "Kilos gardés en usage</dt><dd>0" in page  # never mixed with the estimates
    rows = dict(csv.reader(io.StringIO(admin.get("/admin/stats.csv").get_data(as_text=True)
                                       .lstrip("\ufeff")), delimiter=";"))
    assert (rows["events_counted"], rows["attendance"], rows["kg_weighed_brought"],
            rows["kg_weighed_taken"], rows["kg_kept_in_use"]) == ("2", "108", "1234,5",
                                                                  "980,4", "0,0")
    assert visitor.get("/api/v1/stats").get_json()["kg_weighed_taken"] == 980.4


def test_the_command_line_says_the_weighed_kilos_on_their_own_line(app, admin, runner):
    event = publish(admin, app, "Zone de gratuité", "free_zone")
    count(admin, event, attendance="", kg_brought="2000", kg_taken="1500")
    data = app.extensions["box"].data_dir.path
    result = runner.invoke(application.cli, ["--data", str(data), "stats"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("Kilos apportés aux zones de gratuité (pesés)")
               and line.endswith("2\u202f000,0") for line in lines), result.output
    assert any(line.startswith("Événements comptés") and line.endswith("1") for line in lines)


@pytest.mark.parametrize(("fields", "field"), [
    ({"attendance": "-3"}, "attendance"),
    ({"attendance": "douze"}, "attendance"),
    ({"attendance": "100001"}, "attendance"),
    ({"kg_brought": "beaucoup"}, "kg_brought"),
    ({"kg_brought": "-1"}, "kg_brought"),
    ({"kg_taken": "100000,5"}, "kg_taken"),
])
def test_a_bad_count_is_refused_beside_its_field_and_kept_as_typed(app, admin, fields, field):
    event = publish(admin, app, "Zone de gratuité", "free_zone")
    response = count(admin, event, **{"attendance": "40", "kg_brought": "12",
                                      "kg_taken": "10", **fields})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'id="{field}-error"' in page and f'value="{fields[field]}"' in page
    assert stored(event) == (None, None, None)


def test_counting_is_the_mediators_and_a_blank_field_is_not_a_zero(app, admin):
    event = publish(admin, app, "Zone de gratuité", "free_zone")
    visitor = app.test_client()
    assert visitor.get(f"/admin/events/{event}/count").status_code == 302  # to the login
    count(admin, event, attendance="40", kg_brought="", kg_taken="")
    assert stored(event) == (40, None, None)
    page = admin.get(f"/admin/events/{event}/count").get_data(as_text=True)
    assert 'value="40"' in page  # shown again to correct it
    count(admin, event, attendance="", kg_brought="12,5", kg_taken="")
    assert stored(event) == (None, 12.5, None)


def test_the_hub_counts_each_box_and_a_box_cannot_count_the_hubs_event(network, stick):
    hub, bonnet, marols = network
    bonnet.use()
    free_zone = publish(bonnet.mediator, bonnet.app, "Zone de gratuité", "free_zone")
    count(bonnet.mediator, free_zone, attendance="60", kg_brought="300", kg_taken="250")
    hub.use()
    market = publish(hub.mediator, hub.app, "Marché de la Loire", "market")
    count(hub.mediator, market, attendance="400")
    for village in (bonnet, marols, hub, bonnet, marols):
        village.sync(stick)
    hub.use()
    rows = list(csv.reader(io.StringIO(hub.mediator.get("/admin/stats.csv").get_data(
        as_text=True).lstrip("\ufeff")), delimiter=";"))
    head = rows[0]
    by_name = {row[1]: dict(zip(head, row, strict=True)) for row in rows[1:]}
    assert by_name["Saint-Bonnet"]["kg_weighed_brought"] == "300,0"
    assert by_name["Saint-Bonnet"]["attendance"] == "60"
    assert by_name["Marols"]["attendance"] == "0"
    marols.use()
    with db.connection_context():
        assert Event.get_by_id(market).attendance == 400  # the hub's event, as counted there
    assert marols.mediator.get(f"/admin/events/{market}/count").status_code == 403
    assert not bonnet.set_aside() and not hub.set_aside() and not marols.set_aside()


typed_count = st.one_of(st.just(""), st.integers(-5, 200_000).map(str), st.text(max_size=6))
NARROW_SPACE = "\u202f"  # a thousands' space, as a French phone types it
typed_kilos = st.one_of(st.just(""), st.floats(-10, 120_000).map(
    lambda f: f"{f:.2f}".replace(".", ",")), st.floats(0, 5000).map(repr), st.text(max_size=6),
    st.integers(0, 200_000).map(lambda n: f"{n:,}".replace(",", NARROW_SPACE)))


@on_both_engines
def test_whatever_the_count_form_accepts_crosses_box_hub_and_other_box(network, stick):
    hub, bonnet, marols = network
    bonnet.use()
    here = publish(bonnet.mediator, bonnet.app, "Zone de gratuité", "free_zone")
    hub.use()
    there = publish(hub.mediator, hub.app, "Grande zone de gratuité", "free_zone")
    for side in (bonnet, hub, bonnet, marols):
        side.sync(stick)

    @settings(max_examples=10, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(fields=st.fixed_dictionaries({"attendance": typed_count, "kg_brought": typed_kilos,
                                         "kg_taken": typed_kilos}), at_hub=st.booleans())
    def crosses(fields, at_hub):
        village, event = (hub, there) if at_hub else (bonnet, here)
        village.use()
        token = csrf_from(village.mediator.get(f"/admin/events/{event}/count")
                          .get_data(as_text=True))
        response = village.mediator.post(f"/admin/events/{event}/count",
                                         data={"csrf_token": token, **fields})
        assert response.status_code in (302, 400)
        for side in (bonnet, hub, bonnet, marols):
            side.sync(stick)
        states = [side.states() for side in (bonnet, hub, marols)]
        assert states[0][("event", here)] == states[1][("event", here)]
        assert states[0][("event", there)] == states[1][("event", there)] \
            == states[2][("event", there)]
        assert not bonnet.set_aside() and not hub.set_aside() and not marols.set_aside()

    crosses()


def test_a_count_reaches_the_cached_impact_page_and_leaves_the_catalogue_cached(app, admin):
    free_zone = publish(admin, app, "Zone de gratuité", "free_zone")
    visitor = app.test_client()
    assert "(pesés)" not in visitor.get("/stats/").get_data(as_text=True)
    assert visitor.get("/api/v1/stats").get_json()["kg_weighed_brought"] == 0
    catalogue = visitor.get("/items/")
    count(admin, free_zone, attendance="85", kg_brought="120", kg_taken="80")
    assert "Kilos apportés aux zones de gratuité (pesés)" in visitor.get(
        "/stats/").get_data(as_text=True)
    assert visitor.get("/api/v1/stats").get_json()["kg_weighed_brought"] == 120
    again = visitor.get("/items/", headers={"If-None-Match": catalogue.headers["ETag"]})
    assert again.status_code == 304


def test_an_event_not_begun_is_not_counted_by_the_form_nor_by_the_figures(app, admin):
    coming = publish(admin, app, "Réunion de décembre", "meeting", days=-21)
    response = count(admin, coming, attendance="500")
    assert response.status_code == 400
    assert "n’a pas encore commencé" in response.get_data(as_text=True)
    assert stored(coming) == (None, None, None)
    with db.connection_context():  # a count that came ahead of its event, from elsewhere
        Event.update(attendance=500).where(Event.id == coming).execute()
    page = app.test_client().get("/stats/").get_data(as_text=True)
    assert "Personnes venues" not in page or "Personnes venues</dt><dd>0" in page
    assert app.test_client().get("/api/v1/stats").get_json()["attendance"] == 0


def test_the_count_form_gives_back_the_kilos_exactly_as_stored(app, admin):
    event = publish(admin, app, "Zone de gratuité", "free_zone")
    count(admin, event, attendance="40", kg_brought="1 200", kg_taken="98,25")
    assert stored(event) == (40, 1200.0, 98.25)
    page = admin.get(f"/admin/events/{event}/count").get_data(as_text=True)
    assert 'value="98,25"' in page and 'value="1200"' in page
    assert 'inputmode="numeric"' in page and page.count('inputmode="decimal"') == 2
    count(admin, event, attendance="41", kg_brought="1200", kg_taken="98,25")
    assert stored(event) == (41, 1200.0, 98.25)


@pytest.mark.parametrize(("fields", "message"), [
    ({"attendance": "100001"},
     "Donnez un nombre entier de 0 à 100\u202f000, en chiffres seulement."),
    ({"kg_taken": "100 000,5"},
     "Donnez un nombre de 0 à 100\u202f000, par exemple 12,5 ou 1 200."),
])
def test_a_refused_count_says_the_form_and_the_maximum(app, admin, fields, message):
    event = publish(admin, app, "Zone de gratuité", "free_zone")
    response = count(admin, event, **{"attendance": "40", "kg_brought": "", "kg_taken": "",
                                      **fields})
    assert message in response.get_data(as_text=True)


def test_the_same_event_posted_twice_is_one_event(app, admin):
    import re

    page = admin.get("/events/new").get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "title": "Repair café", "kind": "repair_cafe",
            "day": days_ago(app, -3), "start": "14:00", "end": "", "place": "",
            "form_id": re.search(r'name="form_id" value="([^"]+)"', page).group(1)}
    first, second = (admin.post("/events/new", data=data) for _ in range(2))
    assert first.headers["Location"] == second.headers["Location"]
    with db.connection_context():
        assert Event.select().count() == 1
