"""Rides beside objects: a driver offers a ride, neighbours take its seats (never more than
offered), it leaves the lists when it leaves, the driver confirms who rode, and the
figures count the rides, the passengers, the kilometres shared and the CO2e of the car
trips that did not happen: on the page, the API, the CSV, the command line and the
quarter's report, and across the network to the hub."""

import csv
import io
import re
import threading
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from models import Item, WaitingEntry, db
from piratebox import box
from piratebox.impact import rides as ride_figures
from piratebox.impact.logic import ride_factor
from piratebox.storage import DataDir
from piratebox.timefmt import display_zone
from tests import browsers, clocks
from tests.conftest import post_from_page
from tests.server import Server
from tests.test_catalogue import post, token_of
from tests.test_field_sync import network  # noqa: F401 - a fixture
from tests.test_files_server import Phone
from tests.test_quarter_report import text_of

on_both_engines = pytest.mark.usefixtures("hub_engine")


def tomorrow(app, hours=9):
    """A day and an hour tomorrow in the village's time zone, as a form takes them."""
    zone = display_zone(app.config["TIMEZONE"])
    day = datetime.fromtimestamp(app.extensions["box"].clock.now(), zone).date() + timedelta(1)
    return day.isoformat(), f"{hours:02d}:00"


def offer_ride(client, **fields):
    day, start = tomorrow(client.application)
    data = {"csrf_token": token_of(client, "/items/new?category=rides"), "kind": "offer",
            "category": "rides", "mode": "give", "day": day, "start": start,
            "ride_from": "Saint-Bonnet-le-Château", "ride_to": "Montbrison", "seats": "2",
            "km": "", "title": "", "contact": "06 12 34 56 78", "pseudonym": "Jeanne",
            **fields}
    return client.post("/items/new", data=data)


def the_ride():
    with db.connection_context():
        return Item.get(Item.category == "rides")


def take_seat(app, name):
    neighbour = app.test_client()
    ride = the_ride()
    return neighbour, post(neighbour, f"/items/{ride.id}/seat", f"/items/{ride.id}",
                           pseudonym=name, contact="")


def leaves(app, ride, after=3600):
    clock = app.extensions["box"].clock
    clock.correct(ride.ride_at + after, "admin")


def test_a_ride_is_offered_from_its_own_form_and_named_from_where_to_where(client, app):
    form = client.get("/items/new?category=rides").get_data(as_text=True)
    assert "Je propose un trajet" in form and 'name="ride_from"' in form
    assert 'type="date"' in form and 'type="time"' in form and 'name="photos"' not in form
    response = offer_ride(client)
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    ride = the_ride()
    assert (ride.title, ride.seats, ride.km, ride.place) == (
        "Saint-Bonnet-le-Château → Montbrison", 2, None, "elsewhere")
    assert ride.expires_at == ride.ride_at  # listed until it leaves
    page = app.test_client().get(f"/items/{ride.id}").get_data(as_text=True)
    assert "Places restantes" in page and "2 sur 2" in page and "Prendre une place" in page
    listing = client.get("/items/?q=montbrison").get_data(as_text=True)
    assert "Saint-Bonnet-le-Château → Montbrison" in listing
    api = client.get(f"/api/v1/items/{ride.id}").get_json()
    assert (api["ride_from"], api["ride_to"], api["seats"], api["ride_at"]) == (
        "Saint-Bonnet-le-Château", "Montbrison", 2, ride.ride_at)
    assert "06 12" not in client.get("/api/v1/items").get_data(as_text=True)


def test_a_ride_with_a_title_of_its_own_is_found_by_its_communes(client):
    offer_ride(client, title="Au marché", ride_to="Usson-en-Forez")
    assert "Au marché" in client.get("/items/?q=usson").get_data(as_text=True)


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"day": ""}, "day", "Indiquez une date"),
    ({"start": "9h"}, "start", "Indiquez une heure"),
    ({"seats": "12"}, "seats", "de 1 à 8"),
    ({"seats": ""}, "seats", "de 1 à 8"),
    ({"ride_to": " "}, "ride_to", "d’où part le trajet"),
    ({"km": "loin"}, "km", "pas valide"),
])
def test_a_ride_form_says_what_is_missing_and_keeps_the_typing(client, fields, field, message):
    response = offer_ride(client, **{**fields, "description": "Je passe par Luriecq"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html and "Je passe par Luriecq" in html
    assert f'id="{field}-error"' in html
    with db.connection_context():
        assert Item.select().count() == 0


def test_seats_are_taken_never_more_than_offered_and_given_back(client, app):
    offer_ride(client)
    ride = the_ride()
    first, taken = take_seat(app, "Marie")
    assert taken.status_code == 302
    assert "Vous avez une place" in first.get(f"/items/{ride.id}").get_data(as_text=True)
    take_seat(app, "Paul")
    late, refused = take_seat(app, "Louise")
    assert refused.status_code == 409
    page = late.get(f"/items/{ride.id}").get_data(as_text=True)
    assert "Toutes les places de ce trajet sont prises." in page and "Prendre une place" not in page
    with db.connection_context():
        assert [e.pseudonym for e in WaitingEntry.queue(ride.id)] == ["Marie", "Paul"]
    assert post(first, f"/items/{ride.id}/seat/leave", f"/items/{ride.id}").status_code == 302
    _late, again = take_seat(app, "Louise")
    assert again.status_code == 302
    manage = client.get(f"/items/{ride.id}/manage").get_data(as_text=True)
    assert "Paul" in manage and "Louise" in manage and "Marie" not in manage
    assert "2 places prises sur 2." in manage


def test_a_ride_that_left_is_no_longer_listed_and_its_driver_confirms_who_rode(
        client, app, admin_password):
    offer_ride(client, km="24,5", seats="3")
    ride = the_ride()
    take_seat(app, "Marie")
    take_seat(app, "Paul")
    manage = client.get(f"/items/{ride.id}/manage").get_data(as_text=True)
    assert "Revenez ici après le trajet" in manage and 'name="rode"' not in manage
    assert post(client, f"/items/{ride.id}/manage/confirm",
                f"/items/{ride.id}/manage").status_code == 409  # it has not left yet
    leaves(app, ride)
    assert "Montbrison" not in client.get("/items/").get_data(as_text=True)
    late, refused = take_seat(app, "Louise")
    assert refused.status_code == 409
    assert "Ce trajet est parti." in late.get(f"/items/{ride.id}").get_data(as_text=True)
    # before the driver says, the seats taken count
    assert client.get("/api/v1/stats").get_json()["ride_passengers"] == 2
    with db.connection_context():
        marie = WaitingEntry.get(WaitingEntry.pseudonym == "Marie").id
    token = token_of(client, f"/items/{ride.id}/manage")
    response = client.post(f"/items/{ride.id}/manage/confirm",
                           data={"csrf_token": token, "rode": [marie], "others": "2"})
    assert response.status_code == 302
    assert (the_ride().status, the_ride().riders) == ("done", 3)
    stats = client.get("/api/v1/stats").get_json()
    assert (stats["rides"], stats["ride_passengers"], stats["km_shared"]) == (1, 3, 73.5)
    assert stats["kg_co2e_rides"] == pytest.approx(73.5 * 0.2176, abs=0.05)
    assert stats["kg_co2e_avoided"] == 0  # the objects' CO2e: another method, apart
    page = client.get("/stats/").get_data(as_text=True)
    assert "Trajets partagés" in page and "73,5" in page and "16" in page
    assert "données par le conducteur pour 1 trajets" in page
    mediator = app.test_client()
    post_from_page(mediator, "/admin/", "/admin/login", {"password": admin_password})
    table = dict(csv.reader(io.StringIO(mediator.get("/admin/stats.csv").get_data(
        as_text=True).lstrip("\ufeff")), delimiter=";"))
    assert (table["rides"], table["ride_passengers"], table["km_shared"]) == ("1", "3", "73,5")
    # more riders than seats: refused, the confirmed count stays
    token = token_of(client, f"/items/{ride.id}/manage")
    assert client.post(f"/items/{ride.id}/manage/confirm",
                       data={"csrf_token": token, "others": "9"}).status_code == 409
    assert the_ride().riders == 3


def test_without_a_distance_the_two_communes_give_one_and_the_page_says_so(client, app):
    offer_ride(client)
    ride = the_ride()
    take_seat(app, "Marie")
    leaves(app, ride)
    straight = ride_figures.great_circle_km((45.4240, 4.0671), (45.6075, 4.0652))
    assert 20 < straight < 21  # the two communes' points in the shipped table
    stats = client.get("/api/v1/stats").get_json()
    assert stats["km_shared"] == pytest.approx(round(straight * 1.3, 1), abs=0.05)
    assert stats["rides_km_estimated"] == 1
    page = client.get("/stats/").get_data(as_text=True)
    assert "estimées d’après les deux communes (ligne droite × 1,3) pour 1" in page


def test_a_ride_between_unknown_places_counts_its_passengers_but_no_kilometres(client, app):
    offer_ride(client, ride_from="La ferme des Grands Prés", ride_to="Chez Paulette")
    ride = the_ride()
    take_seat(app, "Marie")
    leaves(app, ride)
    stats = client.get("/api/v1/stats").get_json()
    assert (stats["rides"], stats["ride_passengers"], stats["km_shared"],
            stats["rides_km_unknown"]) == (1, 1, 0, 1)


def test_a_ride_nobody_took_or_withdrawn_is_no_shared_ride(client, app):
    offer_ride(client)
    ride = the_ride()
    leaves(app, ride)
    assert client.get("/api/v1/stats").get_json()["rides"] == 0


def test_the_command_line_and_the_quarters_report_have_the_rides(client, app, runner,
                                                                data_dir, tmp_path):
    from app import cli

    offer_ride(client, km="10")
    ride = the_ride()
    take_seat(app, "Marie")
    leaves(app, ride)
    result = runner.invoke(cli, ["--data", str(data_dir.path), "stats"])
    assert result.exit_code == 0, result.output
    lines = {line.rsplit(None, 1)[0].strip(): line.rsplit(None, 1)[1]
             for line in result.output.splitlines() if line.strip()}
    assert lines["Trajets partagés"] == "1"
    assert lines["Kilomètres partagés (par passager)"] == "10,0"
    quarter = datetime.fromtimestamp(ride.ride_at, display_zone("Europe/Paris"))
    name = f"{quarter.year}-Q{(quarter.month - 1) // 3 + 1}"
    out = tmp_path / "rapport.pdf"
    result = runner.invoke(cli, ["--data", str(data_dir.path), "stats", "--report", name,
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = text_of(out)
    assert "Trajets partagés 1" in text and "Kilomètres partagés (par passager) 10,0" in text
    assert "voiture thermique" in text  # the factor's source


def test_the_car_factor_is_the_sourced_one():
    assert ride_factor() == pytest.approx(0.192 + 0.0256)


typed_day = st.dates().map(lambda day: day.isoformat()) | st.text(max_size=12)
typed_time = st.times().map(lambda t: t.strftime("%H:%M")) | st.text(max_size=6)
typed_place = st.text(max_size=130) | st.sampled_from(["Montbrison", "Usson-en-Forez", ""])
typed_number = (st.integers(-2, 12).map(str) | st.floats(0, 2500).map(
    lambda f: f"{f:.1f}".replace(".", ",")) | st.text(max_size=5))


@on_both_engines
def test_whatever_the_ride_form_accepts_crosses_box_hub_and_other_box(network, stick):  # noqa: F811
    hub, bonnet, marols = network

    @settings(max_examples=10, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(fields=st.fixed_dictionaries({
        "day": typed_day, "start": typed_time, "ride_from": typed_place,
        "ride_to": typed_place, "seats": typed_number, "km": typed_number}),
        kind=st.sampled_from(["offer", "request"]))
    @example(fields={"day": "2026-12-05", "start": "08:30", "ride_from": "Usson-en-Forez",
                     "ride_to": "Montbrison", "seats": "3", "km": "31,5"}, kind="offer")
    @example(fields={"day": "2026-12-05", "start": "08:30", "ride_from": "Marols\u202e",
                     "ride_to": " Montbrison ", "seats": "1", "km": ""}, kind="request")
    def crosses(fields, kind):
        response = bonnet.submit(bonnet.phone, "/items/new?category=rides", "/items/new", {
            **fields, "kind": kind, "category": "rides", "mode": "give", "title": "",
            "contact": "06 12 34 56 78", "network": "on"})
        assert response.status_code in (302, 400), response.get_data(as_text=True)[:300]
        for village in (bonnet, hub, marols):
            village.sync(stick)
        here, at_hub, there = bonnet.states(), hub.states(), marols.states()
        if response.status_code == 302:  # the examples above always are
            key = ("item", response.headers["Location"].split("/")[-2])
            assert here[key] == at_hub[key] == there[key]
            assert here[key]["category"] == "rides" and here[key]["ride_at"] is not None
        assert not bonnet.set_aside() and not hub.set_aside() and not marols.set_aside()

    crosses()


@on_both_engines
def test_a_ride_offered_to_the_network_reaches_the_other_village_and_its_figures_the_hub(
        network, stick):  # noqa: F811
    hub, bonnet, marols = network
    bonnet.use()
    response = offer_ride(bonnet.phone, network="on", km="30")
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    ride = the_ride()
    for village in (bonnet, hub, marols):
        village.sync(stick)
    marols.use()
    page = marols.phone.get(f"/items/{ride.id}").get_data(as_text=True)
    assert "Saint-Bonnet-le-Château → Montbrison" in page and "06 12 34 56 78" in page
    assert "Prendre une place" not in page  # its seats are taken in its own village
    bonnet.use()
    _neighbour, taken = take_seat(bonnet.app, "Marie")
    assert taken.status_code == 302
    leaves(bonnet.app, ride)
    for village in (bonnet, hub):
        village.sync(stick)
    hub.use()
    with db.connection_context():
        entries = list(WaitingEntry.select().where(WaitingEntry.item_id == ride.id))
        assert [entry.pseudonym for entry in entries] == [""]  # who rode stays in the village
    hub.app.extensions["box"].clock.correct(ride.ride_at + 7200, "admin")
    csv_text = hub.command("stats", "--csv")
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(csv_text))
            if row["level"] == "box"}
    bonnet_row = next(row for name, row in rows.items() if "Bonnet" in name)
    assert (bonnet_row["rides"], bonnet_row["ride_passengers"], bonnet_row["km_shared"]) == (
        "1", "1", "30.0")
    assert float(bonnet_row["kg_co2e_rides"]) == pytest.approx(round(30 * 0.2176, 1))
    assert not bonnet.set_aside() and not hub.set_aside() and not marols.set_aside()



def test_phones_taking_the_last_seats_at_once_never_take_more_than_offered(client, app,
                                                                          data_dir):
    """Six phones on the wifi post "take a seat" at the same moment to the real server
    (waitress, its threads): two seats, two passengers, four told it is full."""
    offer_ride(client, seats="2")
    ride = the_ride()
    with Server(data_dir.path, "--threads", "6") as server:
        phones = [Phone(server.port, address=f"127.0.0.{10 + number}") for number in range(6)]
        tokens = [re.search(rb'name="csrf_token" value="([^"]+)"', phone.request(
            "GET", f"/items/{ride.id}")[1]).group(1).decode() for phone in phones]
        start = threading.Barrier(len(phones))
        statuses = []

        def take(phone, token, number):
            body = urllib.parse.urlencode({"csrf_token": token, "pseudonym": f"Voisin {number}"})
            start.wait()
            response, _page = phone.request("POST", f"/items/{ride.id}/seat", body=body, headers={
                "Content-Type": "application/x-www-form-urlencoded"})
            statuses.append(response.status)

        threads = [threading.Thread(target=take, args=(phone, token, number))
                   for number, (phone, token) in enumerate(zip(phones, tokens, strict=True))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(statuses) == [302, 302, 409, 409, 409, 409], server.output[1][-2000:]
    with db.connection_context():
        assert WaitingEntry.queue(ride.id).count() == 2


def utc(moment):
    """A moment as libfaketime takes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


@pytest.mark.skipif(not browsers.available("chromium"), reason=browsers.SKIP_REASONS["chromium"])
def test_a_driver_offers_a_ride_a_neighbour_takes_a_seat_and_the_figures_show_it(tmp_path):
    """In Chromium at 360 px with JavaScript off, against the real server: the driver offers
    a ride to the market, a neighbour takes a seat; the box, started again the day after
    (its system clock then says so), lets the driver confirm who rode, and its figures
    show the kilometres and the CO2e."""
    folder = DataDir(tmp_path / "data")
    box.create(folder, role="box", name="Saint-Bonnet-le-Château")
    leaves = datetime(2026, 12, 5, 8, 30, tzinfo=display_zone("Europe/Paris"))
    phone = browsers.open_phone("chromium", False, tmp_path / "chromium")
    try:
        with clocks.server(folder, env=clocks.system_clock(utc(leaves - timedelta(days=2)))) as up:
            phone.as_phone("driver")
            phone.visit(up.base + "/items/")
            phone.click("a[href='/items/new?category=rides']")
            phone.wait_for_url("category=rides")
            phone.check_fits()
            phone.script("document.querySelector('#day').value = '2026-12-05'")
            phone.script("document.querySelector('#start').value = '08:30'")
            phone.type("#ride_from", "Saint-Bonnet-le-Château")
            phone.type("#ride_to", "Montbrison")
            phone.type("#seats", "3")
            phone.type("#km", "24")
            phone.type("#contact", "06 12 34 56 78")
            phone.submit("form.stack")
            phone.wait_for_url("/manage")
            phone.check_fits()
            assert "Revenez ici après le trajet" in phone.text
            manage = phone.url

            phone.as_phone("neighbour")
            phone.visit(up.base + "/items/")
            phone.click("ul.items a")
            phone.wait_for_text("Prendre une place")
            phone.check_fits()
            assert "3 sur 3" in phone.text
            phone.type("#pseudonym", "Marie")
            phone.submit("form[action$='/seat']")
            phone.wait_for_text("Votre place est prise")
            phone.check_fits()
            assert "Vous avez une place" in phone.text and "2 sur 3" in phone.text
        with clocks.server(folder, env=clocks.system_clock(utc(leaves + timedelta(hours=6)))) as up:
            phone.visit(up.base + "/items/")
            assert "Montbrison" not in phone.text  # it has left the list
            phone.as_phone("driver")
            phone.visit(manage.replace(manage.split("/items/")[0], up.base))
            phone.wait_for_text("Qui est venu ?")
            phone.check_fits()
            assert "Marie" in phone.text
            phone.type("#others", "1")  # her son came along, without the box
            phone.submit("form[action$='/manage/confirm']")
            phone.wait_for_text("Les passagers venus comptent")
            phone.check_fits()
            phone.visit(up.base + "/stats/")
            assert "Trajets partagés" in phone.text
            assert "48,0" in phone.text  # two passengers times 24 km
            assert f"{48 * 0.2176:.1f}".replace(".", ",") in phone.text
            assert "données par le conducteur pour 1" in phone.text
    finally:
        phone.quit()
