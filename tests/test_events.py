from datetime import UTC, datetime, timedelta

import icalendar  # parses the .ics files back
import pytest

from models import Event, db
from piratebox.events.ics import fold
from tests.conftest import csrf_from


def propose(client, **fields):
    token = csrf_from(client.get("/events/new").get_data(as_text=True))
    data = {"csrf_token": token, "title": "Repair café", "kind": "repair_cafe",
            "day": "2030-03-14", "start": "14:00", "end": "18:00",
            "place": "Salle des fêtes, place de l'Église", "description": "Apportez; vos, objets",
            **fields}
    return client.post("/events/new", data=data)


def events():
    with db.connection_context():
        return list(Event.select().order_by(Event.starts_at))


def test_a_villager_proposes_and_the_mediator_publishes(admin, app):
    client = app.test_client()  # a villager, not the logged-in mediator
    assert propose(client).status_code == 302
    [event] = events()
    assert event.status == "proposed"
    assert "Repair café" not in client.get("/events/").get_data(as_text=True)
    assert client.get(f"/events/{event.id}").status_code == 404
    page = admin.get("/admin/events").get_data(as_text=True)
    assert "Repair café" in page
    admin.post(f"/admin/events/{event.id}", data={"csrf_token": csrf_from(page),
                                                  "decision": "publish"})
    html = client.get("/events/").get_data(as_text=True)
    # the day written once, hours the French way, the year because it is not this one
    assert "Repair café" in html
    assert "jeudi 14 mars 2030, 14\u00a0h\u2009\u2013\u200918\u00a0h" in html


def test_an_event_over_two_days_names_both(admin):
    propose(admin, day="2030-07-01", start="20:00", end="01:30")
    html = admin.get(f"/events/{events()[0].id}").get_data(as_text=True)
    assert ("lundi 1er juillet 2030, 20\u00a0h\u2009\u2013\u2009"
            "mardi 2 juillet 2030, 1\u00a0h\u00a030") in html


def test_the_mediators_events_are_published_at_once(admin):
    propose(admin, title="Disco Soupe", kind="disco_soupe")
    assert events()[0].status == "published"


def test_times_are_read_in_the_village_time_zone(admin):
    propose(admin, day="2030-07-01", start="20:00", end="01:00")
    [event] = events()
    assert event.starts_at == datetime(2030, 7, 1, 18, tzinfo=UTC).timestamp()
    assert event.ends_at - event.starts_at == 5 * 3600  # past midnight: the next day


@pytest.mark.parametrize(("fields", "error"), [
    ({"title": "x"}, "Donnez un titre"),
    ({"day": "14/03/2030"}, "Indiquez une date"),
    ({"start": "2pm"}, "Indiquez une heure"),
    ({"kind": "rave"}, "Choisissez une des options."),
])
def test_bad_fields_are_refused_and_nothing_is_saved(client, fields, error):
    response = propose(client, **fields)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert error in html and "Salle des fêtes" in html
    assert events() == []


def test_past_events_move_to_the_archive(admin, app, client):
    propose(admin, title="Marché de Noël", day="2030-12-20")
    clock = app.extensions["box"].clock
    clock.correct(datetime(2030, 12, 21, tzinfo=UTC).timestamp(), "admin")
    assert "Marché de Noël" not in client.get("/events/").get_data(as_text=True)
    assert "Marché de Noël" in client.get("/events/archive").get_data(as_text=True)


def parse(data):
    calendar = icalendar.Calendar.from_ical(data)
    return [component for component in calendar.walk() if component.name == "VEVENT"]


def test_an_event_downloads_as_a_valid_calendar_file(admin, client):
    propose(admin, description="Ligne 1\nLigne 2, avec ; et \\ " + "é" * 80)
    [event] = events()
    response = client.get(f"/events/{event.id}.ics")
    assert response.mimetype == "text/calendar"
    raw = response.data
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    [vevent] = parse(raw)
    assert str(vevent["SUMMARY"]) == "Repair café"
    assert str(vevent["LOCATION"]) == "Salle des fêtes, place de l'Église"
    assert str(vevent["DESCRIPTION"]) == "Ligne 1\nLigne 2, avec ; et \\ " + "é" * 80
    assert vevent.decoded("DTSTART") == datetime(2030, 3, 14, 13, tzinfo=UTC)
    assert vevent.decoded("DTEND") - vevent.decoded("DTSTART") == timedelta(hours=4)
    assert str(vevent["UID"]) == f"{event.id}@cocote"


def test_the_whole_agenda_is_one_calendar(admin, client):
    propose(admin, title="Une")
    propose(admin, title="Deux", day="2030-03-15", end="")
    vevents = parse(client.get("/events/agenda.ics").data)
    assert [str(v["SUMMARY"]) for v in vevents] == ["Une", "Deux"]
    two = vevents[1]
    assert two.decoded("DTEND") - two.decoded("DTSTART") == timedelta(hours=2)


def test_folding_never_splits_a_character():
    line = "DESCRIPTION:" + "é" * 100
    pieces = fold(line).split("\r\n ")
    assert "".join(pieces) == line
    assert all(len(piece.encode()) <= 75 for piece in pieces)


def test_the_mediator_edits_an_event(admin):
    propose(admin)
    [event] = events()
    page = admin.get(f"/events/{event.id}/edit").get_data(as_text=True)
    assert 'value="2030-03-14"' in page and 'value="14:00"' in page
    admin.post(f"/events/{event.id}/edit", data={
        "csrf_token": csrf_from(page), "title": "Repair café géant", "kind": "repair_cafe",
        "day": "2030-03-14", "start": "15:00", "end": "", "place": "", "description": ""})
    assert events()[0].title == "Repair café géant"


def test_the_home_page_shows_the_next_events(admin, client):
    propose(admin, title="Troc de graines")
    assert "Troc de graines" in client.get("/").get_data(as_text=True)
