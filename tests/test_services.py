"""Help and skills beside objects: offered and asked for through the same forms, rendered
again and again, counted as exchanges without mass or CO2e, read by the same rules on a
form and in a bundle, and across the network like any offer."""

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import Exchange, Item, db
from piratebox import rules
from piratebox.catalogue import categories
from piratebox.sync.records import LOCAL_FIELDS
from tests.test_catalogue import DAY, exchanges, offer, only_item, post

SERVICE = {"title": "Je répare les vélos", "category": "repairs", "mode": "give",
           "place": "home", "description": "Crevaisons, freins, dérailleurs."}


def test_a_service_is_offered_from_its_own_button_and_reads_as_help(client):
    home = client.get("/items/").get_data(as_text=True)
    assert "Je propose un coup de main ou un savoir-faire" in home
    form = client.get("/items/new?category=help").get_data(as_text=True)
    assert "Gratuit" in form and "Contre un autre service" in form
    assert 'value="lend"' not in form and 'value="box"' not in form  # neither fits a service
    assert offer(client, **SERVICE).status_code == 302
    page = client.get(f"/items/{only_item().id}", headers={"Cookie": ""})
    text = client.application.test_client().get(f"/items/{only_item().id}").get_data(
        as_text=True)
    assert page.status_code == 200
    assert "Gratuit" in text and "Service : réparations" in text
    assert "Demander ce coup de main" in text
    assert "acheté neuf" not in text  # the question is about objects


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"mode": "lend"}, "mode", "ne se prête pas"),
    ({"place": "box"}, "place", "pas dans la boîte du café"),
])
def test_a_service_lent_or_in_the_box_is_refused_with_the_typing_kept(client, fields, field,
                                                                      message):
    response = offer(client, **{**SERVICE, **fields})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html and "Je répare les vélos" in html
    with db.connection_context():
        assert Item.select().count() == 0


def test_the_two_tap_deposit_offers_objects_only(client):
    form = client.get("/items/deposit").get_data(as_text=True)
    assert 'value="tools"' in form and 'value="repairs"' not in form
    response = post(client, "/items/deposit", "/items/deposit", category="repairs")
    assert response.status_code == 400  # a forged choice: the rule refuses it
    with db.connection_context():
        assert Item.select().count() == 0


def test_a_service_is_asked_for_rendered_and_offered_again_counting_once_a_day(client, app):
    offer(client, **SERVICE)
    item = only_item()
    neighbour = app.test_client()
    assert post(neighbour, f"/items/{item.id}/reserve", f"/items/{item.id}",
                pseudonym="Marie", reserved_message="Mon pneu est à plat",
                avoided_purchase="yes").status_code == 302
    assert (only_item().status, only_item().reserved_by) == ("reserved", "Marie")
    manage = client.get(f"/items/{item.id}/manage").get_data(as_text=True)
    assert "Le service est rendu" in manage and "Il a été donné" not in manage
    assert post(client, f"/items/{item.id}/manage/render",
                f"/items/{item.id}/manage").status_code == 302
    rendered = only_item()
    assert (rendered.status, rendered.reserved_by, rendered.reserved_message) == (
        "available", "", "")
    assert exchanges(item.id) == [("offered", None), ("rendered", None)]
    # rendered again the same afternoon: one more neighbour helped, one exchange counted
    post(client, f"/items/{item.id}/manage/render", f"/items/{item.id}/manage")
    assert exchanges(item.id).count(("rendered", None)) == 1
    clock = app.extensions["box"].clock
    clock.correct(clock.now() + DAY + 60, "admin")
    post(client, f"/items/{item.id}/manage/render", f"/items/{item.id}/manage")
    assert exchanges(item.id).count(("rendered", None)) == 2
    # never "given" away, never lent: a service has neither
    assert post(client, f"/items/{item.id}/manage/give",
                f"/items/{item.id}/manage").status_code == 409
    assert only_item().status == "available"


def test_services_count_as_exchanges_with_no_kilos_and_no_co2e(client, app, admin):
    offer(client, **SERVICE)
    offer(client, title="Cours de tricot", category="lessons", mode="swap")
    with db.connection_context():
        bike, knitting = (Item.get(Item.title == title).id
                          for title in ("Je répare les vélos", "Cours de tricot"))
    for item_id in (bike, knitting):
        post(client, f"/items/{item_id}/manage/render", f"/items/{item_id}/manage")
    stats = client.get("/api/v1/stats").get_json()
    assert (stats["exchanges"], stats["rendered"], stats["given"]) == (2, 2, 0)
    assert (stats["kg_kept_in_use"], stats["kg_co2e_avoided"],
            stats["purchases_avoided"]) == (0, 0, 0)
    page = client.get("/stats/").get_data(as_text=True)
    assert "Échanges (objets et services)" in page
    assert "Services rendus (coups de main, réparations, cours) : 2" in page
    table = dict(csv.reader(io.StringIO(admin.get("/admin/stats.csv").get_data(
        as_text=True).lstrip("\ufeff")), delimiter=";"))
    assert (table["rendered"], table["exchanges"], table["kg_co2e_avoided"]) == ("2", "2", "0,0")
    with db.connection_context():
        assert {e.mass_kg for e in Exchange.select().where(Exchange.action == "rendered")} == {0}


def test_the_command_line_figures_have_the_services_line(client, app, runner, data_dir):
    from app import cli

    offer(client, **SERVICE)
    item = only_item()
    post(client, f"/items/{item.id}/manage/render", f"/items/{item.id}/manage")
    result = runner.invoke(cli, ["--data", str(data_dir.path), "stats"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("Services"))
    assert line.split()[-1] == "1"


def test_a_request_for_help_is_found_like_any_request(client):
    offer(client, kind="request", title="Quelqu'un pour tailler ma haie", category="help",
          place="elsewhere")
    item = only_item()
    post(client, f"/items/{item.id}/manage/fulfil", f"/items/{item.id}/manage")
    assert only_item().status == "fulfilled"
    assert exchanges(item.id)[-1] == ("fulfilled", None)


combinations = st.fixed_dictionaries({
    "kind": st.sampled_from(sorted(categories.KINDS)),
    "mode": st.sampled_from(sorted(categories.MODES)),
    "place": st.sampled_from(sorted(categories.PLACES)),
    "category": st.sampled_from(sorted(categories.BY_CODE)),
})


@settings(max_examples=150, deadline=None)
@given(values=combinations)
def test_a_bundle_reader_takes_what_a_form_takes_and_refuses_what_it_refuses(values):
    _clean, errors = rules.read(Item, {**values, "title": "Coup de main"})
    record = {"id": "a" * 26, "origin": "b" * 26, "version": 3, "deleted": False,
              "created_at": 1.0, "updated_at": 2.0, "title": "Coup de main", **values}
    try:
        rules.read_record(Item, record, LOCAL_FIELDS)
    except rules.Unusable:
        refused = True
    else:
        refused = False
    assert refused == bool(errors)
    assert refused == (categories.is_ride(values["category"])  # a ride says when and where
                       or categories.is_service(values["category"])
                       and (values["mode"] == "lend" or values["place"] == "box"))
