"""The figures page kept after a write: every write that changes a figure shows on it at
once, a write that changes none leaves it as it was rendered (its figures are not added
up again)."""

import re

import pytest

from models import Item, db
from piratebox.box import Actor
from piratebox.impact import changes
from tests.test_catalogue import edit_photos, offer, only_item, post
from tests.test_event_counts import count, publish
from tests.test_impact import tally_of
from tests.test_initiatives import add as add_initiative
from tests.test_rides import leaves, offer_ride, take_seat, the_ride, token_of

# Kept for good within a test: only a write may render the page again, never the time
# (a test straddling the end of a 30 seconds' bucket would otherwise render it once more).
FOR_GOOD = 10**12


@pytest.fixture
def kept(make_app, data_dir):
    return make_app(PAGE_CACHE_SECONDS=FOR_GOOD)


def figures_on(visitor):
    """The numbers the figures page shows a visitor, by what it calls them."""
    page = visitor.get("/stats/").get_data(as_text=True)
    shown = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", page))
    line = re.search(r"Déposés dans la boîte : [^<]+", page).group(0)
    shown.update((name.strip(), number)
                 for name, number in re.findall(r"([^:·,]+) : ([\d\u202f]+)", line))
    return page, shown


def renderings_of_the_figures(monkeypatch):
    """The list of the figures page's renderings from now on (its frame kept or not)."""
    from piratebox.impact import views

    renders = []
    original = views.render_index

    def counted():
        renders.append("stats")
        return original()

    monkeypatch.setattr(views, "render_index", counted)
    return renders


def test_every_write_that_changes_a_figure_shows_on_the_kept_page(kept, admin_password):
    visitor, owner, mediator = kept.test_client(), kept.test_client(), kept.test_client()
    response = post(mediator, "/admin/login", "/admin/", password=admin_password)
    assert response.status_code == 302
    _page, shown = figures_on(visitor)
    assert (shown["proposés"], shown["Échanges (objets et services)"]) == ("0", "0")

    offer(owner, place="box", category="bikes", title="Vélo")
    _page, shown = figures_on(visitor)
    assert shown["Déposés dans la boîte"] == "1", "an object deposited"
    item = only_item()
    post(kept.test_client(), f"/items/{item.id}/take", f"/items/{item.id}",
         avoided_purchase="yes")
    _page, shown = figures_on(visitor)
    assert (shown["Échanges (objets et services)"], shown["Achats évités"]) == ("1", "1")

    assert tally_of(mediator, "2020-01-06", 4, 3).status_code == 302
    page, shown = figures_on(visitor)
    assert "4 déposés, 3 pris" in page and shown["Déposés dans la boîte"] == "5"

    market = publish(mediator, kept, "Zone de gratuité", "free_zone")
    assert count(mediator, market, attendance="85", kg_brought="120").status_code == 302
    _page, shown = figures_on(visitor)
    assert shown["Personnes venues"] == "85"


def test_a_rides_change_and_an_initiatives_commune_show_on_the_kept_page(
        kept, admin_password):
    driver, visitor, mediator = kept.test_client(), kept.test_client(), kept.test_client()
    offer_ride(driver, ride_from="Saint-Bonnet-le-Château", ride_to="Les Grands Prés")
    ride = the_ride()
    take_seat(kept, "Marie")
    paul, _taken = take_seat(kept, "Paul")
    leaves(kept, ride)
    post(mediator, "/admin/login", "/admin/", password=admin_password)  # renders every page
    page, shown = figures_on(visitor)
    assert shown["Passagers"] == "2" and "inconnues pour 1" in page

    assert post(paul, f"/items/{ride.id}/seat/leave", f"/items/{ride.id}").status_code == 302
    _page, shown = figures_on(visitor)
    assert shown["Passagers"] == "1", "a seat given back, the driver has not said yet"

    token = token_of(driver, f"/items/{ride.id}/manage")
    response = driver.post(f"/items/{ride.id}/manage/confirm",
                           data={"csrf_token": token, "others": "2"})
    assert response.status_code == 302
    _page, shown = figures_on(visitor)
    assert shown["Passagers"] == "2", "the driver said who rode"

    assert add_initiative(mediator, name="Ferme des Grands Prés", commune="Les Grands Prés",
                          latitude="45,50", longitude="4,00").status_code == 302
    page, shown = figures_on(visitor)
    assert "estimées d’après les deux communes (ligne droite × 1,3) pour 1" in page
    assert shown["Kilomètres partagés (par passager)"] != "0"


def test_a_write_that_changes_no_figure_keeps_the_page_as_it_was(kept, monkeypatch):
    renders = renderings_of_the_figures(monkeypatch)
    owner, visitor = kept.test_client(), kept.test_client()
    offer(owner, title="Étagère en pin")
    item = only_item()
    first = visitor.get("/stats/")
    assert len(renders) == 1
    assert post(kept.test_client(), f"/items/{item.id}/reserve", f"/items/{item.id}",
                pseudonym="Lina").status_code == 302
    item.title = "Étagère en chêne"
    assert edit_photos(owner, item, []).status_code == 302
    post(kept.test_client(), "/board/", "/board/", text="Qui a une échelle ?")
    again = visitor.get("/stats/", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and len(renders) == 1, "kept as it was"
    assert visitor.get("/api/v1/stats").get_json()["offered"] == 1

    manage = f"/items/{item.id}/manage"
    assert post(owner, f"{manage}/give", manage).status_code == 302  # to Lina
    _page, shown = figures_on(visitor)
    assert shown["Échanges (objets et services)"] == "1" and len(renders) == 2
    assert visitor.get("/api/v1/stats").get_json()["given"] == 1


def test_a_ride_that_becomes_an_object_is_a_change_of_what_the_figures_read(app, client):
    offer_ride(client, title="Au marché")
    offer_ride(client, title="À la gare")
    with app.app_context(), db.connection_context():
        before = changes.latest()
        first = Item.get(Item.title == "Au marché")  # not the rides' newest change
        first.category, first.ride_at, first.seats = "bikes", None, None
        Actor(first.origin, first.updated_at + 1).save(first)
        assert changes.latest() != before


@pytest.mark.usefixtures("hub_engine")
def test_at_a_hub_on_either_engine_what_a_box_sends_is_a_change_of_the_figures(
        tmp_path, stick, monkeypatch):
    import app as application
    from tests.conftest import TEST_CONFIG
    from tests.test_sync import add_item, enrolled_pair, ok, opened

    hub, village = enrolled_pair(tmp_path, stick)
    with opened(hub):
        before = changes.latest()
    add_item(village)
    ok(village, "sync", str(stick))
    ok(hub, "sync", str(stick))
    with opened(hub):
        assert changes.latest() != before, "the village's object counted as offered"
    renders = renderings_of_the_figures(monkeypatch)
    kept_at_hub = application.create_app({"DATA_DIR": str(hub.path), **TEST_CONFIG,
                                          "PAGE_CACHE_SECONDS": FOR_GOOD})
    _page, shown = figures_on(kept_at_hub.test_client())
    assert shown["proposés"] == "1" and len(renders) == 1
    kept_at_hub.extensions["page_cache"].changed(("stats",))  # a write that changed no figure
    assert figures_on(kept_at_hub.test_client())[1] == shown and len(renders) == 1
