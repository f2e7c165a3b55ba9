"""What a mediator's real round found, played again: a hub and villages in their own data
folders, their pages through the forms, the real `piratebox` command on one stick.

A photo collected in one village and posted again in another; a revoked box enrolled
again; the hub's own pages; what stays in a village; an object taken back from the
network; a failed or killed sync; the French a mediator reads; a box that joins a network
with a history."""
# ruff: noqa: F811 - `network` is test_field_sync's fixture, a parameter of every test

import io
import json
import re
import signal
import subprocess
import sys
import time
import zipfile

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from models import Item, Peer, Setting, SharedFile, db
from piratebox import villages
from piratebox.blobs import BlobStore
from piratebox.impact import logic as impact
from piratebox.sync import enrolment, records
from piratebox.text import clean_line, clean_name
from tests.conftest import small_filesystem
from tests.field import Village
from tests.images import jpeg, noisy_jpeg
from tests.server import ROOT
from tests.test_field_sync import forge, keys_on, network  # noqa: F401 - a fixture

on_both_engines = pytest.mark.usefixtures("hub_engine")


def post(village, title, photo=None, network=False, **fields):
    """An object offered through the form, as a villager does; its id."""
    response = village.submit(village.phone, "/items/new", "/items/new", {
        "kind": "offer", "mode": "give", "place": "home", "title": title,
        "category": "furniture_small", **({"network": "on", "contact": "06 12 34 56 78"}
                                           if network else {}), **fields}, photo=photo)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return response.headers["Location"].split("/")[-2]


def edit(village, item_id, photo=None, **fields):
    values = {"kind": "offer", "mode": "give", "place": "home", "category": "furniture_small",
              **fields}
    response = village.submit(village.phone, f"/items/{item_id}/manage",
                              f"/items/{item_id}/manage/edit", values, photo=photo)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def round_trip(stick, *order):
    for village in order:
        village.sync(stick)


def record(village, item_id):
    village.use()
    with db.connection_context():
        return Item.get_or_none(Item.id == item_id)


def photo_url(village, item_id):
    return f"/photos/{record(village, item_id).photo_list()[0]['full']}.jpg"


def status(client, url):
    response = client.get(url)
    response.close()
    return response.status_code


def bundle_text(path):
    """Every member of a bundle, decompressed: what a reader of the stick can read."""
    with zipfile.ZipFile(path) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())


# --- 3. a photo collected in one village, posted again in another --------------------------

def test_a_photo_one_village_collected_comes_back_when_another_posts_it(network, stick):
    hub, bonnet, marols = network
    picture = jpeg(320, 240, color=(200, 100, 50))
    chair = post(marols, "Chaise", photo=picture, network=True)
    round_trip(stick, marols, hub)
    armchair = post(bonnet, "Fauteuil", photo=picture, network=True)  # the very same picture
    round_trip(stick, bonnet, hub)
    edit(marols, chair, photo=jpeg(320, 240, color=(10, 10, 10)), title="Chaise repeinte",
         network="on", contact="06 12 34 56 78")  # its old photo is collected at Marols
    old = photo_url(bonnet, armchair)
    assert status(marols.client(), old) == 404
    round_trip(stick, marols, hub, marols)  # the armchair reaches Marols, the hub believing
    assert status(marols.client(), f"/items/{armchair}") == 200  # it had the photo
    assert status(marols.client(), old) == 404

    before = records.state_of(record(marols, armchair))
    waiting = marols.run("check", "--repair")
    assert "it is asked for at the next sync" in waiting.output, waiting.output
    assert records.state_of(record(marols, armchair)) == before  # never another's record
    round_trip(stick, hub, marols)  # Marols said what it lacks; the hub sends it
    assert status(marols.client(), old) == 200
    assert marols.run("check").exit_code == 0
    assert not hub.set_aside()

    # the hub loses a box's photo: it asks the box for it, never rewrites the record
    lost = record(hub, chair).photo_list()[0]["full"]
    chair_version = record(hub, chair).version
    BlobStore(hub.data).path(lost).write_bytes(b"bit rot")
    hub.command("check", "--repair")
    assert record(hub, chair).version == chair_version
    round_trip(stick, marols, hub, marols, hub)
    hub.use()
    with db.connection_context():
        assert BlobStore(hub.data).verify(lost)
    assert hub.run("check").exit_code == 0


# --- 4. a revoked box, enrolled again; the hub's list of boxes ----------------------------

@on_both_engines
def test_a_revoked_box_is_told_and_takes_its_new_enrolment_keeping_its_history(
        network, stick):
    hub, bonnet, marols = network
    post(bonnet, "Lampe", photo=jpeg(64, 64, color=(1, 2, 3)), network=True)
    round_trip(stick, bonnet, hub, bonnet)
    assert "saint-bonnet" in hub.command("hub", "revoke", "SAINT BONNET").casefold()
    bonnet.sync(stick)
    refused = hub.run("sync", str(stick))
    assert refused.exit_code == 1 and "revoked" in refused.output
    told = bonnet.run("sync", str(stick))
    assert told.exit_code == 1 and "its enrolment was revoked" in told.output
    page = bonnet.mediator.get("/admin/sync").get_data(as_text=True)
    assert "Le centre refuse les paquets de cette boîte" in page

    hub.command("hub", "enrol", "Saint-Bonnet", "--to", str(stick), "--commune",
                "Saint-Bonnet-le-Château")
    offered = bonnet.run("sync", str(stick))
    assert "a new enrolment for this box, from the hub Hub" in offered.output
    page = bonnet.mediator.get("/admin/sync").get_data(as_text=True)
    assert "Une nouvelle inscription pour cette boîte" in page
    chosen = re.search(r'name="enrolment" value="(\w+)"', page).group(1)
    assert bonnet.submit(bonnet.mediator, "/admin/sync", "/admin/sync/enrolment",
                         {"enrolment": chosen, "decision": "confirm"}).status_code == 302
    bonnet.sync(stick)
    sent = next((stick / "cocote").glob(f"{bonnet.id}-to-*.cocote")).stat().st_size
    hub.sync(stick)  # the same box, its history carried over: nothing comes back twice
    returned = next((stick / "cocote").glob(f"{hub.id}-to-{bonnet.id}.cocote"))
    assert not [name for name in zipfile.ZipFile(returned).namelist()
                if name.startswith("blobs/")]
    assert returned.stat().st_size < 4 * sent
    assert bonnet.run("sync", str(stick)).exit_code == 0
    assert "Le centre refuse" not in bonnet.mediator.get("/admin/sync").get_data(as_text=True)
    assert not keys_on(stick)
    hub.use()
    with db.connection_context():
        [peer] = Peer.select().where(Peer.box_id == bonnet.id)
        assert (peer.id, peer.status, peer.commune) == (chosen, "active",
                                                        "Saint-Bonnet-le-Château")
    listed = hub.command("hub", "boxes")
    line = next(line for line in listed.splitlines() if line.startswith("Saint-Bonnet"))
    assert "active" in line and re.search(r"day \d+ \w+, \d\d:\d\d", line)  # its last bundle

    # the hub renames a box: the figures say so, and the villages learn it
    hub.command("hub", "rename", "saint-bonnet", "Saint-Bonnet-le-Château")
    round_trip(stick, marols, hub, marols)
    assert "Saint-Bonnet-le-Château" in marols.phone.get("/items/").get_data(as_text=True)
    hub.use()
    with db.connection_context():
        assert [name for name, _commune, _figures in impact.network_figures(
            time.time(), "Europe/Paris").boxes] == ["Marols", "Saint-Bonnet-le-Château"]
    ambiguous = hub.run("hub", "revoke", "zzzz")
    assert ambiguous.exit_code == 1 and "No enrolled box is called zzzz" in ambiguous.output


# --- 5. the hub's own pages ---------------------------------------------------------------

@on_both_engines
def test_the_hub_shows_what_the_network_shows_and_acts_for_no_villager(network, stick):
    hub, bonnet, marols = network
    shown = post(bonnet, "Brouette", network=True, place="box")
    kept = post(bonnet, "Pull tricoté", place="box")
    page = "/files/"
    for name, share in (("fete.txt", True), ("conseil.txt", False)):
        token = re.search(r'name="csrf_token" value="([^"]+)"', bonnet.phone.get(page)
                          .get_data(as_text=True)).group(1)
        bonnet.phone.post(page, data={"csrf_token": token, "files": (
            io.BytesIO(name.encode() * 10), name)}, content_type="multipart/form-data")
        if share:
            bonnet.use()
            with db.connection_context():
                file_id = SharedFile.get(SharedFile.name == name).id
            bonnet.submit(bonnet.mediator, "/admin/sync", f"/admin/files/{file_id}/network",
                          {})
    bonnet.submit(bonnet.mediator, "/events/new", "/events/new", {
        "title": "Fête du pain", "kind": "market", "day": "2026-12-05", "start": "10:00"})
    give = post(bonnet, "Vélo", place="box")
    assert bonnet.submit(bonnet.client(), f"/items/{give}", f"/items/{give}/take",
                         {"avoided_purchase": "yes"}).status_code == 302
    round_trip(stick, bonnet, hub, marols, bonnet)

    visitor = hub.client()
    listing = visitor.get("/items/").get_data(as_text=True)
    assert "Brouette" in listing and "Pull tricoté" not in listing and "Tondeuse" in listing
    assert status(visitor, f"/items/{kept}") == 404
    offer = visitor.get(f"/items/{shown}").get_data(as_text=True)
    assert "Je l’ai pris" not in offer and "Réserver" not in offer
    assert "à Saint-Bonnet" in offer
    hub.use()
    taken = hub.submit(visitor, f"/items/{shown}", f"/items/{shown}/take", {})
    assert taken.status_code == 403 and record(hub, shown).status == "available"
    files = visitor.get("/files/").get_data(as_text=True)
    assert "fete.txt" in files and "conseil.txt" not in files
    assert "Fête du pain" not in visitor.get("/events/").get_data(as_text=True)
    hub.use()
    with db.connection_context():
        figures = impact.network_figures(time.time(), "Europe/Paris")
    assert figures.total.exchanges == sum(row.exchanges for _n, _c, row in figures.boxes) == 1

    # the hub moderates the network: hidden everywhere, the village keeps its own values
    assert hub.submit(hub.mediator, "/admin/", f"/admin/items/{shown}/moderate",
                      {"decision": "hide"}).status_code == 302
    round_trip(stick, hub, bonnet, marols)
    assert record(bonnet, shown).hidden and record(bonnet, shown).contact == "06 12 34 56 78"
    assert status(marols.client(), f"/items/{shown}") == 404


# --- 8. where another village's object is, and how to reach its owner ----------------------

def test_another_villages_offer_says_its_village_and_needs_a_contact(network, stick, tmp_path):
    hub, bonnet, marols = network
    refused = bonnet.submit(bonnet.phone, "/items/new", "/items/new", {
        "kind": "offer", "mode": "give", "place": "home", "title": "Poêle",
        "category": "kitchen", "network": "on", "contact": "  "})
    assert refused.status_code == 400
    assert "Dites comment vous joindre" in refused.get_data(as_text=True)
    mower = next(state["id"] for (table, _id), state in marols.states().items()
                 if table == "item" and state["title"] == "Tondeuse")
    page = bonnet.phone.get(f"/items/{mower}").get_data(as_text=True)
    assert "à Marols" in page and "Marie, 06 98 76 54 32" in page
    assert "proposé à Marols, un autre village du réseau" in page
    assert "à Marols" in bonnet.phone.get("/items/").get_data(as_text=True)
    assert "Tondeuse" not in bonnet.phone.get("/").get_data(as_text=True)  # home: the village

    mine = next(state for (table, _id), state in bonnet.states().items() if table == "item")
    lie = {"table": "item", "record": {**mine, "network": True, "contact": "",
                                       "status": "available", "version": mine["version"] + 1}}
    result = hub.run("import", str(forge(bonnet, hub, [lie], tmp_path)))
    assert result.exit_code == 1 and "set aside" in result.output


@settings(max_examples=6, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.text(min_size=1, max_size=140))
def test_the_name_the_hub_gives_a_village_reaches_the_others_as_it_reads(network, stick, name):
    hub, _bonnet, marols = network
    hub.use()
    with db.connection_context():
        try:
            enrolment.rename("Saint-Bonnet", name)
        except enrolment.SyncError:
            return  # no letter or digit: refused at the hub, as the command line says
        told = villages.known()
    round_trip(stick, marols, hub, marols)
    marols.use()
    with db.connection_context():
        assert villages.known() == told
    enrolment_name = next(iter(told.values()))["name"]
    hub.use()
    with db.connection_context():
        enrolment.rename(enrolment_name, "Saint-Bonnet")  # back, for the next example


# --- 9. what stays in the village ---------------------------------------------------------

typed = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1,
                max_size=40)


@settings(max_examples=5, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(who=typed, message=typed, borrower=typed, contact=typed)
def test_who_reserved_or_borrowed_never_leaves_the_village(network, stick, who, message,
                                                           borrower, contact):
    hub, bonnet, marols = network
    # each marked, so that no public text can look like it
    who, message, borrower, contact = (f"{text} ¤{mark}" for mark, text in enumerate(
        (who, message, borrower, contact)))
    drill = post(bonnet, "Perceuse", network=True, mode="lend")
    kept = post(bonnet, "Escabeau", contact=contact)  # not shown to other villages
    neighbour = bonnet.client()
    assert bonnet.submit(neighbour, f"/items/{drill}", f"/items/{drill}/reserve", {
        "pseudonym": who, "reserved_message": message}).status_code == 302
    assert bonnet.submit(bonnet.phone, f"/items/{drill}/manage", f"/items/{drill}/manage/lend",
                         {"lent_to": borrower, "lent_until": "2030-01-31"}).status_code == 302
    written = []
    for village in (bonnet, marols, hub, marols, hub, bonnet):
        village.sync(stick)
        written += [bundle_text(path) for path in (stick / "cocote").glob("*.cocote")]
    # each as the box keeps it: a pseudonym by the names' rule, the others as lines
    private = [clean(text).encode() for clean, text in (
        (clean_name, who), (clean_line, message), (clean_name, borrower), (clean_line, contact))]
    assert not [value for value in private for text in written if value in text]
    kept_at_hub = record(hub, kept)
    assert kept_at_hub.contact == "" and kept_at_hub.pseudonym == ""
    assert record(hub, drill).lent_to == "" and record(marols, drill).reserved_by == ""
    at_home = record(bonnet, drill)
    assert (at_home.reserved_by, at_home.lent_to) == (clean_name(who), clean_name(borrower))
    assert record(bonnet, kept).contact == clean_line(contact)


# --- 10. taken back from the network ------------------------------------------------------

@on_both_engines
def test_what_a_village_takes_back_from_the_network_leaves_the_other_villages(network, stick):
    hub, bonnet, marols = network
    lamp = post(bonnet, "Lampe", photo=jpeg(120, 90, color=(250, 200, 0)), network=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', bonnet.phone.get("/files/")
                      .get_data(as_text=True)).group(1)
    bonnet.phone.post("/files/", data={"csrf_token": token, "files": (
        io.BytesIO(b"%PDF-1.4 programme" * 50), "programme.pdf")},
        content_type="multipart/form-data")
    bonnet.use()
    with db.connection_context():
        leaflet = SharedFile.get(SharedFile.name == "programme.pdf")
    bonnet.submit(bonnet.mediator, "/admin/sync", f"/admin/files/{leaflet.id}/network", {})
    round_trip(stick, bonnet, hub, marols)
    there = marols.client()
    photo = photo_url(bonnet, lamp)
    assert status(there, f"/files/{leaflet.id}/programme.pdf") == 200
    assert status(there, photo) == 200

    edit(bonnet, lamp, title="Lampe", contact="06 12 34 56 78")  # "keep it in the village"
    bonnet.submit(bonnet.mediator, f"/files/{leaflet.id}", f"/admin/files/{leaflet.id}/local",
                  {})
    round_trip(stick, bonnet, hub, marols)
    assert "Lampe" not in there.get("/items/").get_data(as_text=True)
    assert "programme.pdf" not in there.get("/files/").get_data(as_text=True)
    assert [status(there, url) for url in (f"/items/{lamp}", photo,
                                           f"/files/{leaflet.id}/programme.pdf")] == [404] * 3
    assert not marols.orphan_photos()
    assert not list(marols.data.blobs.glob(f"*/{leaflet.blob}"))  # its content gone there
    assert record(marols, lamp).contact == "" and record(hub, lamp).contact == ""
    assert "Lampe" in bonnet.phone.get("/items/").get_data(as_text=True)  # still at home


# --- 11. a failed sync, a killed one, and a stick that does not fill up ---------------------

def test_a_failed_sync_is_shown_and_a_full_stick_never_fills_with_old_bundles(
        network, tmp_path, stick):
    hub, bonnet, marols = network
    for number in range(3):
        post(bonnet, f"Affiche {number}", photo=noisy_jpeg(seed=number))
    with small_filesystem(tmp_path / "small", "64k") as small:
        (small / "cocote").mkdir()
        result = bonnet.run("sync", str(small))
        assert result.exit_code == 1 and "stick full" in result.output
    page = bonnet.mediator.get("/admin/sync").get_data(as_text=True)
    assert "La synchronisation a échoué" in page and "Dernière synchronisation réussie" in page

    for _round in range(4):  # a year of rounds: each bundle goes once it is read
        round_trip(stick, bonnet, marols, hub)
        names = sorted(path.name for path in (stick / "cocote").iterdir())
        assert names == sorted(f"{hub.id}-to-{village.id}.cocote"
                               for village in (bonnet, marols))
        round_trip(stick, bonnet, marols)
        assert sorted(path.name for path in (stick / "cocote").iterdir()) == sorted(
            f"{village.id}-to-{hub.id}.cocote" for village in (bonnet, marols))
    assert "La synchronisation a échoué" not in bonnet.mediator.get(
        "/admin/sync").get_data(as_text=True)


def test_a_killed_sync_leaves_nothing_the_next_one_does_not_clear(network, stick):
    hub, bonnet, _marols = network
    bonnet.use()
    with db.connection_context():
        store, me = BlobStore(bonnet.data), bonnet.id
        for number in range(120):
            digest = store.put_bytes(number.to_bytes(2, "big") * 200_000, "file", 1.8e9)
            SharedFile(name=f"{number}.bin", blob=digest, size=400_000,
                       network=True).save_change(me, 1.8e9)
    process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--data",
                                str(bonnet.data.path), "sync", str(stick)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list((stick / "cocote").glob(".*.partial")) and time.monotonic() < deadline:
        if process.poll() is not None:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert list((stick / "cocote").glob(".*.partial")), "the kill did not come mid-write"
    result = bonnet.sync(stick)
    assert "unfinished files of an interrupted sync removed: 1" in result
    assert not list((stick / "cocote").glob(".*.partial"))
    assert "received from Saint-Bonnet" in hub.sync(stick)


# --- 12. the French a mediator reads --------------------------------------------------------

def test_the_sync_page_speaks_french_and_names_what_the_mediator_chose(network, stick,
                                                                      tmp_path):
    hub, bonnet, marols = network
    upload = "/admin/sync/upload"

    def send(village, data, name):
        """Upload a file on the sync page: (status, the page that answers)."""
        response = village.submit(village.mediator, "/admin/sync", upload, {
            "bundle": (io.BytesIO(data), name)})
        if response.status_code == 302:
            return 302, village.mediator.get("/admin/sync").get_data(as_text=True)
        return response.status_code, response.get_data(as_text=True)

    status, page = send(hub, b"des vacances en photo", "mon-paquet.cocote")
    assert status == 400 and "mon-paquet.cocote n’est pas un paquet" in page
    assert "upload-" not in page and "zip" not in page
    assert "La synchronisation a échoué" in page  # and the sync page remembers it
    post(bonnet, "Table", network=True)
    downloaded = bonnet.submit(bonnet.mediator, "/admin/sync", "/admin/sync/bundle", {})
    data = downloaded.get_data()
    downloaded.close()
    status, page = send(hub, data, "depuis-le-telephone.cocote")
    assert status == 302 and "Paquet importé : 2 fiches nouvelles ou modifiées" in page
    status, page = send(hub, data, "depuis-le-telephone.cocote")
    assert status == 302 and "Ce paquet a déjà été importé : rien de nouveau." in page
    status, page = send(marols, data, "pour-le-centre.cocote")  # a bundle for someone else
    assert status == 400 and "Ce paquet est destiné à Hub, pas à cette boîte." in page

    round_trip(stick, bonnet, hub, bonnet)
    page = bonnet.mediator.get("/admin/sync").get_data(as_text=True)
    assert "reçu de Hub" in page and "envoyé à Hub" in page
    assert "received" not in page and "REFUSED" not in page


# --- 13. a box that joins a network with a history ------------------------------------------

@on_both_engines
def test_a_box_that_joins_gets_the_offers_not_the_history(network, stick, tmp_path):
    hub, bonnet, marols = network
    offers = [post(marols, f"Objet {number}", photo=jpeg(400, 300, color=(number * 30, 9, 9)),
                   network=True, place="box") for number in range(6)]
    for taken in offers[:3]:
        assert marols.submit(marols.client(), f"/items/{taken}",
                             f"/items/{taken}/take", {}).status_code == 302
    marols.submit(marols.phone, f"/items/{offers[3]}/manage",
                  f"/items/{offers[3]}/manage/delete", {"confirm": "yes"})
    round_trip(stick, marols, hub, bonnet, marols)

    hub.use()
    hub.command("hub", "enrol", "Luriecq", "--to", str(stick))
    luriecq = Village(tmp_path, "Luriecq")
    luriecq.sync(stick)
    luriecq.use()
    with db.connection_context():
        enrolment.confirm(time.time())
    round_trip(stick, luriecq, hub)
    first = next((stick / "cocote").glob(f"{hub.id}-to-{luriecq.id}.cocote"))
    with zipfile.ZipFile(first) as archive:
        lines = [json.loads(line) for line in archive.read("records.jsonl").splitlines()]
        photos = [name for name in archive.namelist() if name.startswith("blobs/")]
    items = {line["record"]["title"] for line in lines if line["table"] == "item"}
    assert items == {"Objet 4", "Objet 5", "Tondeuse"}
    assert len(photos) == 2 * 2  # a photo and its thumbnail for each offer that has one
    assert {line["table"] for line in lines} <= {"item", "shared_file", "event"}
    luriecq.sync(stick)
    listing = luriecq.phone.get("/items/").get_data(as_text=True)
    assert "Objet 4" in listing and "Objet 0" not in listing and "à Marols" in listing
    assert Setting  # the box learnt the network's villages from the same bundle
    luriecq.use()
    with db.connection_context():
        assert set(villages.names().values()) >= {"Marols", "Saint-Bonnet", "Luriecq"}
