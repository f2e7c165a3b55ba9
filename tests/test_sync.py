"""Sneakernet sync between real boxes: real SQLite files, real bundles on a folder that
stands for the stick, the real CLI (in-process) and the admin page."""

import json
import shutil
import subprocess
import traceback
import zipfile

import pytest

import app as application
from models import Counter, Exchange, Item, Peer, Setting, SharedFile, db
from piratebox import box
from piratebox.blobs import BlobStore
from piratebox.box import Actor
from piratebox.catalogue import logic as catalogue
from piratebox.database import open_existing
from piratebox.storage import DataDir
from piratebox.sync import bundle, engine, enrolment, quarantine, records
from tests.conftest import TEST_CONFIG, csrf_from, hub_database, small_filesystem

# every test here runs with its hub on SQLite, then on PostgreSQL
pytestmark = pytest.mark.usefixtures("hub_engine")

ITEM = {"kind": "offer", "mode": "give", "title": "Vélo d'enfant", "description": "",
        "category": "sport", "condition": "good", "place": "home", "place_detail": "",
        "pseudonym": "", "contact": "", "network": False}


def run(data_dir, *args, input=None):  # noqa: A002 - click's own name for it
    from click.testing import CliRunner

    # in English: these tests read the sync's summaries (tests/test_cli.py checks French)
    result = CliRunner().invoke(application.cli, ["--lang", "en", "--data", str(data_dir.path),
                                                  *args], input=input)
    return result


def ok(data_dir, *args, input=None):  # noqa: A002
    result = run(data_dir, *args, input=input)
    assert result.exit_code == 0, (
        result.output, "".join(traceback.format_exception(*result.exc_info)))
    return result.output


def make(tmp_path, name, role="box", box_name=None):
    """A box, or a hub on the engine this run of the test uses (see conftest.hub_engine)."""
    folder = DataDir(tmp_path / name)
    url = hub_database["url"] if role == "hub" else None
    box.create(folder, role=role, name=box_name or name, database_url=url)
    return folder


def opened(data_dir):
    open_existing(data_dir)
    return db.connection_context()


def add_item(data_dir, **fields):
    with opened(data_dir):
        me = box.identity()
        item, _token = catalogue.create({**ITEM, **fields}, [],
                                        Actor(me["id"], 1_790_000_000.0, BlobStore(data_dir)))
        return item


def titles(data_dir):
    with opened(data_dir):
        return sorted(item.title for item in Item.select())


def enrolled_pair(tmp_path, stick):
    """A hub and a village box enrolled with it through `stick`, confirmed as the mediator
    would; returns (hub, village)."""
    hub = make(tmp_path, "hub", role="hub")
    village = make(tmp_path, "village", box_name="Saint-Bonnet")
    ok(hub, "hub", "enrol", "Saint-Bonnet", "--to", str(stick))
    assert "confirm it on the sync page" in ok(village, "sync", str(stick))
    with opened(village):
        enrolment.confirm(1_790_000_000.0)
    return hub, village


@pytest.fixture
def network(tmp_path, stick):
    return enrolled_pair(tmp_path, stick)


def round_trip(hub, village, stick):
    ok(village, "sync", str(stick))
    ok(hub, "sync", str(stick))
    ok(village, "sync", str(stick))


def test_enrol_confirm_sync_and_acknowledge(tmp_path, stick):
    hub = make(tmp_path, "hub", role="hub")
    village = make(tmp_path, "village", box_name="Saint-Bonnet")
    add_item(village)
    enrolled = ok(hub, "hub", "enrol", "Saint-Bonnet", "--to", str(stick))
    assert "Keep the stick safe" in enrolled
    assert "waiting: confirm it on the sync page" in ok(village, "sync", str(stick))
    app = application.create_app({"DATA_DIR": str(village.path), **TEST_CONFIG})
    with app.app_context(), db.connection_context():
        box.set_password("village-secret", 1000)
    client = app.test_client()
    page = client.get("/admin/").get_data(as_text=True)
    client.post("/admin/login", data={"csrf_token": csrf_from(page), "password": "village-secret"})
    page = client.get("/admin/sync").get_data(as_text=True)
    assert "Invitation" in page or "invitation" in page
    assert client.post("/admin/sync/enrolment",
                       data={"csrf_token": csrf_from(page)}).status_code == 302
    assert "hub" in client.get("/admin/sync").get_data(as_text=True)

    sent = ok(village, "sync", str(stick))
    assert "sent to hub — records: 2" in sent  # the object and its "offered" event
    received = ok(hub, "sync", str(stick))
    assert "received from Saint-Bonnet — new or changed: 2" in received
    assert titles(hub) == ["Vélo d'enfant"]
    with opened(village):
        village_id = box.identity()["id"]
    with opened(hub):
        assert Peer.get(Peer.name == "Saint-Bonnet").box_id == village_id
    with opened(village):
        assert engine.waiting(enrolment.hub_peer()) == 2
    ok(village, "sync", str(stick))  # takes the hub's acknowledgement back
    with opened(village):
        assert engine.waiting(enrolment.hub_peer()) == 0
        assert json.loads(Setting.get_value("last_sync"))["lines"][0]["text"].startswith(
            "received")


def test_a_lost_stick_loses_nothing(network, stick, tmp_path):
    hub, village = network
    add_item(village, title="Table")
    ok(village, "sync", str(stick))
    lost = tmp_path / "lost"
    shutil.move(str(stick / "cocote"), str(lost))  # the stick is forgotten in a drawer
    (stick / "cocote").mkdir()
    add_item(village, title="Chaises")
    ok(village, "sync", str(stick))
    ok(hub, "sync", str(stick))
    assert titles(hub) == ["Chaises", "Table"]


def test_importing_again_changes_nothing_and_order_does_not_matter(network, stick, tmp_path):
    hub, village = network
    item = add_item(village, title="Perceuse")
    first = tmp_path / "first"
    first.mkdir()
    ok(village, "export", "--to", str(first))
    with opened(village):
        me = box.identity()
        catalogue.edit(Item.get_by_id(item.id), {"title": "Perceuse Bosch"}, [],
                       Actor(me["id"], 1_790_000_100.0, BlobStore(village)))
    second = tmp_path / "second"
    second.mkdir()
    ok(village, "export", "--to", str(second))
    [newer] = second.iterdir()
    [older] = first.iterdir()
    assert "new or changed: 2;" in ok(hub, "import", str(newer))
    assert "new or changed: 0; unchanged: 2" in ok(hub, "import", str(older))
    assert titles(hub) == ["Perceuse Bosch"]
    assert "already imported" in ok(hub, "import", str(newer))
    assert titles(hub) == ["Perceuse Bosch"]


def test_tombstones_travel(network, stick):
    hub, village = network
    item = add_item(village, title="Canapé")
    round_trip(hub, village, stick)
    with opened(village):
        me = box.identity()
        catalogue.delete(Item.get_by_id(item.id), Actor(me["id"], 1_790_000_500.0,
                                                         BlobStore(village)))
    round_trip(hub, village, stick)
    with opened(hub):
        assert Item.get_by_id(item.id).deleted


def test_offers_shown_to_the_network_reach_other_villages(network, stick, tmp_path):
    hub, village = network
    other = make(tmp_path, "other")
    other_stick = tmp_path / "other-stick"
    (other_stick / "cocote").mkdir(parents=True)
    ok(hub, "hub", "enrol", "Marols", "--to", str(other_stick))
    ok(other, "sync", str(other_stick))
    with opened(other):
        enrolment.confirm(1_790_000_000.0)
    add_item(village, title="Tondeuse à prêter", network=True, mode="lend", contact="Paul")
    add_item(village, title="Pull tricoté")  # stays in the village
    round_trip(hub, village, stick)
    round_trip(hub, other, other_stick)
    assert titles(other) == ["Tondeuse à prêter"]
    with opened(other):
        assert engine.waiting(enrolment.hub_peer()) == 0  # a box does not send back what it got


def test_a_shared_file_travels_only_when_marked_for_the_network(network, stick):
    hub, village = network
    with opened(village):
        me = box.identity()
        actor = Actor(me["id"], 1_790_000_000.0, BlobStore(village))
        kept = BlobStore(village).put_bytes(b"compte rendu du conseil", "file", actor.now)
        shared = BlobStore(village).put_bytes(b"programme de la fete", "file", actor.now)
        for name, digest, network_flag in (("cr.txt", kept, False), ("fete.txt", shared, True)):
            SharedFile(name=name, blob=digest, size=20, network=network_flag).save_change(
                me["id"], actor.now)
    round_trip(hub, village, stick)
    with opened(hub):
        assert SharedFile.select().count() == 2
        assert BlobStore(hub).verify(shared) and not BlobStore(hub).exists(kept)


def test_the_hub_corrects_a_box_clock_that_is_behind(network, stick):
    hub, village = network
    from piratebox.clock import Clock

    with opened(village):  # the mediator's phone was a month behind
        clock = Clock.load()
        clock.correct(clock.now() - 30 * 86400.0, "admin")
    round_trip(hub, village, stick)
    with opened(village):
        assert Setting.get_value("clock_corrected_by") == "hub"
        assert float(Setting.get_value("clock_correction")) > 29 * 86400


# --- refusals -------------------------------------------------------------------------------

def bundle_on(stick, village):
    with opened(village):
        me = box.identity()
    return next((stick / "cocote").glob(f"{me['id']}-to-*.cocote"))


def rewrite(path, change):
    """Copy a bundle member by member, letting `change(name, data)` alter any."""
    with zipfile.ZipFile(path) as source:
        members = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members:
            changed = change(name, data)
            if changed is not None:
                target.writestr(name, changed)


@pytest.mark.parametrize("tamper, message", [
    (lambda n, d: d.replace(b"Table", b"Tabla") if n == "records.jsonl" else d,
     "does not match its hash"),
    (lambda n, d: d.replace(b'"upto"', b'"upto" ') if n == "manifest.json" else d,
     "signature does not match"),
    (lambda n, d: None if n == "records.jsonl" else d, "do not match its manifest"),
])
def test_a_tampered_bundle_is_refused_and_nothing_applied(network, stick, tamper, message):
    hub, village = network
    add_item(village, title="Table")
    ok(village, "sync", str(stick))
    rewrite(bundle_on(stick, village), tamper)
    result = run(hub, "sync", str(stick))
    assert result.exit_code != 0 and message in result.output
    assert titles(hub) == []


def test_a_bundle_for_another_box_or_from_a_stranger_is_refused(network, stick, tmp_path):
    hub, village = network
    add_item(village)
    out = tmp_path / "out"
    out.mkdir()
    ok(village, "export", "--to", str(out))
    [path] = out.iterdir()
    result = run(village, "import", str(path))
    assert result.exit_code != 0 and "This bundle is for hub, not for this box" in result.output
    other_hub = DataDir(tmp_path / "other-hub")  # its own SQLite: the test's database is taken
    box.create(other_hub, role="hub", name="other-hub")
    renamed = out / path.name.replace(path.name.split("-to-")[1].split(".")[0],
                                      "x" * 26)
    with opened(other_hub):
        hub_id = box.identity()["id"]
    manifest = json.loads(zipfile.ZipFile(path).read("manifest.json"))
    manifest["recipient"] = hub_id
    rewrite(path, lambda n, d: json.dumps(manifest).encode() if n == "manifest.json" else d)
    result = run(other_hub, "import", str(path))
    assert result.exit_code != 0 and "does not know" in result.output
    assert not renamed.exists()


def test_a_newer_format_asks_for_an_upgrade(network, stick):
    hub, village = network
    ok(village, "sync", str(stick))
    path = bundle_on(stick, village)
    manifest = json.loads(zipfile.ZipFile(path).read("manifest.json"))
    manifest["version"] = "2.0"
    rewrite(path, lambda n, d: json.dumps(manifest).encode() if n == "manifest.json" else d)
    result = run(hub, "sync", str(stick))
    assert result.exit_code != 0 and "upgrade the software" in result.output


def signed_bundle(path, key, manifest, lines, extra_members=()):
    """A bundle made by hand, correctly signed: to test what a valid signature cannot fix."""
    body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    import hashlib

    members = [{"path": "records.jsonl", "sha256": hashlib.sha256(body).hexdigest(),
                "size": len(body)}]
    for name, data in extra_members:
        members.append({"path": name, "sha256": hashlib.sha256(data).hexdigest(),
                        "size": len(data)})
    manifest = {**manifest, "members": members}
    manifest_bytes = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", manifest_bytes)
        archive.writestr("manifest.hmac", bundle.sign(key, manifest_bytes))
        archive.writestr("records.jsonl", body)
        for name, data in extra_members:
            archive.writestr(name, data)


def hand_made(hub, village, tmp_path, lines, extra_members=(), **fields):
    with opened(village):
        me = box.identity()
        peer = enrolment.hub_peer()
        enrolment_id = Setting.get_value("enrolment_id")
        epoch = Setting.get_value("sync_epoch")
    manifest = {"format": "cocote-bundle", "version": "1.1", "bundle_id": "a" * 26,
                "previous": None, "sender": {"id": me["id"], "role": "box", "epoch": epoch},
                "recipient": peer.id, "enrolment": enrolment_id, "created_at": 1.0, "upto": 5,
                "ack": 0, "a_field_from_the_future": {"x": 1}, **fields}
    path = tmp_path / "hand.cocote"
    signed_bundle(path, peer.key, manifest, lines, extra_members)
    return path


def test_unknown_fields_and_tables_are_ignored(network, tmp_path):
    hub, village = network
    item = add_item(village, title="Lampe")
    with opened(village):
        state = records.state_of(Item.get_by_id(item.id))
    state["record"]["colour_from_v2"] = "vert"
    lines = [state, {"table": "table_from_v2", "record": {"id": "x"}}]
    result = ok(hub, "import", str(hand_made(hub, village, tmp_path, lines)))
    assert "new or changed: 1;" in result
    assert titles(hub) == ["Lampe"]


@pytest.mark.parametrize("member, data, message", [
    ("../evil", b"x", "invalid part"),
    ("blobs/" + "0" * 64, b"x", "invalid part"),  # a blob whose name is not its hash
])
def test_member_paths_are_checked_even_when_signed(network, tmp_path, member, data, message):
    hub, village = network
    path = hand_made(hub, village, tmp_path, [], extra_members=[(member, data)])
    result = run(hub, "import", str(path))
    assert result.exit_code != 0 and message in result.output


def test_a_zip_bomb_is_refused_before_it_is_expanded(network, tmp_path):
    hub, village = network
    import hashlib

    bomb = b"\0" * (50 * 1024 * 1024)
    name = "blobs/" + hashlib.sha256(bomb).hexdigest()
    path = hand_made(hub, village, tmp_path, [], extra_members=[(name, bomb)])
    result = run(hub, "import", str(path))
    assert result.exit_code != 0 and "expands more than" in result.output


def test_a_malformed_record_is_set_aside_and_the_rest_applies(network, tmp_path):
    hub, village = network
    good = add_item(village, title="Bonne")
    with opened(village):
        state = records.state_of(Item.get_by_id(good.id))
    broken = json.loads(json.dumps(state))
    broken["record"]["id"] = "../../etc"
    result = run(hub, "import", str(hand_made(hub, village, tmp_path, [state, broken])))
    assert result.exit_code != 0
    assert "from Saint-Bonnet set aside because they break the rules: 1" in result.output
    assert titles(hub) == ["Bonne"]
    with opened(hub):
        [entry] = quarantine.entries()
        assert quarantine.sentence(entry) == "its id is not valid"
        assert json.loads(entry.raw) == broken  # kept as it came


def test_a_revoked_box_is_refused(network, stick):
    hub, village = network
    ok(hub, "hub", "revoke", "Saint-Bonnet")
    ok(village, "sync", str(stick))
    result = run(hub, "sync", str(stick))
    assert result.exit_code != 0 and "revoked" in result.output


def test_a_cloned_sd_card_is_detected_not_merged(network, stick, tmp_path):
    hub, village = network
    round_trip(hub, village, stick)
    clone = DataDir(tmp_path / "clone")
    shutil.copytree(village.path, clone.path)  # the same SD card image in a second router
    add_item(village, title="Vrai")
    add_item(clone, title="Copie")
    ok(village, "sync", str(stick))
    ok(hub, "sync", str(stick))
    ok(clone, "sync", str(stick))
    result = run(hub, "sync", str(stick))
    assert result.exit_code != 0 and "two boxes are using one identity" in result.output
    assert titles(hub) == ["Vrai"]


def test_a_full_stick_leaves_no_bundle_under_its_final_name(network, tmp_path):
    hub, village = network
    with small_filesystem(tmp_path / "small", "64k") as small:
        with opened(village):
            me = box.identity()
            for number in range(3):
                digest = BlobStore(village).put_bytes(bytes([number]) * 40_000, "file", 1.0)
                SharedFile(name=f"{number}.bin", blob=digest, size=40_000,
                           network=True).save_change(me["id"], 1.0)
        result = run(village, "export", "--to", str(small))
        assert result.exit_code != 0 and "stick full" in result.output
        assert list(small.iterdir()) == []


def test_the_admin_page_downloads_and_uploads_bundles(network, tmp_path):
    hub, village = network
    add_item(village, title="Livres")

    def mediator(data_dir):
        app = application.create_app({"DATA_DIR": str(data_dir.path), **TEST_CONFIG})
        with app.app_context(), db.connection_context():
            box.set_password("mediator-secret", 1000)
        client = app.test_client()
        page = client.get("/admin/").get_data(as_text=True)
        client.post("/admin/login", data={"csrf_token": csrf_from(page),
                                          "password": "mediator-secret"})
        return client

    village_admin = mediator(village)
    page = village_admin.get("/admin/sync").get_data(as_text=True)
    assert "2 modifications" in page
    response = village_admin.post("/admin/sync/bundle", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    data = response.get_data()
    response.close()
    hub_admin = mediator(hub)
    page = hub_admin.get("/admin/sync").get_data(as_text=True)
    from io import BytesIO

    response = hub_admin.post("/admin/sync/upload", data={
        "csrf_token": csrf_from(page), "bundle": (BytesIO(data), "village.cocote")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    assert "2 fiches nouvelles ou modifiées" in hub_admin.get("/admin/sync").get_data(as_text=True)
    assert titles(hub) == ["Livres"]
    response = hub_admin.post("/admin/sync/upload", data={
        "csrf_token": csrf_from(page), "bundle": (BytesIO(b"not a zip"), "x.cocote")},
        content_type="multipart/form-data")
    # the refusal is on the sync page itself, the file named as the mediator chose it
    assert response.status_code == 400
    assert "x.cocote n’est pas un paquet" in response.get_data(as_text=True)
    with opened(hub):
        assert Exchange.select().count() == 1


# --- the hub's figures ----------------------------------------------------------------------

def give_away(data_dir, title, category, avoided):
    """An object offered and given, the taker saying whether they would have bought it."""
    item = add_item(data_dir, title=title, category=category)
    with opened(data_dir):
        me = box.identity()
        actor = Actor(me["id"], 1_790_000_000.0, BlobStore(data_dir))
        catalogue.transition(Item.get_by_id(item.id), "give", actor, avoided_purchase=avoided)


def enrol_box(hub, tmp_path, name, commune):
    village = make(tmp_path, name)
    village_stick = tmp_path / f"stick-{name}"
    (village_stick / "cocote").mkdir(parents=True)
    ok(hub, "hub", "enrol", name, "--to", str(village_stick), "--commune", commune)
    ok(village, "sync", str(village_stick))
    with opened(village):
        enrolment.confirm(1_790_000_000.0)
    return village, village_stick


def hub_of_three_villages(tmp_path):
    """A hub, two boxes in Saint-Bonnet and one in Marols, each with objects given away
    (21 September 2026) and synced: a sofa (large furniture) and a computer (electronics)
    given with "yes", a book with "no", another with no answer."""
    hub = make(tmp_path, "hub", role="hub")
    bonnet, bonnet_stick = enrol_box(hub, tmp_path, "Saint-Bonnet bourg", "Saint-Bonnet")
    hameau, hameau_stick = enrol_box(hub, tmp_path, "Saint-Bonnet hameau", "Saint-Bonnet")
    marols, marols_stick = enrol_box(hub, tmp_path, "Marols", "Marols")
    give_away(bonnet, "Canapé", "furniture_large", True)
    give_away(bonnet, "Roman", "books", False)
    give_away(hameau, "Ordinateur", "electronics", True)
    give_away(marols, "Livre", "books", None)
    for village, village_stick in ((bonnet, bonnet_stick), (hameau, hameau_stick),
                                   (marols, marols_stick)):
        ok(village, "sync", str(village_stick))
        ok(hub, "sync", str(village_stick))
    return hub


def test_the_hub_counts_per_box_per_commune_and_in_total(tmp_path):
    from piratebox.impact import logic as impact

    hub = hub_of_three_villages(tmp_path)
    # by hand, with the factors file
    factors = impact.load_factors()
    sofa = float(factors["furniture_large"]["kg_co2e_per_object"])
    drill = float(factors["electronics"]["kg_co2e_per_object"])
    with opened(hub):
        network = impact.network_figures(1_790_000_000.0, "Europe/Paris")
    by_box = {name: figures for name, _commune, figures in network.boxes}
    assert by_box["Saint-Bonnet bourg"].exchanges == 2
    assert by_box["Saint-Bonnet bourg"].purchases_avoided == 1
    assert by_box["Saint-Bonnet bourg"].kg_co2e_avoided == pytest.approx(sofa)
    assert by_box["Marols"].purchases_avoided == 0 and by_box["Marols"].answered == 0
    communes = {name: (count, figures) for name, count, figures in network.communes}
    assert communes["Saint-Bonnet"][0] == 2
    assert communes["Saint-Bonnet"][1].exchanges == 3
    assert communes["Saint-Bonnet"][1].kg_co2e_avoided == pytest.approx(sofa + drill)
    assert network.total.exchanges == 4 and network.total.purchases_avoided == 2
    assert network.total.offered == 4 and network.total.answered == 3
    assert sum(count for _monday, count in network.total.weeks) == 4
    table = ok(hub, "stats", "--csv", "--decimal-comma")
    lines = table.splitlines()
    assert lines[0].startswith("level;name;commune;boxes;deposited")
    assert any(line.startswith("commune;Saint-Bonnet;Saint-Bonnet;2;") for line in lines)
    assert lines[-1].startswith("total;;;3;")
    assert f"{sofa + drill:.1f}".replace(".", ",") in lines[-1]
    assert "Marols" in ok(hub, "stats")
    page = application.create_app({"DATA_DIR": str(hub.path), **TEST_CONFIG}).test_client().get(
        "/stats/").get_data(as_text=True)
    assert "Par boîte de village et par commune" in page and "Saint-Bonnet (2 boîtes)" in page


# --- concurrency at the hub -------------------------------------------------------------------

def records_state(data_dir, origin=None):
    with opened(data_dir):
        rows = set()
        for table, model in records.TABLES.items():
            query = model.select(model.id, model.version, model.origin, model.deleted)
            if origin:
                query = query.where(model.origin == origin)
            rows |= {(table, *row) for row in query.tuples()}
        return rows


def test_two_imports_at_once_and_people_browsing_give_the_sequential_result(tmp_path):
    import os
    import sys
    import threading
    import urllib.request

    from tests.server import ROOT, Server

    hub = make(tmp_path, "hub", role="hub")
    villages = []
    for name in ("Marols", "Luriecq"):
        village, village_stick = enrol_box(hub, tmp_path, name, name)
        for number in range(40):
            add_item(village, title=f"{name} {number}")
        ok(village, "sync", str(village_stick))
        villages.append((village, next((village_stick / "cocote").glob("*-to-*.cocote"))))
    expected = set()
    for village, _bundle in villages:
        with opened(village):
            village_id = box.identity()["id"]
        expected |= records_state(village, village_id)

    with Server(hub.path) as server:
        failures, stop = [], threading.Event()

        def browse():
            while not stop.is_set():
                for path in ("/stats/", "/items/", "/api/v1/items"):
                    try:
                        with urllib.request.urlopen(server.base + path, timeout=30) as page:
                            page.read()
                    except Exception as error:  # noqa: BLE001 - any failure is the finding
                        failures.append(f"{path}: {error}")

        browser = threading.Thread(target=browse)
        browser.start()
        commands = [[sys.executable, str(ROOT / "app.py"), "--data", str(hub.path), "import",
                     str(bundle)] for _village, bundle in villages + villages[:1]]
        english = {**os.environ, "PIRATEBOX_LANG": "en"}
        processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, env=english) for command in commands]
        outputs = [process.communicate(timeout=120) for process in processes]
        stop.set()
        browser.join()
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    assert sum("already imported" in out for out, _err in outputs) == 1  # A twice: once
    assert not failures, failures[:3]
    assert records_state(hub) == expected
    latest = {}
    for village, _bundle in villages:
        with opened(village):
            latest[village.path.name] = Counter.current("seq")
    with opened(hub):
        from models import ReceivedBundle

        assert ReceivedBundle.select().count() == 2
        for name, upto in latest.items():
            assert Peer.get(Peer.name == name).received_upto == upto


def test_an_import_widens_the_page_cache_for_its_time_only(network, stick, monkeypatch):
    """An import's inserts read index pages all over the file: its connection keeps more
    of them while it runs, and a page's small cache again after it, even when it fails."""
    from piratebox.box import Box
    from piratebox.database import IMPORT_CACHE_KB, SQLITE_PRAGMAS

    hub, village = network
    if hub_database["url"]:
        pytest.skip("the page cache is SQLite's (a PostgreSQL server has its own)")
    add_item(village, title="Table")
    ok(village, "sync", str(stick))
    path = bundle_on(stick, village)
    merge, seen = records.merge, []

    def observed(*args):
        seen.append(db.execute_sql("PRAGMA cache_size").fetchone()[0])
        if len(seen) == 1:
            raise OSError("the disk is full")
        return merge(*args)

    monkeypatch.setattr(records, "merge", observed)
    here = Box.open(hub)
    with opened(hub):
        with pytest.raises(OSError):
            engine.import_bundle(path, here)
        assert db.execute_sql("PRAGMA cache_size").fetchone()[0] == SQLITE_PRAGMAS["cache_size"]
        assert engine.import_bundle(path, here)["applied"] == 2
        assert db.execute_sql("PRAGMA cache_size").fetchone()[0] == SQLITE_PRAGMAS["cache_size"]
    assert seen[:2] == [-IMPORT_CACHE_KB] * 2
    assert titles(hub) == ["Table"]
