"""Every page of a lived-in box is valid HTML (the Nu Html Checker, vnu.jar) and has no
accessibility violation (axe-core, run in Debian's Chromium at a phone's size).

The box is filled through its own forms (offers with photos, a request and its answer, a
loan late with its waiting list, a reservation, files, the board, events, reports), then
every page a villager, an owner and the mediator can reach, and the forms shown back with
their errors, are fetched as each of them. Each page is opened in one Chromium session
(its address for the styles and pictures is the real server's) and checked by axe; the
validator runs once over all the pages saved. The tools come from the npm registry
(axe-core, vnu-jar: scripts/test installs them in .cache/web-tools) and Java runs vnu."""

import base64
import json
import re
import shutil
import subprocess
from datetime import datetime, time, timedelta
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import app as application
from models import Item, db
from piratebox import demo
from piratebox.database import open_existing
from piratebox.storage import DataDir
from piratebox.timefmt import local_datetime
from tests import browsers
from tests.conftest import TEST_CONFIG, csrf_from
from tests.server import ROOT, Server

TOOLS = ROOT / ".cache" / "web-tools" / "node_modules"
VNU = TOOLS / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE = TOOLS / "axe-core" / "axe.min.js"
JAVA = shutil.which("java")

pytestmark = [
    pytest.mark.skipif(not browsers.available("chromium"),
                       reason=browsers.SKIP_REASONS["chromium"]),
    pytest.mark.skipif(not (VNU.exists() and AXE.exists() and JAVA), reason=(
        "the Nu Html Checker (vnu.jar, with Java) or axe-core is missing: scripts/test "
        "installs them (npm install --prefix .cache/web-tools axe-core vnu-jar; "
        "apt-get install default-jre-headless)")),
]


def post(client, page, action, **data):
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **data})


def item_id(title):
    with db.connection_context():
        return Item.get(Item.title == title).id


def lived_in_box(folder, name="Saint-Bonnet-le-Château"):
    """A box as a village leaves it after a few weeks; returns (app, phones by name)."""
    data_dir = DataDir(folder)
    application.cli.main(["--data", str(folder), "init", "--name", name, "--demo"],
                         standalone_mode=False)
    open_existing(data_dir)
    with db.connection_context():
        from piratebox import box

        box.set_password("village-secret", 1000)
    stick = folder.parent / "mnt" / "sda1" / "Photos fête"  # a stick of files, plugged
    stick.mkdir(parents=True)
    for number in range(2):
        (stick / f"IMG_{number}.jpg").write_bytes(demo.draw("coat"))
    app = application.create_app({"DATA_DIR": str(folder), **TEST_CONFIG,
                                  "PAGE_CACHE_SECONDS": 0, "POSTS_PER_HOUR": 1000,
                                  "CLAIMS_PER_HOUR": 1000,
                                  "STICK_ROOTS": str(stick.parent.parent)})
    owner, neighbour, mediator = (app.test_client() for _ in range(3))
    photo = demo.draw("coat")
    owner.post("/items/new", data={
        "csrf_token": csrf_from(owner.get("/items/new").get_data(as_text=True)),
        "kind": "offer", "mode": "lend", "title": "Tondeuse électrique", "category": "garden",
        "place": "home", "description": "Avec rallonge.\nÀ rendre propre.",
        "pseudonym": "Jeanne", "contact": "06 12 34 56 78",
        "photos": [(BytesIO(photo), "tondeuse.jpg"), (BytesIO(photo), "bac.jpg")]})
    mower = item_id("Tondeuse électrique")
    with app.app_context():
        today = local_datetime(app.extensions["box"].clock.now(), "Europe/Paris").date()
    post(owner, f"/items/{mower}/manage", f"/items/{mower}/manage/lend", lent_to="Marie",
         lent_until=(today - timedelta(days=3)).isoformat())
    post(neighbour, f"/items/{mower}", f"/items/{mower}/waiting", pseudonym="Anne",
         contact="Ferme des Prés")
    post(owner, "/items/new?kind=request", "/items/new", kind="request", mode="lend",
         title="Escabeau", category="tools", place="home", pseudonym="Jeanne")
    ladder = item_id("Escabeau")
    post(neighbour, f"/items/new?answers={ladder}", "/items/new", kind="offer", mode="lend",
         title="Escabeau 5 marches", category="tools", place="home", answers=ladder)
    shelf = item_id("Étagère en pin")
    post(neighbour, f"/items/{shelf}", f"/items/{shelf}/reserve", pseudonym="Paul",
         reserved_message="Je passe samedi")
    post(neighbour, f"/items/{shelf}", f"/items/{shelf}/report", reason="Photo floue")
    post(owner, "/items/new?category=repairs", "/items/new", kind="offer", mode="give",
         title="Je répare les vélos", category="repairs", place="home", pseudonym="Jeanne")
    rider = app.test_client()
    for title, day in (("Au marché de Montbrison", today + timedelta(days=3)),
                       ("Retour de la foire", today - timedelta(days=1))):
        post(owner, "/items/new?category=rides", "/items/new", kind="offer", mode="give",
             category="rides", title=title, day=(today + timedelta(days=3)).isoformat(),
             start="08:30", ride_from="Saint-Bonnet-le-Château", ride_to="Montbrison",
             seats="3", km="", contact="06 12 34 56 78")
        ride = item_id(title)
        post(rider, f"/items/{ride}", f"/items/{ride}/seat", pseudonym="Anne", contact="")
        if day < today:  # a ride that left yesterday: its driver has to confirm who rode
            with db.connection_context():
                left = datetime.combine(day, time(8, 30), tzinfo=ZoneInfo("Europe/Paris"))
                Item.update(ride_at=left.timestamp(), expires_at=left.timestamp()).where(
                    Item.id == ride).execute()
    post(owner, "/board/", "/board/", text="Qui a une remorque à prêter ?", pseudonym="Luc")
    token = csrf_from(owner.get("/files/").get_data(as_text=True))
    owner.post("/files/", data={"csrf_token": token, "folder": "Mairie", "files": [
        (BytesIO(b"%PDF-1.4 compte rendu"), "Compte rendu du conseil municipal.pdf")]})
    post(mediator, "/admin/", "/admin/login", password="village-secret")
    post(mediator, "/events/new", "/events/new", title="Repair café", kind="repair_cafe",
         day=(today + timedelta(days=5)).isoformat(), start="14:00", end="17:30",
         place="Salle des fêtes", description="Apportez vos objets cassés.")
    post(owner, "/events/new", "/events/new", title="Troc de graines", kind="swap",
         day=(today + timedelta(days=12)).isoformat(), start="10:00", end="")
    post(mediator, "/events/new", "/events/new", title="Zone de gratuité", kind="free_zone",
         day=(today - timedelta(days=2)).isoformat(), start="10:00", end="17:00")
    with db.connection_context():
        from models import Event

        free_zone = Event.get(Event.title == "Zone de gratuité").id
    post(mediator, f"/admin/events/{free_zone}/count", f"/admin/events/{free_zone}/count",
         attendance="85", kg_brought="1234,5", kg_taken="980")
    post(mediator, "/admin/initiatives/new", "/admin/initiatives/new", name="AMAP du Haut-Forez",
         kind="amap", theme="food", commune="Saint-Bonnet-le-Château", place="Salle des fêtes",
         hours="Jeudi 18 h – 19 h", contact="amap@example.org", description="Paniers.",
         latitude="45,4240", longitude="4,0671")
    post(mediator, "/admin/initiatives/new", "/admin/initiatives/new", name="Médiathèque",
         kind="library", theme="work", commune="Saint-Étienne", latitude="", longitude="")
    from tests.test_weekly_photo import LAST_WEEK, scene, this_week

    for weeks_ago, photo in ((2, scene(LAST_WEEK)), (1, scene(this_week()))):
        token = csrf_from(mediator.get("/admin/tally").get_data(as_text=True))
        mediator.post("/admin/tally", data={
            "csrf_token": token, "week_of": (today - timedelta(weeks=weeks_ago)).isoformat(),
            "deposited": "4", "taken": "3", "photos": [(BytesIO(photo), "boite.jpg")]})
    return app, {"owner": owner, "neighbour": neighbour, "mediator": mediator,
                 "rider": rider, "visitor": app.test_client()}


def free_zone_id():
    from models import Event

    with db.connection_context():
        return Event.get(Event.title == "Zone de gratuité").id


def page_paths():
    """{name: (who may see it, its path)} for every page of the lived-in box."""
    mower, ladder = item_id("Tondeuse électrique"), item_id("Escabeau")
    shelf, books = item_id("Étagère en pin"), item_id("Romans policiers (lot de 5)")
    with db.connection_context():
        from models import Event, Initiative, SharedFile, Tally

        event = Event.get(Event.status == "published").id
        shared = SharedFile.get().id
        amap = Initiative.get(Initiative.name == "AMAP du Haut-Forez").id
        free_zone = Event.get(Event.title == "Zone de gratuité").id
        this_week = Tally.select().order_by(Tally.week_of.desc()).first().id
    owner, neighbour, mediator, visitor = "owner", "neighbour", "mediator", "visitor"
    return {
        "home": (visitor, "/"), "catalogue": (visitor, "/items/"),
        "search": (visitor, "/items/?q=escabeau&kind=offer"),
        "offer-form": (visitor, "/items/new"), "request-form": (visitor, "/items/new?kind=request"),
        "answer-form": (visitor, f"/items/new?answers={ladder}"),
        "deposit": (visitor, "/items/deposit"),
        "object-with-photos": (visitor, f"/items/{mower}"),
        "object-in-the-box": (visitor, f"/items/{books}"),
        "object-reserved-for-me": (neighbour, f"/items/{shelf}"),
        "object-waiting-list": (neighbour, f"/items/{mower}"),
        "request": (visitor, f"/items/{ladder}"),
        "manage-loan": (owner, f"/items/{mower}/manage"),
        "manage-request": (owner, f"/items/{ladder}/manage"),
        "service-form": (visitor, "/items/new?category=help"),
        "service": (visitor, f"/items/{item_id('Je répare les vélos')}"),
        "manage-service": (owner, f"/items/{item_id('Je répare les vélos')}/manage"),
        "ride-form": (visitor, "/items/new?category=rides"),
        "ride": (visitor, f"/items/{item_id('Au marché de Montbrison')}"),
        "ride-my-seat": ("rider", f"/items/{item_id('Au marché de Montbrison')}"),
        "manage-ride": (owner, f"/items/{item_id('Au marché de Montbrison')}/manage"),
        "manage-ride-left": (owner, f"/items/{item_id('Retour de la foire')}/manage"),
        "files": (visitor, "/files/"), "file": (visitor, f"/files/{shared}"),
        "file-manage": (owner, f"/files/manage/{shared}"),
        "board": (visitor, "/board/"), "agenda": (visitor, "/events/"),
        "agenda-archive": (visitor, "/events/archive"), "event-form": (visitor, "/events/new"),
        "event": (visitor, f"/events/{event}"), "stats": (visitor, "/stats/"),
        "poster": (visitor, "/print/poster"), "login": (visitor, "/admin/"),
        "not-found": (visitor, "/nowhere"),
        "dashboard": (mediator, "/admin/"), "reports": (mediator, "/admin/reports"),
        "board-review": (mediator, "/admin/board"), "proposals": (mediator, "/admin/events"),
        "loans": (mediator, "/admin/loans"), "sync": (mediator, "/admin/sync"),
        "settings": (mediator, "/admin/settings"), "labels": (mediator, "/admin/labels"),
        "tally": (mediator, "/admin/tally"), "event-edit": (mediator, f"/events/{event}/edit"),
        "file-as-mediator": (mediator, f"/files/{shared}"),
        "free-zone": (visitor, f"/events/{free_zone}"),
        "free-zone-as-mediator": (mediator, f"/events/{free_zone}"),
        "event-count": (mediator, f"/admin/events/{free_zone}/count"),
        "event-count-unweighed": (mediator, f"/admin/events/{event}/count"),
        "initiatives": (visitor, "/initiatives/"),
        "initiatives-filtered": (visitor, "/initiatives/?theme=work&commune=Saint-%C3%89tienne"),
        "initiative": (visitor, f"/initiatives/{amap}"),
        "initiatives-sheet": (visitor, "/initiatives/print"),
        "initiative-as-mediator": (mediator, f"/initiatives/{amap}"),
        "initiative-form": (mediator, "/admin/initiatives/new"),
        "initiative-edit": (mediator, f"/admin/initiatives/{amap}/edit"),
        "report-form": (mediator, "/admin/report"),
        "stick-files": (mediator, "/admin/files/stick"),
        "tally-compare": (mediator, f"/admin/tally/{this_week}/compare"),
    }


def pages_of(app, phones):
    """(name, html) of every page, fetched by whoever may see it."""
    mediator, visitor = phones["mediator"], phones["visitor"]
    mower, books = item_id("Tondeuse électrique"), item_id("Romans policiers (lot de 5)")
    free_zone = free_zone_id()
    pages = {name: phones[who].get(path).get_data(as_text=True)
             for name, (who, path) in page_paths().items()}
    from tests.test_stick_files import import_done

    chosen = re.search(r'name="folder" value="([^"]+)"', pages["stick-files"]).group(1)
    post(mediator, "/admin/files/stick", "/admin/files/stick", folder=chosen)
    import_done()
    pages["stick-files-done"] = mediator.get("/admin/files/stick").get_data(as_text=True)
    refused = {
        "offer-form-errors": post(visitor, "/items/new", "/items/new", title="x", kind="offer"),
        "files-no-file": post(visitor, "/files/", "/files/", folder="Mairie"),
        "sync-no-stick": post(mediator, "/admin/sync", "/admin/backup"),
        "waiting-errors": post(visitor, f"/items/{books}", f"/items/{mower}/waiting",
                               pseudonym=""),
        "event-form-errors": post(visitor, "/events/new", "/events/new", title="R"),
        "ride-form-errors": post(visitor, "/items/new?category=rides", "/items/new",
                                 kind="offer", category="rides", mode="give", day="demain",
                                 start="", ride_from="Marols", ride_to="", seats="12"),
        "event-count-errors": post(mediator, f"/admin/events/{free_zone}/count",
                                   f"/admin/events/{free_zone}/count", attendance="douze",
                                   kg_brought="-3", kg_taken="x"),
        "initiative-form-errors": post(mediator, "/admin/initiatives/new",
                                       "/admin/initiatives/new", name="", latitude="91",
                                       longitude="x"),
    }
    for name, response in refused.items():
        assert response.status_code == 400, name
        pages[name] = response.get_data(as_text=True)
    # each page is the lived-in state it is named after
    for name, expected in {"object-reserved-for-me": "Vous l’avez réservé",
                           "object-waiting-list": "Vous êtes sur la liste d’attente",
                           "manage-loan": "en retard", "reports": "Photo floue",
                           "agenda": "Repair café", "proposals": "Troc de graines",
                           "request": "Escabeau 5 marches",
                           "tally-compare": "3 différences avec la semaine du",
                           "stick-files-done": "2 fichiers ajoutés au partage",
                           "stats": ("Fréquentation",
                                     "Kilos apportés aux zones de gratuité (pesés)",
                                     "Trajets partagés"),
                           "service": "Demander ce coup de main",
                           "manage-service": "Le service est rendu",
                           "ride": "Prendre une place", "ride-my-seat": "Vous avez une place",
                           "manage-ride": "Revenez ici après le trajet",
                           "manage-ride-left": "Qui est venu ?",
                           "dashboard": '<span class="count due">1</span>',
                           # the folder filter, beside the upload's folder field: two ids
                           # the checker must see side by side (a box with no folder has
                           # no filter, and hid their clash)
                           "files": 'id="folder"',
                           "not-found": "Cette page n’existe pas",
                           "initiatives": "Médiathèque", "initiative-edit": "45,424",
                           "initiatives-filtered": "Travailler",
                           "free-zone": "85 personnes"}.items():
        for text in (expected,) if isinstance(expected, str) else expected:
            assert text in pages[name], name
    return pages


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lived-in") / "data"
    app, phones = lived_in_box(folder)
    with app.app_context():
        return pages_of(app, phones), folder


# Checked alongside, so that a checker that ran but saw nothing cannot pass for a clean run.
CONTROL = ('<!doctype html><html lang="fr"><head><title>témoin</title></head><body>'
           '<main><p id="a">x</p><p id="a">y</p><img src="x.png"></main></body></html>')


def test_every_page_is_valid_html(pages, tmp_path):
    found, _folder = pages
    for name, html in {**found, "control": CONTROL}.items():
        (tmp_path / f"{name}.html").write_text(html, encoding="utf-8")
    done = subprocess.run([JAVA, "-Xss4m", "-jar", str(VNU), "--errors-only", "--format", "json",
                           *sorted(str(path) for path in tmp_path.glob("*.html"))],
                          capture_output=True, text=True, timeout=300)
    messages = json.loads(done.stderr or done.stdout or '{"messages": []}')["messages"]
    errors = [f"{Path(m.get('url', '')).name}:{m.get('lastLine')}: {m['message']}"
              for m in messages if m.get("type") == "error"]
    control = [error for error in errors if error.startswith("control.html")]
    assert any("Duplicate ID" in error for error in control), "the checker saw nothing"
    errors = [error for error in errors if error not in control]
    assert errors == [], "\n".join(errors)
    assert len(found) >= 40


def test_every_page_has_no_accessibility_violation(pages, tmp_path):
    found, folder = pages
    axe = AXE.read_text(encoding="utf-8")
    with Server(folder) as server:
        phone = browsers.open_phone("chromium", True, tmp_path)
        try:
            problems = []
            for name, html in {**found, "control": CONTROL}.items():
                page = re.sub(r"<head>", f'<head><base href="{server.base}/">', html, count=1)
                phone.get("data:text/html;charset=utf-8;base64,"
                          + base64.b64encode(page.encode()).decode())
                phone.script(axe)
                result = phone.driver.execute_async_script(
                    "const done = arguments[arguments.length - 1];"
                    "axe.run(document).then(r => done(r.violations.map(v => "
                    "[v.id, v.impact, v.nodes.map(n => n.target.join(' ')).slice(0, 3)])));")
                problems += [f"{name}: {rule} ({impact}) {targets}"
                             for rule, impact, targets in result]
        finally:
            phone.quit()
    control = [problem for problem in problems if problem.startswith("control:")]
    assert any("image-alt" in problem for problem in control), "axe saw nothing"
    problems = [problem for problem in problems if problem not in control]
    assert problems == [], "\n".join(problems)


def test_every_page_is_light_with_its_styles_and_icons(pages):
    """A page, its stylesheet and the category drawings stay well under 50 KB (photos are
    thumbnails; the object page's large photo is the phone's choice among two sizes)."""
    found, _folder = pages
    shared = sum((ROOT / "static" / name).stat().st_size for name in ("style.css",
                                                                        "categories.svg"))
    heaviest = max(found, key=lambda name: len(found[name].encode()))
    weight = len(found[heaviest].encode()) + shared
    assert weight < 40_000, f"{heaviest}: {weight} bytes with its styles and icons"
