"""The map of initiatives: the mediator's form and its rules, the map the box draws, the
list by commune and theme, the printable sheet, and the initiatives of every box reaching
every other through the hub."""

import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import Initiative, db
from piratebox.initiatives import KINDS, THEMES, communes
from tests.conftest import post_from_page
from tests.field import enrolled_network
from tests.test_field_sync import on_both_engines, typed

AMAP = {"name": "AMAP du Haut-Forez", "kind": "amap", "theme": "food",
        "commune": "Saint-Bonnet-le-Château", "place": "Salle des fêtes",
        "hours": "Jeudi 18 h – 19 h", "contact": "amap@example.org",
        "description": "Paniers de légumes.", "latitude": "45,4240", "longitude": "4,0671"}


def add(client, **fields):
    return post_from_page(client, "/admin/initiatives/new", "/admin/initiatives/new",
                          {**AMAP, **fields})


SVG = "{http://www.w3.org/2000/svg}"


def map_of(page):
    """The page's map, as the SVG it is."""
    return ET.fromstring(re.search(r"<svg.*?</svg>", page, re.S).group(0))  # noqa: S314 - ours


def stored(app):
    with app.app_context(), db.connection_context():
        return list(Initiative.live().order_by(Initiative.created_at))


def test_the_mediator_records_an_initiative_and_every_visitor_sees_it(app, admin, client):
    response = add(admin)
    assert response.status_code == 302
    (initiative,) = stored(app)
    assert (initiative.latitude, initiative.longitude) == (45.424, 4.0671)
    visitor = app.test_client()
    page = visitor.get("/initiatives/").get_data(as_text=True)
    assert "AMAP du Haut-Forez" in page and "Se nourrir" in page
    shown = visitor.get(f"/initiatives/{initiative.id}").get_data(as_text=True)
    assert "amap@example.org" in shown and "45,424" in shown and "Jeudi 18 h" in shown
    assert visitor.get("/admin/initiatives/new").status_code == 302  # the mediator's only


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"name": ""}, "name", "Donnez le nom de l’initiative."),
    ({"commune": " "}, "commune", "Donnez la commune."),
    ({"theme": "exchange"}, "theme", "Choisissez une des options."),
    ({"kind": "casino"}, "kind", "Choisissez une des options."),
    ({"latitude": "91"}, "latitude", "Cette valeur n’est pas valide."),
    ({"longitude": "-180,5"}, "longitude", "Cette valeur n’est pas valide."),
    ({"latitude": "45°25'"}, "latitude", "Cette valeur n’est pas valide."),
    ({"latitude": "nan"}, "latitude", "Cette valeur n’est pas valide."),
    ({"longitude": ""}, "longitude", "Donnez la latitude et la longitude, ou aucune des deux."),
])
def test_a_bad_field_is_shown_beside_it_and_what_was_typed_is_kept(app, admin, fields, field,
                                                                    message):
    response = add(admin, **fields)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'id="{field}-error">{message}</p>' in page.replace("&#39;", "'")
    assert 'value="Salle des fêtes"' in page
    if field == "latitude":
        assert f'value="{fields["latitude"]}"'.replace("'", "&#39;") in page
    assert stored(app) == []


def test_without_coordinates_an_initiative_is_drawn_at_its_commune(app, admin):
    add(admin, name="Bibliothèque", kind="library", theme="work", commune="saint-etienne",
        latitude="", longitude="")
    add(admin, name="Repair café", kind="repair_cafe", theme="tinker", commune="Marols",
        latitude="", longitude="")
    page = app.test_client().get("/initiatives/").get_data(as_text=True)
    markers = map_of(page).findall(f".//{SVG}title")
    assert [marker.text for marker in markers] == ["2. Bibliothèque"]  # Marols is 1
    assert "1 initiative n’a pas de place sur la carte" in page  # Marols: not in the table
    assert "Repair café" in page  # listed all the same


def test_the_map_is_drawn_to_scale_from_the_communes(app, admin):
    add(admin)  # Saint-Bonnet-le-Château, west of Saint-Étienne and at the same latitude
    add(admin, name="Médiathèque", kind="library", theme="work", commune="Saint-Étienne",
        latitude="45,4339", longitude="4,3900")
    add(admin, name="Atelier vélo", kind="repair_cafe", theme="move", commune="Roanne",
        latitude="46,0367", longitude="4,0683")
    page = app.test_client().get("/initiatives/").get_data(as_text=True)
    svg, ns = map_of(page), SVG
    where = {group.find(f"{ns}title").text[3:]: (
        float(group.find(f"{ns}circle").get("cx")), float(group.find(f"{ns}circle").get("cy")))
        for group in svg.iter(f"{ns}g") if group.find(f"{ns}title") is not None}
    bonnet, etienne, roanne = where["AMAP du Haut-Forez"], where["Médiathèque"], \
        where["Atelier vélo"]
    # north is up, east is right (to the unit the map is drawn in, about a phone's pixel)
    per_lat = (bonnet[1] - roanne[1]) / (46.0367 - 45.4240)
    assert bonnet[1] - etienne[1] == pytest.approx(per_lat * (45.4339 - 45.4240), abs=1)
    per_lon = (etienne[0] - bonnet[0]) / (4.3900 - 4.0671)
    assert roanne[0] - bonnet[0] == pytest.approx(per_lon * (4.0683 - 4.0671), abs=1)
    # and a degree of longitude shorter than one of latitude, by the cosine of 45.7° north
    assert per_lon / per_lat == pytest.approx(0.70, abs=0.01)
    names = [text.text for text in svg.iter(f"{ns}text") if text.text and text.text[0].isalpha()]
    assert set(names) == {"Saint-Bonnet-le-Château", "Saint-Étienne", "Roanne"}
    dots = svg.findall(f".//{ns}circle[@r='2.5']")
    assert len(dots) == len(communes.reference())  # every commune the network knows


def test_the_list_is_by_commune_then_theme_and_filters_without_javascript(app, admin):
    add(admin, name="Jardin partagé", kind="shared_garden", theme="food", commune="Marols")
    add(admin, name="Tiers-lieu", kind="coworking", theme="work", commune="Marols")
    add(admin, name="Autostop organisé", kind="other", theme="move", commune="Estivareilles")
    visitor = app.test_client()
    page = visitor.get("/initiatives/").get_data(as_text=True).split("</figure>")[1]
    order = [page.index(text) for text in ("<h2>Estivareilles", "<h2>Marols", "Se nourrir",
                                           "Jardin partagé", "Travailler", "Tiers-lieu")]
    assert order == sorted(order)
    working = visitor.get("/initiatives/?theme=work").get_data(as_text=True)
    assert "Tiers-lieu" in working and "Jardin partagé" not in working
    marols = visitor.get("/initiatives/?commune=marols").get_data(as_text=True)
    assert "Tiers-lieu" in marols and "<h2>Estivareilles" not in marols


def test_the_printable_sheet_holds_the_map_and_every_initiative(app, admin):
    add(admin)
    add(admin, name="Disco Soupe", kind="disco_soupe", theme="food", commune="Marols",
        latitude="45,4792", longitude="4,0481")
    sheet = app.test_client().get("/initiatives/print").get_data(as_text=True)
    assert "<svg" in sheet and "Disco Soupe" in sheet and "amap@example.org" in sheet
    assert "GeoNames" in sheet and "CC BY 4.0" in sheet
    assert 'href="/initiatives/' not in sheet.split("</svg>")[1]  # paper has no links


@pytest.fixture
def network(tmp_path, stick):
    return enrolled_network(tmp_path, stick)


def test_only_the_village_that_recorded_an_initiative_changes_it(network, stick):
    hub, bonnet, marols = network
    bonnet.submit(bonnet.mediator, "/admin/initiatives/new", "/admin/initiatives/new", AMAP)
    hub.submit(hub.mediator, "/admin/initiatives/new", "/admin/initiatives/new",
               {**AMAP, "name": "Réseau des AMAP de la Loire", "commune": "Saint-Étienne",
                "latitude": "", "longitude": ""})
    for village in (bonnet, hub, marols, bonnet):
        village.sync(stick)
    for village in (bonnet, marols):
        page = village.phone.get("/initiatives/").get_data(as_text=True)
        assert "AMAP du Haut-Forez" in page and "Réseau des AMAP de la Loire" in page
    marols.use()
    with db.connection_context():
        theirs = Initiative.get(Initiative.name == "AMAP du Haut-Forez").id
    page = marols.mediator.get(f"/initiatives/{theirs}").get_data(as_text=True)
    assert "La retirer de la carte" not in page and "Relevée par le médiateur" in page
    assert marols.mediator.get(f"/admin/initiatives/{theirs}/edit").status_code == 403
    # Saint-Bonnet takes it off the map: gone everywhere after the round
    bonnet.submit(bonnet.mediator, f"/initiatives/{theirs}",
                  f"/admin/initiatives/{theirs}/delete", {})
    for village in (bonnet, hub, marols):
        village.sync(stick)
    assert "AMAP du Haut-Forez" not in marols.phone.get("/initiatives/").get_data(as_text=True)
    assert not bonnet.set_aside() and not hub.set_aside() and not marols.set_aside()


degrees = st.one_of(
    st.just(""), st.floats(-200, 200).map(lambda f: f"{f:.5f}".replace(".", ",")),
    st.floats(-90, 90).map(repr), st.sampled_from(["45°25'", "nan", "1e3", "−4,5", " 4.06 "]),
    st.text(max_size=8))


@on_both_engines
def test_whatever_the_initiative_form_accepts_crosses_box_hub_and_other_box(network, stick):
    hub, bonnet, marols = network

    @settings(max_examples=12, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(fields=st.fixed_dictionaries({
        "name": typed, "commune": typed, "place": typed, "hours": typed, "contact": typed,
        "description": typed, "kind": st.sampled_from(sorted(KINDS)),
        "theme": st.sampled_from(sorted(THEMES)), "latitude": degrees, "longitude": degrees}))
    def crosses(fields):
        response = bonnet.submit(bonnet.mediator, "/admin/initiatives/new",
                                 "/admin/initiatives/new", {
                                     **fields, "name": f"AMAP {fields['name']}",
                                     "commune": f"Saint-{fields['commune']}"})
        assert response.status_code in (302, 400)
        for village in (bonnet, hub, marols):
            village.sync(stick)
        here, at_hub, there = bonnet.states(), hub.states(), marols.states()
        mine = {key: state for key, state in here.items() if key[0] == "initiative"}
        assert mine == {key: at_hub[key] for key in mine} == {key: there[key] for key in mine}
        assert not bonnet.set_aside() and not hub.set_aside() and not marols.set_aside()
        if response.status_code == 302:
            initiative_id = response.headers["Location"].split("/")[-1]
            state = there[("initiative", initiative_id)]
            assert (state["latitude"] is None) == (state["longitude"] is None)
            if state["latitude"] is not None:
                assert -90 <= state["latitude"] <= 90 and -180 <= state["longitude"] <= 180

    crosses()


def test_the_cached_map_shows_an_initiative_at_once_and_leaves_the_catalogue_cached(app,
                                                                                   admin):
    visitor = app.test_client()
    assert "AMAP du Haut-Forez" not in visitor.get("/initiatives/").get_data(as_text=True)
    assert "AMAP du Haut-Forez" not in visitor.get("/initiatives/print").get_data(as_text=True)
    catalogue = visitor.get("/items/")
    add(admin)
    assert "AMAP du Haut-Forez" in visitor.get("/initiatives/").get_data(as_text=True)
    assert "AMAP du Haut-Forez" in visitor.get("/initiatives/print").get_data(as_text=True)
    again = visitor.get("/items/", headers={"If-None-Match": catalogue.headers["ETag"]})
    assert again.status_code == 304
