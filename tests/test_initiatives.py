"""The map of initiatives: the mediator's form and its rules, the map the box draws, the
list by commune and theme, the printable sheet, and the initiatives of every box reaching
every other through the hub."""

import re
import shutil
import subprocess
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


OUTSIDE = ("Hors de la carte : donnez un point de 45,05 à 46,40, en degrés décimaux (la Loire "
           "et ses environs).")


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"name": ""}, "name", "Donnez le nom de l’initiative."),
    ({"commune": " "}, "commune", "Donnez la commune."),
    ({"theme": "exchange"}, "theme", "Choisissez une des options."),
    ({"kind": "casino"}, "kind", "Choisissez une des options."),
    ({"latitude": "91"}, "latitude", OUTSIDE),
    ({"longitude": "-180,5"}, "longitude", OUTSIDE.replace("45,05 à 46,40", "3,55 à 4,95")),
    ({"latitude": "0", "longitude": "4"}, "latitude", OUTSIDE),
    ({"latitude": "45,9", "longitude": "45,9"}, "longitude",
     OUTSIDE.replace("45,05 à 46,40", "3,55 à 4,95")),
    ({"latitude": "45°25'"}, "latitude", OUTSIDE),
    ({"latitude": "nan"}, "latitude", OUTSIDE),
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
                  f"/admin/initiatives/{theirs}/delete", {"confirm": "yes"})
    for village in (bonnet, hub, marols):
        village.sync(stick)
    assert "AMAP du Haut-Forez" not in marols.phone.get("/initiatives/").get_data(as_text=True)
    assert not bonnet.set_aside() and not hub.set_aside() and not marols.set_aside()


degrees = st.one_of(
    st.just(""), st.floats(-200, 200).map(lambda f: f"{f:.5f}".replace(".", ",")),
    st.floats(3, 47).map(lambda f: f"{f:.4f}".replace(".", ",")),
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
                assert communes.rules.on_the_map(state["latitude"], state["longitude"])

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


def test_a_point_pasted_whole_into_the_latitude_is_read(app, admin):
    assert add(admin, latitude="45,4240, 4,0671", longitude="").status_code == 302
    assert add(admin, name="Bibliothèque", latitude=" 45.4240,4.0671 ",
               longitude="").status_code == 302
    assert [(i.latitude, i.longitude) for i in stored(app)] == [(45.424, 4.0671)] * 2


def test_a_point_off_the_map_never_moves_its_frame_and_is_listed_undrawn(app, admin):
    """An initiative stored before the rule (or brought by an older box) with 0 for 45."""
    add(admin)
    frame = map_of(admin.get("/initiatives/").get_data(as_text=True)).get("viewBox")
    add(admin, name="Café réparation", latitude="45,5", longitude="4,2")
    with app.app_context(), db.connection_context():
        Initiative.update(latitude=0.0, longitude=4.0).where(
            Initiative.name == "Café réparation").execute()
    page = admin.get("/initiatives/").get_data(as_text=True)
    drawn = map_of(page)
    assert drawn.get("viewBox") == frame
    assert len(drawn.findall(f".//{SVG}title")) == 1  # only the AMAP is drawn
    assert "Café réparation" in page and "hors de la carte" in page


def test_an_initiative_off_the_map_from_an_older_box_is_set_aside_not_blocking(network,
                                                                              stick):
    hub, bonnet, marols = network
    bonnet.submit(bonnet.mediator, "/admin/initiatives/new", "/admin/initiatives/new", AMAP)
    bonnet.submit(bonnet.mediator, "/admin/initiatives/new", "/admin/initiatives/new",
                  {**AMAP, "name": "Café réparation"})
    bonnet.use()
    with db.connection_context():  # as an older box let it through
        Initiative.update(latitude=0.0).where(Initiative.name == "Café réparation").execute()
    bonnet.sync(stick)
    at_hub = hub.run("sync", str(stick))  # applies the rest, sets aside the one, says so
    assert at_hub.exit_code == 1 and "set aside: 1" in at_hub.output
    marols.sync(stick)
    page = marols.phone.get("/initiatives/").get_data(as_text=True)
    assert "AMAP du Haut-Forez" in page and "Café réparation" not in page
    assert hub.set_aside() == 1 and not marols.set_aside()


@pytest.mark.parametrize("typed", ["SAINT ETIENNE", "St-Étienne", "Saint-Étienne (42000)",
                                   "saint etienne"])
def test_a_commune_typed_any_way_is_the_tables(app, admin, typed):
    add(admin, commune=typed, latitude="", longitude="")
    add(admin, name="Bibliothèque", commune="Saint-Étienne", latitude="", longitude="")
    add(admin, name="Jardin", commune="Hameau des Gouttes", latitude="", longitude="")
    assert [i.commune for i in stored(app)] == ["Saint-Étienne", "Saint-Étienne",
                                                "Hameau des Gouttes"]
    page = admin.get("/initiatives/").get_data(as_text=True)
    assert page.count("<option>Saint-Étienne</option>") == 1
    assert len(map_of(page).findall(f".//{SVG}title")) == 2  # the hamlet has no point


def test_the_same_form_posted_twice_makes_one_initiative(app, admin):
    page = admin.get("/admin/initiatives/new").get_data(as_text=True)
    form_id = re.search(r'name="form_id" value="([^"]+)"', page).group(1)
    from tests.conftest import csrf_from
    data = {**AMAP, "csrf_token": csrf_from(page), "form_id": form_id}
    first, second = (admin.post("/admin/initiatives/new", data=data) for _ in range(2))
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert len(stored(app)) == 1


def test_taking_an_initiative_off_the_map_asks_for_a_ticked_box(app, admin):
    add(admin)
    (initiative,) = stored(app)
    post_from_page(admin, f"/initiatives/{initiative.id}",
                   f"/admin/initiatives/{initiative.id}/delete", {})
    assert len(stored(app)) == 1
    post_from_page(admin, f"/initiatives/{initiative.id}",
                   f"/admin/initiatives/{initiative.id}/delete", {"confirm": "yes"})
    assert not stored(app)


def test_a_filter_with_no_match_says_so_and_offers_to_clear_it(app, admin):
    add(admin)
    page = admin.get("/initiatives/?theme=home").get_data(as_text=True)
    assert "Aucune initiative ne correspond à ces filtres." in page
    assert 'href="/initiatives/">Voir toutes les initiatives' in page


def test_another_villages_initiative_names_it_and_can_be_hidden_here(network, stick):
    hub, bonnet, marols = network
    bonnet.submit(bonnet.mediator, "/admin/initiatives/new", "/admin/initiatives/new", AMAP)
    hub.submit(hub.mediator, "/admin/initiatives/new", "/admin/initiatives/new",
               {**AMAP, "name": "Réseau des AMAP", "commune": "Roanne", "latitude": "",
                "longitude": ""})
    for village in (bonnet, hub, marols):
        village.sync(stick)
    marols.use()
    with db.connection_context():
        theirs = Initiative.get(Initiative.name == "AMAP du Haut-Forez").id
        hubs = Initiative.get(Initiative.name == "Réseau des AMAP").id
    page = marols.mediator.get(f"/initiatives/{theirs}").get_data(as_text=True)
    assert "Relevée par le médiateur de Saint-Bonnet" in page
    assert "Relevée par le centre du réseau" in marols.mediator.get(
        f"/initiatives/{hubs}").get_data(as_text=True)
    marols.submit(marols.mediator, f"/initiatives/{theirs}",
                  f"/admin/initiatives/{theirs}/hide", {"hidden": "yes"})
    assert "AMAP du Haut-Forez" not in marols.phone.get("/initiatives/").get_data(as_text=True)
    assert marols.phone.get(f"/initiatives/{theirs}").status_code == 404
    for village in (marols, hub, bonnet):
        village.sync(stick)
    assert "AMAP du Haut-Forez" in bonnet.phone.get("/initiatives/").get_data(as_text=True)
    assert "AMAP du Haut-Forez" in hub.phone.get("/initiatives/").get_data(as_text=True)
    marols.submit(marols.mediator, f"/initiatives/{theirs}",
                  f"/admin/initiatives/{theirs}/hide", {"hidden": "no"})
    assert "AMAP du Haut-Forez" in marols.phone.get("/initiatives/").get_data(as_text=True)


SHEET = [("AMAP du Haut-Forez", "Saint-Bonnet-le-Château", "amap", "food"),
         ("Repair café", "Marols", "repair_cafe", "tinker"),
         ("Bibliothèque municipale", "Montbrison", "library", "work"),
         ("Jardin partagé des Gouttes", "Montbrison", "shared_garden", "food"),
         ("CUMA du Forez", "Feurs", "cuma", "work"),
         ("Espace numérique", "Feurs", "digital_space", "work"),
         ("Disco Soupe", "Montbrison", "disco_soupe", "food"),
         ("Outilthèque", "Feurs", "tool_library", "tinker"),
         ("Boîte à dons du café", "Marols", "give_box", "home"),
         ("Coworking", "Boën-sur-Lignon", "coworking", "work"),
         ("AMAP de Roanne", "Roanne", "amap", "food"),
         ("Atelier vélo", "Saint-Étienne", "repair_cafe", "move")]


@pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("pdfinfo")),
                    reason="chromium and pdfinfo (poppler-utils) are not installed")
def test_the_sheet_of_a_dozen_initiatives_prints_on_one_a4_page(app, admin, data_dir,
                                                                 tmp_path):
    from tests.server import Server

    for name, commune, kind, theme in SHEET:
        add(admin, name=name, commune=commune, kind=kind, theme=theme, latitude="",
            longitude="", place="Salle des fêtes, rue de la Mairie",
            hours="Jeudi 18 h – 19 h, samedi 10 h – 12 h")
    db.close()
    server = Server(data_dir.path)
    try:
        pdf = tmp_path / "sheet.pdf"
        subprocess.run([shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-pdf-header-footer", "--accept-lang=fr-FR",
                        f"--user-data-dir={tmp_path / 'profile'}", f"--print-to-pdf={pdf}",
                        f"{server.base}/initiatives/print"],
                       capture_output=True, timeout=120, check=True)
    finally:
        server.stop()
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert re.search(r"^Pages:\s+1$", info.stdout, re.M), info.stdout
    assert "A4" in info.stdout
