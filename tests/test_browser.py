"""A phone's view: each journey of a villager and of the mediator, in Debian's Chromium and
in Firefox ESR, at 360 x 740, with JavaScript on and off, against the real server
(waitress on loopback). Every page on the way fits the screen and has readable text.
One browser session per browser and setting serves every journey; a journey changes
phones by keeping each one's cookies aside. Skipped, with the reason, only where a
browser is not installed."""

import io
import json
import re
import urllib.request

import pytest

from models import db
from piratebox import box
from piratebox.database import open_existing
from piratebox.storage import DataDir
from tests import browsers
from tests.images import jpeg
from tests.server import Server

SETTINGS = [(name, javascript) for name in ("chromium", "firefox") for javascript in (True, False)]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = DataDir(tmp_path_factory.mktemp("browser") / "data")
    box.create(folder, role="box", name="Saint-Bonnet")
    open_existing(folder)
    with db.connection_context():
        box.set_password("village-secret", 1000)
    return folder


def sticks_of(data_dir):
    """Where this server finds plugged sticks (its STICK_ROOTS): /mnt, for the tests."""
    return data_dir.path.parent / "mnt"


@pytest.fixture(scope="module")
def server(data_dir):
    with Server(data_dir.path, env={"PIRATEBOX_PAGE_CACHE_SECONDS": "0",
                                    "PIRATEBOX_POSTS_PER_HOUR": "1000",
                                    "PIRATEBOX_CLAIMS_PER_HOUR": "1000",
                                    "PIRATEBOX_STICK_ROOTS": str(sticks_of(data_dir))}) as running:
        yield running


@pytest.fixture(scope="module", params=SETTINGS,
                ids=[f"{name}-{'js' if js else 'no-js'}" for name, js in SETTINGS])
def phone(request, tmp_path_factory):
    name, javascript = request.param
    if not browsers.available(name):
        pytest.skip(browsers.SKIP_REASONS[name])
    opened = browsers.open_phone(name, javascript, tmp_path_factory.mktemp(name))
    opened.get("data:text/html,<title>off</title><script>document.title='on'</script>")
    assert opened.script("return document.title") == ("on" if javascript else "off")
    yield opened
    opened.quit()


@pytest.fixture
def tag(phone):
    """What makes this run's objects its own: the server is shared by every setting."""
    name = f"{phone.name}{'js' if phone.javascript else 'nojs'}"
    phone.as_phone(f"first-{name}")
    return name


def item_id_of(server, title):
    query = urllib.request.quote(title)
    with urllib.request.urlopen(f"{server.base}/api/v1/items?q={query}&status=all") as answer:
        return json.load(answer)["items"][0]["id"]


def offer(phone, server, title, mode="give", place="home"):
    phone.visit(server.base + "/items/new")
    phone.type("#title", title)
    phone.choose("#category", "tools")
    phone.click(f"input[name=mode][value={mode}]")
    phone.click(f"input[name=place][value={place}]")
    phone.submit("form.stack")
    phone.wait_for_url("/manage")
    phone.check_fits()


def test_a_villager_deposits_finds_and_takes_an_object(server, phone, tag, tmp_path):
    photo = tmp_path / "velo.jpg"
    photo.write_bytes(jpeg(width=1200, height=900, color=(30, 120, 200)))
    phone.visit(server.base + "/")
    assert "Saint-Bonnet" in phone.script("return document.title")
    phone.click("a[href='/items/deposit']")
    phone.wait_for_url("/items/deposit")
    phone.type("#photos", str(photo))
    phone.choose("#category", "bikes")
    phone.type("#title", f"Vélo d'enfant bleu {tag}")
    phone.submit("form.stack")
    phone.wait_for_url("/manage")
    phone.check_fits()
    assert "Merci ! Votre objet est en ligne." in phone.text

    phone.as_phone(f"taker-{tag}")
    phone.visit(server.base + "/items/")
    phone.type("#q", f"velo enfant {tag}")  # no accents, lower case
    phone.submit("form.filters")
    phone.wait_for_url("q=velo")
    phone.check_fits()
    phone.click("ul.items a")
    phone.wait_for(lambda: re.search(r"/items/[a-z2-7]{26}$", phone.url), "the object's page")
    phone.check_fits()
    hero = phone.find(".hero img")
    phone.wait_for(lambda: phone.script("return arguments[0].naturalWidth", hero) > 0,
                   "the photo")
    assert phone.script("return arguments[0].getBoundingClientRect().width", hero) >= 340
    phone.click("input[name=avoided_purchase][value=yes]")
    phone.submit("form[action$='/take']")
    phone.wait_for_text("noté comme pris")
    phone.check_fits()


def test_an_object_is_reserved_and_the_reservation_cancelled(server, phone, tag):
    title = f"Étagère en pin {tag}"
    offer(phone, server, title)
    item = item_id_of(server, title)
    phone.as_phone(f"reserver-{tag}")
    phone.visit(f"{server.base}/items/{item}")
    assert "J’en ai un" not in phone.text
    phone.type("#pseudonym", "Paul")
    phone.type("#reserved_message", "Je passe samedi")
    phone.submit("form[action$='/reserve']")
    phone.wait_for_text("Vous l’avez réservé")
    phone.check_fits()
    phone.submit("form[action$='/reservation/cancel']")
    phone.wait_for_text("Votre réservation est annulée")
    phone.check_fits()
    assert "Disponible" in phone.text


def test_an_object_is_deleted_only_once_its_box_is_ticked(server, phone, tag):
    title = f"Chaise bancale {tag}"
    offer(phone, server, title)
    manage = phone.url
    phone.submit("form[action$='/manage/delete']")  # a mis-tap: the browser asks for the box
    assert phone.script("return document.querySelector('input[name=confirm]')"
                        ".validity.valueMissing")
    phone.visit(f"{server.base}/items/{item_id_of(server, title)}")  # still there
    phone.visit(manage)
    phone.click("form[action$='/manage/delete'] input[name=confirm]")
    phone.submit("form[action$='/manage/delete']")
    phone.wait_for_text("L’objet est supprimé.")
    phone.check_fits()


def test_a_request_is_answered_with_an_offer_of_its_own(server, phone, tag):
    phone.visit(server.base + "/items/new?kind=request")
    phone.type("#title", f"Scie sauteuse {tag}")
    phone.choose("#category", "tools")
    phone.submit("form.stack")
    phone.wait_for_text("Merci ! Votre demande est en ligne.")
    request = item_id_of(server, f"Scie sauteuse {tag}")
    phone.as_phone(f"neighbour-{tag}")
    phone.visit(f"{server.base}/items/{request}")
    assert "Toujours recherché" in phone.text and "À la maison" not in phone.text
    phone.click("a[href*='answers=']")
    phone.wait_for_url("answers=")
    phone.check_fits()
    assert phone.script("return document.getElementById('title').value") == ""
    phone.type("#title", f"Scie Bosch {tag}")
    phone.click("input[name=place][value=home]")
    phone.submit("form.stack")
    phone.wait_for_url("/manage")
    phone.visit(f"{server.base}/items/{request}")
    assert f"Scie Bosch {tag}" in phone.text


def test_a_lent_object_has_a_waiting_list_and_a_next_in_line(server, phone, tag):
    title = f"Perceuse {tag}"
    offer(phone, server, title, mode="lend")
    phone.type("#lent_to", "Marie")
    phone.submit("form[action$='/manage/lend']")
    phone.wait_for_text("Noté comme prêté.")
    item = item_id_of(server, title)
    phone.as_phone(f"waiting-{tag}")
    phone.visit(f"{server.base}/items/{item}")
    phone.type("#pseudonym", "Anne")
    phone.submit("form[action$='/waiting']")
    phone.wait_for_text("Vous êtes sur la liste d’attente")
    phone.check_fits()
    phone.as_phone(f"first-{tag}")
    phone.visit(f"{server.base}/items/{item}/manage")
    assert "Anne" in phone.text
    phone.submit("form[action$='/manage/return']")
    phone.wait_for_text("Au tour de : Anne.")
    phone.check_fits()


def test_a_file_is_shared_and_downloaded(server, phone, tag, tmp_path):
    document = tmp_path / f"Compte rendu été {tag}.pdf"
    document.write_bytes(b"%PDF-1.4 compte rendu du conseil " * 2000)
    phone.visit(server.base + "/files/")
    phone.type("#files", str(document))
    phone.type("#upload-folder", "Mairie")
    phone.submit("form[data-upload-form]")
    phone.wait_for_url("/files/uploaded")
    phone.check_fits()
    assert "1 fichier est partagé" in phone.text
    phone.visit(server.base + f"/files/?q={tag}")
    phone.click("a.button[download]")
    downloads = phone.downloads
    target = downloads / document.name
    phone.wait_for(lambda: target.exists() and target.stat().st_size == document.stat().st_size,
                   "the download")
    assert target.read_bytes() == document.read_bytes()


def test_the_mediator_sees_what_waits_and_a_refused_import_on_the_page(server, phone, tag,
                                                                        tmp_path):
    phone.as_phone(f"mediator-{tag}")
    phone.visit(server.base + "/admin/")
    phone.type("input[type=password]", "village-secret")
    phone.submit("form[action$='/admin/login']")
    # the dashboard, not the login page (whose title is the same): the session is open
    phone.wait_for_text("En attente de vous")
    phone.check_fits()
    assert "Prêts en retard" in phone.text
    for path in ("/admin/reports", "/admin/board", "/admin/loans", "/admin/sync",
                 "/admin/settings", "/admin/tally", "/stats/"):
        phone.visit(server.base + path)
        assert phone.find_all("h1"), path
    not_a_bundle = tmp_path / "vacances.jpg"
    not_a_bundle.write_bytes(b"not a bundle at all")
    phone.visit(server.base + "/admin/sync")
    phone.type("#bundle", str(not_a_bundle))
    phone.submit("form[action$='/admin/sync/upload']")
    phone.wait_for_text("vacances.jpg n’est pas un paquet")
    phone.check_fits()
    assert "uploaded-" not in phone.text and "Importer un paquet" in phone.text


def test_the_mediator_chooses_an_enrolment_and_discards_a_record_set_aside(phone, tag,
                                                                          tmp_path):
    """The sync page's choices on a phone: enrolments none of which bears the box's name,
    a record set aside here, one the hub set aside. A box of its own: it gets enrolled."""
    from piratebox.rules import Unusable
    from piratebox.sync import enrolment, quarantine

    hub, village = DataDir(tmp_path / "hub"), DataDir(tmp_path / "village")
    box.create(hub, role="hub", name="Centre de la Loire")
    box.create(village, role="box", name="Saint-Bonnet")
    stick = tmp_path / "stick" / "cocote"
    open_existing(hub)
    with db.connection_context():
        for name in ("Marols", "Luriecq"):
            enrolment.enrol(name, stick.parent, 1.79e9)
    open_existing(village)
    with db.connection_context():
        box.set_password("village-secret", 1000)
        enrolment.offer(stick)
        quarantine.keep("h" * 26, "b" * 26, {"table": "item", "record": {"id": "i" * 26}},
                        Unusable(quarantine.FOREIGN), 1.79e9, quarantine.Kept())
    phone.as_phone(f"mediator-of-a-new-box-{tag}")
    with Server(village.path) as server:
        phone.visit(server.base + "/admin/")
        phone.type("input[type=password]", "village-secret")
        phone.submit("form[action$='/admin/login']")
        phone.wait_for_text("En attente de vous")
        phone.visit(server.base + "/admin/sync")
        assert "Invitations sur la clé" in phone.text
        assert "elle est née sur une autre boîte" in phone.text
        phone.click("input[type=radio][name=enrolment]")  # the first one offered
        phone.submit("form[action$='/admin/sync/enrolment']")
        phone.wait_for_text("se synchronise désormais")
        phone.submit("form[action*='/discard']")
        phone.wait_for_text("C’est fait")
        phone.check_fits()
        assert "Fiches mises de côté" not in phone.text
    with db.connection_context():
        assert enrolment.hub_peer().name == "Centre de la Loire"
        assert not enrolment.pending()


def test_the_sync_page_after_a_hard_round_and_another_villages_offer(phone, tag, tmp_path):
    """A failed sync, the hub's refusal, a new enrolment to replace the one in use, the
    backup passphrase; then another village's offer, saying its village. A box of its own."""
    from models import Item, Setting, new_id
    from piratebox import villages
    from piratebox.clock import Clock
    from piratebox.i18n import Message
    from piratebox.sync import enrolment, stick

    hub, village = DataDir(tmp_path / "hub"), DataDir(tmp_path / "village")
    box.create(hub, role="hub", name="Centre de la Loire")
    box.create(village, role="box", name="Saint-Bonnet")
    folder = tmp_path / "stick" / "cocote"
    open_existing(hub)
    with db.connection_context():
        enrolment.enrol("Saint-Bonnet", folder.parent, 1.79e9)
    open_existing(village)
    with db.connection_context():
        box.set_password("village-secret", 1000)
        enrolment.offer(folder)
        enrolment.confirm(1.79e9)
    open_existing(hub)
    with db.connection_context():
        enrolment.enrol("Saint-Bonnet", folder.parent, 1.8e9)  # revoked, enrolled again
    open_existing(village)
    with db.connection_context():
        enrolment.offer(folder)
        stick.remember(stick.Report(), Clock.load(), failure=Message(
            "the stick could not be read or written ({error}); what was done before is "
            "kept: plug it in again and sync again", error="No space left on device"))
        Setting.put("hub_refused", '{"at": 1.8e9, "reason": "revoked"}')
        villages.remember({"m" * 26: {"name": "Marols", "commune": "Marols"}})
        Item(id=new_id(), origin="m" * 26, kind="offer", mode="lend", title="Tondeuse",
             category="garden", place="home", network=True, contact="Marie, 06 98 76 54 32",
             ).save_change(box.identity()["id"], 1.8e9)
    phone.as_phone(f"mediator-after-a-hard-round-{tag}")
    with Server(village.path, env={"PIRATEBOX_PAGE_CACHE_SECONDS": "0"}) as server:
        phone.visit(server.base + "/admin/")
        phone.type("input[type=password]", "village-secret")
        phone.submit("form[action$='/admin/login']")
        phone.wait_for_text("En attente de vous")
        phone.visit(server.base + "/admin/sync")
        for said in ("La synchronisation a échoué", "No space left on device",
                     "Le centre refuse les paquets de cette boîte",
                     "Une nouvelle inscription pour cette boîte",
                     "Phrase secrète des sauvegardes"):
            assert said in phone.text, said
        phone.submit("form[action$='/admin/sync/enrolment']")  # its first button: confirm
        phone.wait_for_text("se synchronise désormais")
        phone.check_fits()
        assert "Le centre refuse" not in phone.text
        phone.type("#passphrase", "le lavoir de la place")
        phone.type("#again", "le lavoir de la place")
        phone.submit("form[action$='/admin/backup/passphrase']")
        phone.wait_for_text("phrase secrète des sauvegardes est choisie")
        phone.visit(server.base + "/items/")
        assert "à Marols" in phone.find("ul.items").text
        phone.click("ul.items a")
        phone.wait_for_text("Marie, 06 98 76 54 32")
        phone.check_fits()
        assert "proposé à Marols" in phone.text


def test_a_file_too_large_for_the_box_is_refused_with_its_page(phone, tag, tmp_path):
    """With scripts the choice is refused before it is sent; without, the server refuses
    the body at its headers and the phone still shows the box's page saying why."""
    village = DataDir(tmp_path / "village")
    box.create(village, role="box", name="Saint-Bonnet")
    big = tmp_path / "film.mp4"
    big.write_bytes(b"\0" * (3 * 1024 * 1024))
    with Server(village.path, env={"PIRATEBOX_FILES_MAX_MB": "1"}) as server:
        phone.visit(server.base + "/files/")
        phone.type("#files", str(big))
        phone.submit("form[data-upload-form]")
        if phone.javascript:
            phone.wait_for(phone.alert_text, "the browser's alert")
            assert "rien n’a été envoyé" in phone.alert_text()
            phone.accept_alert()
            assert phone.url.endswith("/files/")
        else:
            phone.wait_for_text("Un fichier dépasse 1 Mo")
            phone.check_fits()


# What Android's CaptivePortalLogin (a WebView) says it is.
ANDROID_SIGN_IN = ("Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) "
                   "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/118.0.0.0 "
                   "Mobile Safari/537.36")


@pytest.mark.skipif(not browsers.available("chromium"), reason=browsers.SKIP_REASONS["chromium"])
def test_the_wifi_sign_in_window_says_how_to_send_photos_and_still_posts_without(server,
                                                                                 tmp_path):
    window = browsers.open_phone("chromium", False, tmp_path, user_agent=ANDROID_SIGN_IN)
    try:
        window.visit(server.base + "/items/new")
        notice = window.find("aside.real-browser")
        assert "Ouvrez la boîte dans votre navigateur" in notice.text
        assert f"127.0.0.1:{server.port}/items/new" in notice.text  # the address to type
        code = window.find("aside.real-browser img")
        assert window.script("return arguments[0].naturalWidth", code) > 0
        window.type("#title", "Étagère en chêne")
        window.choose("#category", "furniture_small")
        window.click("input[name=mode][value=give]")
        window.click("input[name=place][value=home]")
        window.submit("form.stack")
        window.wait_for_url("/manage")
        window.check_fits()
        assert "Étagère en chêne" in window.text
        window.visit(server.base + "/files/")
        assert "ne sait ni envoyer ni enregistrer" in window.find("aside.real-browser").text
    finally:
        window.quit()


def as_the_mediator(phone, server, tag):
    """This run's mediator's phone, logged in (once: the session then stays open)."""
    phone.as_phone(f"mediator-{tag}")
    phone.visit(server.base + "/admin/")
    if phone.find_all("input[type=password]"):
        phone.type("input[type=password]", "village-secret")
        phone.submit("form[action$='/admin/login']")
        phone.wait_for_text("En attente de vous")


def test_the_mediator_maps_an_initiative_and_a_villager_finds_it(server, phone, tag):
    as_the_mediator(phone, server, tag)
    phone.visit(server.base + "/admin/initiatives/new")
    phone.type("#name", f"Repair café {tag}")
    phone.choose("#kind", "repair_cafe")
    phone.choose("#theme", "tinker")
    phone.type("#commune", "Saint-Bonnet-le-Château")
    phone.type("#latitude", "45,4245")
    phone.type("#longitude", "4,0668")
    phone.submit("form.stack")
    phone.wait_for_text("L’initiative est sur la carte")
    phone.check_fits()

    phone.as_phone(f"villager-{tag}")
    phone.visit(server.base + "/")
    phone.click("a[href='/initiatives/']")
    phone.wait_for_url("/initiatives/")
    phone.check_fits()
    drawn = phone.find("svg.map")
    assert phone.script("return arguments[0].getBoundingClientRect().width", drawn) >= 300
    phone.choose("#theme", "tinker")
    phone.submit("form.filters")
    phone.wait_for_url("theme=tinker")
    phone.check_fits()
    assert f"Repair café {tag}" in phone.text and "Bidouiller" in phone.text
    phone.click("a[href^='/initiatives/print']")
    phone.wait_for_url("/initiatives/print")
    phone.check_fits()
    assert f"Repair café {tag}" in phone.text and "GeoNames" in phone.text


def test_the_mediator_counts_a_free_zone_day_and_the_figures_show_its_kilos(server, phone,
                                                                            tag):
    as_the_mediator(phone, server, tag)
    phone.visit(server.base + "/events/new")
    phone.type("#title", f"Zone de gratuité {tag}")
    phone.choose("#kind", "free_zone")
    phone.script("document.querySelector('#day').value = '2026-01-10'")
    phone.script("document.querySelector('#start').value = '10:00'")
    phone.submit("form.stack")
    phone.wait_for_text("L’événement est dans l’agenda")
    phone.click("a[href$='/count']")
    phone.wait_for_url("/count")
    phone.check_fits()
    phone.type("#attendance", "85")
    phone.type("#kg_brought", "1234,5")
    phone.type("#kg_taken", "980")
    phone.submit("form.stack")
    phone.wait_for_text("L’événement est compté")
    phone.check_fits()
    assert "85 personnes" in phone.text
    phone.visit(server.base + "/stats/")
    phone.check_fits()
    assert "Kilos apportés aux zones de gratuité (pesés)" in phone.text


@pytest.mark.parametrize("name", ["chromium", "firefox"])
def test_no_word_or_number_is_cut_on_any_page_with_a_long_village_name(name, tmp_path):
    """Every page of a lived-in box whose name is 30 characters long, seen at 360 px by
    whoever may see it: nothing wider than the screen, no word or figure cut inside (the
    language switch beside the name, the tables of figures, file names, dates)."""
    from tests.test_pages import lived_in_box, page_paths

    if not browsers.available(name):
        pytest.skip(browsers.SKIP_REASONS[name])
    folder = tmp_path / "data"
    app, clients = lived_in_box(folder, name="Saint-Just-Saint-Rambert-Loire")
    with app.app_context():
        paths = page_paths()
    links = {who: [re.sub(r"^https?://[^/]+", "", link.replace("&amp;", "&")) for page in pages
                   for link in re.findall(r'<code class="link">([^<]+)</code>', clients[who].get(
                       paths[page][1]).get_data(as_text=True))]
             for who, pages in (("owner", ("manage-loan", "manage-request", "file-manage")),
                                ("neighbour", ("object-reserved-for-me",)))}
    phone = browsers.open_phone(name, False, tmp_path / name)
    try:
        with Server(folder, env={"PIRATEBOX_PAGE_CACHE_SECONDS": "0"}) as server:
            for who, private in links.items():  # each phone takes its private links
                phone.as_phone(who)
                for link in private:
                    phone.get(server.base + link)
            phone.as_phone("mediator")
            phone.get(server.base + "/admin/")
            phone.type("input[type=password]", "village-secret")
            phone.submit("form[action$='/admin/login']")
            phone.wait_for_text("En attente de vous")
            for page, (who, path) in paths.items():
                phone.as_phone(who)
                phone.visit(server.base + path)
                assert phone.find_all("h1"), page
    finally:
        phone.quit()


@pytest.mark.parametrize("name", ["chromium", "firefox"])
def test_a_hubs_table_of_villages_fits_a_phone_without_cutting_a_figure(name, tmp_path):
    """The hub's figures per box and per commune (long names, figures with decimals) and
    its mediator's pages, at 360 px."""
    from models import Exchange, Peer, new_id

    if not browsers.available(name):
        pytest.skip(browsers.SKIP_REASONS[name])
    hub = DataDir(tmp_path / "hub")
    box.create(hub, role="hub", name="Communauté de communes Loire-Forez")
    open_existing(hub)
    with db.connection_context():
        box.set_password("village-secret", 1000)
        for village, commune in (("Saint-Just-Saint-Rambert-Loire", "Saint-Just-Saint-Rambert"),
                                 ("Chambles-sur-Loire", "Chambles")):
            origin = new_id()
            Peer.create(id=new_id(), role="box", name=village, commune=commune, key="0" * 64,
                        created_at=1.79e9,
                        box_id=origin)
            for category in ("furniture_large", "clothes", "books"):
                Exchange(id=new_id(), origin=origin, item_id=new_id(), action="given",
                         kind="offer", mode="give", place="home", category=category,
                         mass_kg=25.0, avoided_purchase=True, happened_at=1.79e9,
                         ).save_change(origin, 1.79e9)
    phone = browsers.open_phone(name, False, tmp_path / name)
    try:
        with Server(hub.path, env={"PIRATEBOX_PAGE_CACHE_SECONDS": "0"}) as server:
            phone.visit(server.base + "/stats/")
            assert "Saint-Just-Saint-Rambert-Loire" in phone.text and "51,7" in phone.text
            phone.visit(server.base + "/admin/")
            phone.type("input[type=password]", "village-secret")
            phone.submit("form[action$='/admin/login']")
            phone.wait_for_text("Le centre")
            phone.check_fits()
            for path in ("/admin/sync", "/admin/settings"):
                phone.visit(server.base + path)
    finally:
        phone.quit()


def as_mediator(phone, server, tag):
    """This setting's mediator, logged in (once: the phone keeps its session)."""
    phone.as_phone(f"mediator-{tag}")
    phone.visit(server.base + "/admin/")
    if phone.find_all("input[type=password]"):
        phone.type("input[type=password]", "village-secret")
        phone.submit("form[action$='/admin/login']")
        phone.wait_for_text("En attente de vous")


def test_the_mediator_compares_the_weeks_photos_and_downloads_the_quarters_report(
        server, phone, tag, data_dir):
    from datetime import date, timedelta

    from models import Tally
    from piratebox.blobs import BlobStore
    from piratebox.box import Actor
    from piratebox.impact.tally import record_tally
    from tests.test_weekly_photo import LAST_WEEK, scene, this_week

    # two weeks of this setting's own, far from the others' (each setting runs this test)
    monday = date(2026, 6, 1) + timedelta(weeks=3 * SETTINGS.index(
        (phone.name, phone.javascript)))
    open_existing(data_dir)  # another test may have opened another box's database
    with db.connection_context():
        actor = Actor(box.identity()["id"], 1_780_000_000.0, BlobStore(data_dir))
        for week, photo in ((monday, scene(LAST_WEEK)), (monday + timedelta(weeks=1),
                                                         scene(this_week()))):
            record_tally({"week_of": week.isoformat(), "deposited": 2, "taken": 1,
                          "note": tag}, [io.BytesIO(photo)], actor)
        newer = Tally.get(Tally.week_of == (monday + timedelta(weeks=1)).isoformat()).id
    as_mediator(phone, server, tag)
    phone.visit(server.base + "/admin/tally")
    phone.click(f"a[href='/admin/tally/{newer}/compare']")
    phone.wait_for_text("Les différences de la semaine")
    phone.check_fits()
    assert "3 différences avec la semaine du" in phone.text
    images = phone.find_all(".outlined img")
    assert len(images) == 2
    for image in images:
        phone.wait_for(lambda image=image: phone.script("return arguments[0].naturalWidth",
                                                        image) > 0, "the photo")
        # the outlines lie over the photo, at a phone's width
        assert phone.script("return arguments[0].getBoundingClientRect().width", image) >= 300
    assert len(phone.find_all("rect.difference")) == 6

    phone.visit(server.base + "/admin/")
    phone.click("a[href='/admin/report']")
    phone.wait_for_url("/admin/report")
    phone.check_fits()
    phone.submit("form[action$='/admin/report.pdf']")
    phone.wait_for(lambda: any(path.suffix == ".pdf" and path.read_bytes().startswith(b"%PDF")
                               for path in phone.downloads.glob("rapport-cocote-*-T*.pdf")),
                   "the report")


def test_the_mediator_brings_a_sticks_folder_into_the_share(server, phone, tag, data_dir):
    folder = sticks_of(data_dir) / "sda1" / f"Fête {tag}"
    folder.mkdir(parents=True)
    for number in range(3):
        (folder / f"photo-{number}.jpg").write_bytes(jpeg(color=(number * 70, 40, 90)))
    as_mediator(phone, server, tag)
    phone.click("a[href='/admin/files/stick']")
    phone.wait_for_text("Clé sda1")
    phone.check_fits()
    phone.click(f"input[name=folder][value='{folder}']")
    phone.submit("form[action$='/admin/files/stick']")
    # the page follows the copy by itself (a meta refresh, with or without scripts)
    phone.wait_for_text(f"3 fichiers ajoutés au partage, dans le dossier « Fête {tag} »")
    phone.check_fits()
    phone.click("a[href*='/files/?folder=']")
    phone.wait_for_text("photo-2.jpg")
