"""The sync as the field meets it: a mediator's round of villages on one stick, a box that
lies, hostile or damaged files on the stick, the return bundle that must not write twice,
the photos of what was deleted."""

import hashlib
import io
import json
import random
import re
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import Blob, BlobUse, Counter, Peer, Quarantined, Setting, db
from piratebox.blobs import BlobStore
from piratebox.storage import DataDir
from piratebox.sync import enrolment, quarantine, records
from tests.field import Village, enrolled_network, every_object_the_forms_offer
from tests.images import jpeg
from tests.test_sync import run as run_cli

# the tests with a hub run with it on SQLite, then on PostgreSQL (VARCHARs are enforced there)
on_both_engines = pytest.mark.usefixtures("hub_engine")

NAMES = ["Saint-Bonnet-le-Château", "Marols", "Luriecq"]


def keys_on(stick):
    """Every enrolment key still readable anywhere on the stick."""
    found = []
    for path in stick.rglob("*"):
        if path.is_file():
            found += re.findall(rb'"key": "([0-9a-f]{64})"', path.read_bytes())
    return found


def visible_to(village, state, table, hub_id, shown):
    """Does the hub send this record to this village (each village synced every round)?
    Another village's objects and files once shown to the network: their offer, then their
    removal; never one that stayed in its village."""
    if state["origin"] == village.id:
        return True
    if table in ("item", "shared_file"):
        return state["id"] in shown
    return table == "event" and state["origin"] == hub_id


def edit_and_delete(village, posted):
    """The second round's work at a box: an edit through the owner's form, a reservation
    and a gift, a deletion by the owner."""
    titles = sorted(posted)
    edited, reserved, deleted = (posted[titles[n]] for n in (0, 3, 5))
    page = f"/items/{edited}/manage"
    response = village.submit(village.phone, page, f"/items/{edited}/manage/edit", {
        "kind": "offer", "title": f"{titles[0]} (repeint)", "category": "furniture_small",
        "mode": "give", "description": "Repeint en vert\r\ncomme neuf", "condition": "fair",
        "place": "elsewhere", "place_detail": "Chez Paul", "pseudonym": "",
        "contact": "06 11 22 33 44", "network": "on"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    neighbour = village.app.test_client()
    assert village.submit(neighbour, f"/items/{reserved}", f"/items/{reserved}/reserve",
                          {"pseudonym": "Paul", "avoided_purchase": "yes"}).status_code == 302
    assert village.submit(village.phone, f"/items/{reserved}/manage",
                          f"/items/{reserved}/manage/give", {}).status_code == 302
    assert village.submit(village.phone, f"/items/{deleted}/manage",
                          f"/items/{deleted}/manage/delete", {"confirm": "yes"}).status_code == 302


@on_both_engines
def test_the_mediators_round_on_one_stick(tmp_path, stick):
    hub = Village(tmp_path, "Hub de la Loire", role="hub")
    villages = [Village(tmp_path, name) for name in NAMES]
    for village in villages:
        hub.use()
        assert "written to" in hub.command("hub", "enrol", village.name, "--to", str(stick))
    shuffled = random.Random(16).sample  # noqa: S311 - the order of a round

    for village in shuffled(villages, 3):  # each takes its own enrolment from the stick
        assert "Enrolment from the hub Hub de la Loire waiting" in village.sync(stick)
        page = village.mediator.get("/admin/sync").get_data(as_text=True)
        assert village.name in page
        response = village.submit(village.mediator, "/admin/sync", "/admin/sync/enrolment",
                                  {"enrolment": re.search(r'name="enrolment" value="(\w+)"',
                                                          page).group(1)})
        assert response.status_code == 302
    posted = {village.name: every_object_the_forms_offer(village, seed)
              for seed, village in enumerate(villages)}

    for round_number in (1, 2):
        for village in shuffled(villages, 3):
            village.sync(stick)
        hub.sync(stick)
        if round_number == 1:
            assert not keys_on(stick)  # the boxes took theirs, the hub the rest
            for village in villages:
                edit_and_delete(village, posted[village.name])
    for village in shuffled(villages, 3):
        village.sync(stick)

    everything, shown = hub.states(), hub.ever_shown()
    assert sum(table == "item" for table, _id in everything) == 3 * 19
    for village in villages:
        here = village.states()
        expected = {key: state for key, state in everything.items()
                    if visible_to(village, state, key[0], hub.id, shown)}
        assert here == expected, village.name
    assert {(table, state["place"]) for (table, _id), state in everything.items()
            if table == "item"} >= {("item", place) for place in ("box", "home", "elsewhere")}
    assert [village.set_aside() for village in [hub, *villages]] == [0, 0, 0, 0]
    hub.use()
    with db.connection_context():
        assert Peer.select().where(Peer.box_id.is_null()).count() == 0
    for village in villages:  # the photos of what was deleted are gone everywhere
        assert not village.use().orphan_photos()
    assert not hub.orphan_photos()


def test_a_box_offers_its_mediator_a_choice_when_no_enrolment_bears_its_name(tmp_path, stick):
    hub = Village(tmp_path, "Hub", role="hub")
    for name in ("Marols", "Luriecq"):
        hub.use()
        hub.command("hub", "enrol", name, "--to", str(stick))
    stray = Village(tmp_path, "Saint-Jean")  # named differently at the hub
    assert "none made for Saint-Jean" in stray.sync(stick)
    page = stray.mediator.get("/admin/sync").get_data(as_text=True)
    choices = re.findall(r'type="radio" name="enrolment" value="(\w+)"', page)
    assert len(choices) == 2 and "Pour Marols" in page and "Pour Luriecq" in page
    assert "Confirmer : synchroniser" not in page  # nothing confirmed for them
    response = stray.submit(stray.mediator, "/admin/sync", "/admin/sync/enrolment", {})
    assert response.status_code == 400  # no choice made, nothing taken
    stray.submit(stray.mediator, "/admin/sync", "/admin/sync/enrolment",
                 {"enrolment": choices[1]})
    stray.sync(stick)
    hub.sync(stick)
    assert len(keys_on(stick)) == 1  # the chosen key is gone; the other village's stays


# --- a box that lies: bundles forged from docs/sync-format.md with the standard library ---

def forge(village, hub, lines, tmp_path, **manifest_fields):
    """A bundle signed with the village's real key, written with zipfile, json, hmac and
    hashlib only, continuing the village's chain of bundles as the box itself would."""
    import hmac
    import secrets

    village.use()
    with db.connection_context():
        key = Peer.get(Peer.role == "hub").key
        chain = {name: Setting.get_value(name) for name in
                 ("enrolment_id", "sync_epoch", "last_bundle_id")}
        bundle_id = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz234567")
                            for _ in range(26))
        Setting.put("last_bundle_id", bundle_id)  # the box's next bundle follows this one
    body = b"".join(line if isinstance(line, bytes) else
                    json.dumps(line, ensure_ascii=False).encode() + b"\n" for line in lines)
    manifest = {"format": "cocote-bundle", "version": "1.0", "bundle_id": bundle_id,
                "previous": chain["last_bundle_id"] or None,
                "sender": {"id": village.id, "role": "box", "name": village.name,
                           "epoch": chain["sync_epoch"], "parent_epoch": None},
                "recipient": hub.id, "enrolment": chain["enrolment_id"], "created_at": 1.8e9,
                "upto": 0, "ack": 0, "record_count": len(lines),
                "members": [{"path": "records.jsonl", "sha256": hashlib.sha256(body).hexdigest(),
                             "size": len(body)}], **manifest_fields}
    manifest_bytes = json.dumps(manifest).encode()
    path = tmp_path / f"{village.id}-to-{hub.id}.cocote"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", manifest_bytes)
        archive.writestr("manifest.hmac", hmac.new(bytes.fromhex(key), manifest_bytes,
                                                   hashlib.sha256).hexdigest())
        archive.writestr("records.jsonl", body, compress_type=zipfile.ZIP_STORED)
    return path


@pytest.fixture
def network(tmp_path, stick):
    """A hub and two enrolled villages that have synced once; Marols shows a mower to the
    network, Saint-Bonnet has books in its café's box."""
    hub, bonnet, marols = enrolled_network(tmp_path, stick, first_round=False)
    marols.submit(marols.phone, "/items/new", "/items/new", {
        "kind": "offer", "mode": "lend", "place": "home", "title": "Tondeuse", "category":
        "garden", "network": "on", "contact": "Marie, 06 98 76 54 32"})
    bonnet.submit(bonnet.phone, "/items/deposit", "/items/deposit", {"category": "books"})
    for village in (bonnet, marols, hub, bonnet, marols):
        village.sync(stick)
    return hub, bonnet, marols


def a_record(village, table, **fields):
    """A record of `village` as it travels, to change into a lie."""
    village.use()
    with db.connection_context():
        model = records.TABLES[table]
        return {"table": table, "record": {**records.state_of(model.get())["record"], **fields}}


def hub_event_lie(hub, bonnet, _marols):
    return {"table": "event", "record": {
        "id": "e" * 26, "origin": hub.id, "version": 1, "deleted": False, "created_at": 1.8e9,
        "updated_at": 1.8e9, "title": "Fête de la hub", "kind": "market", "starts_at": 1.8e9,
        "ends_at": None, "place": "", "description": "", "status": "published",
        "proposed_by": ""}}


LIES = {
    # a "published" event in the hub's name: it would skip every mediator
    "origin is the hub": (hub_event_lie, "it claims to be the hub's"),
    # a tombstone of another village's offer, that the hub would relay back to it
    "origin is another village": (
        lambda hub, bonnet, marols: a_record(marols, "item", deleted=True, version=10**6),
        "it was born on another box"),
    "version 2**63-1": (
        lambda hub, bonnet, marols: a_record(bonnet, "exchange", version=2**63 - 1),
        "its version is not valid"),
    "version far above what the box sent": (
        lambda hub, bonnet, marols: a_record(bonnet, "exchange", version=5 * 10**6),
        "its version is far above"),
    "an id that is another village's record": (
        lambda hub, bonnet, marols: a_record(marols, "item", origin=bonnet.id, version=10),
        "its id is already another box's record"),
    "wrong types": (
        lambda hub, bonnet, marols: a_record(bonnet, "exchange", mass_kg="2", deleted=1),
        "is not valid"),
    "deep JSON": (lambda hub, bonnet, marols: b"[" * 100_000 + b"]" * 100_000 + b"\n",
                  "it is not a JSON object"),
    "a 5,000-digit number": (
        lambda hub, bonnet, marols: b'{"table": "item", "record": {"version": '
        + b"9" * 5000 + b"}}\n", "it is not a JSON object"),
}


@on_both_engines
@pytest.mark.parametrize("lie", sorted(LIES))
def test_a_forged_bundle_changes_nothing_at_the_hub_and_the_hub_keeps_working(
        network, tmp_path, stick, lie):
    hub, bonnet, marols = network
    make_line, reason = LIES[lie]
    line = make_line(hub, bonnet, marols)
    before = hub.states()
    hub.use()
    with db.connection_context():
        lamport = Counter.current("lamport")
    result = hub.run("import", str(forge(bonnet, hub, [line], tmp_path)))
    assert result.exit_code == 1 and "set aside" in result.output, result.output
    assert "Traceback" not in result.output
    assert hub.states() == before  # nothing applied, nothing relayed
    page = hub.mediator.get("/admin/sync").get_data(as_text=True)
    assert "Fiches mises de côté" in page
    hub.use()
    with db.connection_context():
        [entry] = Quarantined.select()
        assert reason in quarantine.sentence(entry)
        assert Counter.current("lamport") == lamport
    # the hub keeps working: its own write, a round with both villages
    response = hub.submit(hub.mediator, "/events/new", "/events/new", {
        "title": "Assemblée du réseau", "kind": "meeting", "day": "2026-12-05",
        "start": "18:00"})
    assert response.status_code == 302
    for village in (bonnet, marols, hub):
        village.sync(stick) if village is not hub else None
    result = hub.run("sync", str(stick))
    assert result.exit_code == 0, result.output
    marols.sync(stick)
    assert ("item", a_record(marols, "item")["record"]["id"]) in marols.states()
    assert not a_record(marols, "item")["record"]["deleted"]  # its offer still stands
    # the box that sent it hears of it through its return bundle, and its mediator sees it
    result = bonnet.run("sync", str(stick))
    assert result.exit_code == 1
    assert "records of this box the hub newly set aside: 1" in result.output
    assert "Mises de côté au centre" in bonnet.mediator.get("/admin/sync").get_data(
        as_text=True)
    assert bonnet.run("sync", str(stick)).exit_code == 0  # told once, shown until resolved



@on_both_engines
def test_a_bad_record_amid_a_batch_is_set_aside_and_the_others_are_stored(
        network, tmp_path, stick):
    """The import merges records a batch at a time: one that cannot be applied, amid new
    objects and their events, is set aside alone (one without its id went on to a crash)."""
    hub, bonnet, _marols = network
    bonnet.use()
    with db.connection_context():  # as the box sends them
        item, event = (records.travelling_state(records.TABLES[table].get())
                       for table in ("item", "exchange"))
    fresh = []
    for number in range(3):
        item_id = f"{number + 2}" * 26
        fresh += [{**item, "record": {**item["record"], "id": item_id, "version": 100 + number,
                                      "title": f"Livre {number}"}},
                  {**event, "record": {**event["record"], "id": f"{number + 2}e".ljust(26, "x"),
                                       "item_id": item_id, "version": 200 + number}}]
    no_id = {**item, "record": {name: value for name, value in item["record"].items()
                                if name != "id"}}
    bad_title = {**item, "record": {**item["record"], "id": "7" * 26, "title": ""}}
    lines = [*fresh[:3], no_id, *fresh[3:5], bad_title, fresh[5]]
    result = hub.run("import", str(forge(bonnet, hub, lines, tmp_path)))
    assert result.exit_code == 1 and "set aside" in result.output, result.output
    assert "Traceback" not in result.output
    states = hub.states()
    for line in fresh:
        assert states[(line["table"], line["record"]["id"])] == line["record"]
    assert ("item", "7" * 26) not in states
    hub.use()
    with db.connection_context():
        sentences = sorted(quarantine.sentence(entry) for entry in Quarantined.select())
    assert len(sentences) == 2
    assert "it lacks id" in sentences[0] and "its title is not valid" in sentences[1]


# --- hostile or damaged files on the stick -------------------------------------------------

def hostile_manifests(hub, bonnet):
    """Manifests a reader must refuse with a sentence, each in its own file."""
    base = {"format": "cocote-bundle", "version": "1.0", "bundle_id": "b" * 26,
            "previous": None, "sender": {"id": bonnet.id, "epoch": "c" * 26},
            "recipient": hub.id, "enrolment": "d" * 26, "upto": 0, "ack": 0, "members": []}
    return {
        "deep": b'{"format": "cocote-bundle", "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        "version of 5,000 digits": json.dumps({**base, "version": "1" * 5000}).encode(),
        "number of 5,000 digits": json.dumps(base).encode().replace(
            b'"upto": 0', b'"upto": ' + b"7" * 5000),
        "sender a list": json.dumps({**base, "sender": [bonnet.id]}).encode(),
        "enrolment an object": json.dumps({**base, "enrolment": {"id": "d" * 26}}).encode(),
        "upto a text": json.dumps({**base, "upto": "12"}).encode(),
        "recipient a number": json.dumps({**base, "recipient": 12}).encode(),
        "not an object": b"[1, 2, 3]",
        "not JSON": b"\xff\xfe garbage",
    }


@on_both_engines
def test_hostile_files_on_the_stick_are_refused_one_by_one_and_the_sync_goes_on(
        network, stick):
    hub, bonnet, marols = network
    bonnet.submit(bonnet.phone, "/items/deposit", "/items/deposit", {"category": "toys"})
    bonnet.sync(stick)  # a genuine bundle among the hostile ones
    folder = stick / "cocote"
    hostile = hostile_manifests(hub, bonnet)
    for number, (_name, manifest) in enumerate(sorted(hostile.items())):
        with zipfile.ZipFile(folder / f"{number:02d}{'a' * 24}-to-{hub.id}.cocote", "w") as z:
            z.writestr("manifest.json", manifest)
            z.writestr("manifest.hmac", "0" * 64)
    (folder / f"{'z' * 26}-to-{hub.id}.cocote").write_bytes(b"PK\x03\x04 cut short")
    (folder / f"{'y' * 26}-to-{hub.id}.cocote").mkdir()  # not even a file
    before = {key for key in hub.states()}
    result = hub.run("sync", str(stick))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "could not be read" not in result.output  # each refusal is a sentence of ours
    refusals = result.output.split("Needs your attention: ")[1].split(" | ")
    assert len(refusals) == len(hostile) + 2
    assert "received from Saint-Bonnet — new or changed: 2" in result.output
    assert len(hub.states()) == len(before) + 2
    assert "sent" in result.output  # the return bundles were written all the same


# --- nothing twice ------------------------------------------------------------------------

def members(path):
    with zipfile.ZipFile(path) as archive:
        return {info.filename: info.file_size for info in archive.infolist()}


@on_both_engines
def test_the_hub_sends_back_nothing_a_box_delivered_and_no_photo_twice(network, stick):
    hub, bonnet, marols = network
    for number in range(4):
        bonnet.submit(bonnet.phone, "/items/new", "/items/new", {
            "kind": "offer", "mode": "give", "place": "home", "title": f"Lampe {number}",
            "category": "household", "network": "on", "contact": "Lucie"},
            photo=jpeg(800, 600, color=(60 * number, 120, 200 - 40 * number)))
    bonnet.sync(stick)
    sent = stick / "cocote" / f"{bonnet.id}-to-{hub.id}.cocote"
    returned = stick / "cocote" / f"{hub.id}-to-{bonnet.id}.cocote"
    assert sum(name.startswith("blobs/") for name in members(sent)) == 8
    sent_size = sent.stat().st_size
    carried = [name.removeprefix("blobs/") for name in members(sent) if name.startswith("blobs/")]
    hub.sync(stick)
    assert not sent.exists()  # imported, and acknowledged by the hub's answer beside it
    kinds = {}
    for village in (bonnet, hub):  # what each blob is, the hub as its records say
        village.use()
        with db.connection_context():
            kinds[village] = dict(Blob.select(Blob.hash, Blob.kind).where(
                Blob.hash.in_(carried)).tuples())
    assert kinds[hub] == kinds[bonnet] and sorted(kinds[hub].values()) == ["photo"] * 4 + [
        "thumb"] * 4
    assert returned.stat().st_size < 0.05 * sent_size
    assert not [name for name in members(returned) if name.startswith("blobs/")]
    marols.sync(stick)  # the network's lamps reach Marols, photos once
    marols_bound = stick / "cocote" / f"{hub.id}-to-{marols.id}.cocote"
    bonnet.sync(stick)
    lamp = bonnet.states()
    lamp_id = next(key[1] for key, state in lamp.items() if state.get("title") == "Lampe 0")
    bonnet.submit(bonnet.phone, f"/items/{lamp_id}/manage", f"/items/{lamp_id}/manage/edit", {
        "kind": "offer", "title": "Lampe de chevet", "category": "household", "mode": "give",
        "place": "home", "network": "on", "contact": "Lucie"})
    bonnet.sync(stick)
    assert [name for name in members(sent)] == ["records.jsonl", "manifest.json",
                                                 "manifest.hmac"]  # the edit, no photo again
    hub.sync(stick)
    marols.sync(stick)
    hub.sync(stick)
    assert not [name for name in members(marols_bound) if name.startswith("blobs/")]
    assert any(state.get("title") == "Lampe de chevet" for state in marols.states().values())


# --- deleted means gone --------------------------------------------------------------------

def photo_urls(village, item_id):
    village.use()
    with db.connection_context():
        photos = json.loads(records.TABLES["item"].get_by_id(item_id).photos)
    return [f"/photos/{photo[size]}.jpg" for photo in photos for size in ("full", "thumb")]


def status(client, url):
    response = client.get(url)
    response.close()
    return response.status_code


@on_both_engines
def test_a_deleted_or_hidden_objects_photos_are_no_longer_served_and_their_space_returns(
        network, stick):
    hub, bonnet, marols = network
    response = bonnet.submit(bonnet.phone, "/items/new", "/items/new", {
        "kind": "offer", "mode": "give", "place": "home", "title": "Poussette",
        "category": "childcare", "network": "on", "contact": "Anne"},
        photo=jpeg(640, 480, color=(9, 99, 199)))
    item_id = response.headers["Location"].split("/")[-2]
    urls = photo_urls(bonnet, item_id)
    visitor = bonnet.app.test_client()
    assert [status(visitor, url) for url in urls] == [200, 200]
    for village in (bonnet, hub, marols):
        village.sync(stick)
    assert [status(marols.app.test_client(), url) for url in urls] == [200, 200]
    assert status(hub.app.test_client(), urls[0]) == 200

    bonnet.use()  # moderated: hidden for visitors, still there for the mediator
    assert bonnet.submit(bonnet.mediator, "/admin/sync",
                         f"/admin/items/{item_id}/moderate", {"decision": "hide"}
                         ).status_code == 302
    assert [status(visitor, url) for url in urls] == [404, 404]
    assert [status(bonnet.mediator, url) for url in urls] == [200, 200]
    assert [status(bonnet.phone, url) for url in urls] == [200, 200]  # its owner
    assert len(list(bonnet.data.blobs.glob("*/*"))) == 2

    bonnet.submit(bonnet.phone, f"/items/{item_id}/manage", f"/items/{item_id}/manage/delete",
                  {"confirm": "yes"})
    assert [status(client, url) for client in (visitor, bonnet.mediator, bonnet.phone)
            for url in urls] == [404] * 6
    assert not list(bonnet.data.blobs.glob("*/*"))  # the space is back at once
    for village in (bonnet, hub, marols):  # and everywhere the tombstone goes
        village.sync(stick)
        assert not village.orphan_photos(), village.name
        assert status(village.app.test_client(), urls[0]) == 404


def test_a_power_cut_while_space_is_given_back_loses_nothing_live(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from tests.server import ROOT

    village = Village(tmp_path, "Marols")
    for number in range(5):  # objects that stay, with their photos
        village.submit(village.phone, "/items/new", "/items/new", {
            "kind": "offer", "mode": "give", "place": "home", "title": f"Objet {number}",
            "category": "other"}, photo=jpeg(64, 64, color=(number * 40, 0, 0)))
    village.use()
    with db.connection_context():
        live = {use.hash for use in BlobUse.select()}
        store, rows = BlobStore(village.data), []
        for number in range(3000):  # photos of objects deleted long ago
            content = number.to_bytes(4, "big") * 64
            digest = hashlib.sha256(content).hexdigest()
            store.path(digest).parent.mkdir(exist_ok=True)
            store.path(digest).write_bytes(content)
            rows.append({"hash": digest, "size": len(content), "kind": "photo",
                         "created_at": 1.79e9})
        for start in range(0, len(rows), 200):
            Blob.insert_many(rows[start:start + 200]).execute()
    script = ("import sys; from piratebox.storage import DataDir; "
              "from piratebox.database import open_existing; from piratebox.blobs import "
              "BlobStore; from models import db; d = DataDir(sys.argv[1]); open_existing(d); "
              "db.connect(); print(BlobStore(d).collect())")
    process = subprocess.Popen([sys.executable, "-c", script, str(village.data.path)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    middle = store.path(sorted(row["hash"] for row in rows)[len(rows) // 2])
    deadline = time.monotonic() + 60
    while middle.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.0005)
    process.send_signal(signal.SIGKILL)  # the files half gone, their rows not yet
    process.communicate()
    village.use()
    with db.connection_context():
        assert all(BlobStore(village.data).verify(digest) for digest in live)
        left = Blob.select().count()
    gone = sum(not store.path(row["hash"]).exists() for row in rows)
    assert gone > 0 and left == len(rows) + len(live), "the cut did not come mid-way"
    check = village.run("check")
    assert "needs a missing blob" not in check.output, check.output
    village.use()
    with db.connection_context():
        assert BlobStore(village.data).collect() == left - len(live)  # finished next time
        assert {row.hash for row in Blob.select()} == live


# --- whatever the forms and the command line accept crosses unchanged ------------------------

typed = st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                       blacklist_characters="\x00"), max_size=150) | \
    st.sampled_from(["Vélo\u202e gpj.exe", "ligne\rsuivante", "a\u2028b", "  ", "é" * 130])


@on_both_engines
def test_whatever_the_forms_accept_crosses_box_hub_and_other_box_unchanged(network, stick):
    from piratebox.catalogue import categories

    hub, bonnet, marols = network

    @settings(max_examples=12, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(item=st.fixed_dictionaries({
        "kind": st.sampled_from(sorted(categories.KINDS)),
        "mode": st.sampled_from(sorted(categories.MODES)),
        "place": st.sampled_from(sorted(categories.PLACES)),
        "category": st.sampled_from(sorted(categories.BY_CODE)),
        "condition": st.sampled_from(sorted(categories.CONDITIONS)),
        "title": typed, "description": typed, "place_detail": typed, "pseudonym": typed,
        "contact": typed}), file_name=typed, folder=typed, event=typed, note=typed)
    def crosses(item, file_name, folder, event, note):
        accepted = []
        response = bonnet.submit(bonnet.phone, "/items/new", "/items/new",
                                 {**item, "title": f"Objet {item['title']}", "network": "on"})
        if response.status_code == 302:
            accepted.append(("item", response.headers["Location"].split("/")[-2]))
        bonnet.use()
        token = re.search(r'name="csrf_token" value="([^"]+)"',
                          bonnet.phone.get("/files/").get_data(as_text=True)).group(1)
        response = bonnet.phone.post("/files/", data={
            "csrf_token": token, "folder": folder,
            "files": (io.BytesIO(file_name.encode()), file_name or "x")},
            content_type="multipart/form-data")
        if response.status_code == 303:
            with db.connection_context():
                shared = records.TABLES["shared_file"].select().order_by(
                    records.TABLES["shared_file"].seq.desc()).get()
            bonnet.submit(bonnet.mediator, "/admin/sync", f"/admin/files/{shared.id}/network",
                          {})
            accepted.append(("shared_file", shared.id))
        for page, fields in (("/events/new", {"title": f"Fête {event}", "kind": "swap",
                                              "day": "2026-12-05", "start": "14:00",
                                              "place": event, "description": event,
                                              "proposed_by": event}),
                             ("/admin/tally", {"week_of": "2026-11-18", "deposited": "2",
                                               "taken": "1", "note": note})):
            bonnet.submit(bonnet.mediator, page, page, fields)
        for village in (bonnet, hub, marols):
            village.sync(stick)
        here, at_hub, there = bonnet.states(), hub.states(), marols.states()
        for key in accepted:  # shown to the network: at the hub and the other village alike
            assert here[key] == at_hub[key] == there[key]
        mine = {key: state for key, state in here.items() if state["origin"] == bonnet.id}
        assert mine == {key: at_hub[key] for key in mine}  # every record of the box, as is
        assert not bonnet.set_aside() and not hub.set_aside() and not marols.set_aside()

    crosses()


def test_what_the_command_line_writes_crosses_unchanged(tmp_path, stick):
    hub = Village(tmp_path, "Hub", role="hub")
    hub.command("hub", "enrol", "Estivareilles\u202e\r", "--to", str(stick))
    folder = DataDir(tmp_path / "estivareilles")
    result = run_cli(folder, "init", "--name", "Estivareilles", "--demo")
    assert result.exit_code == 0, result.output
    village = Village.existing(folder, "Estivareilles")
    assert "Enrolment from the hub Hub waiting" in village.sync(stick)
    village.use()
    with db.connection_context():
        enrolment.confirm(1.79e9)
    for side in (village, hub):
        side.sync(stick)
    samples = village.states()
    assert len(samples) == 12  # six objects and the event of each
    assert samples == {key: hub.states()[key] for key in samples}
    assert not hub.set_aside()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.fixed_dictionaries({
    "table": st.text(max_size=40), "record": st.fixed_dictionaries({
        "id": st.text(max_size=80), "version": st.integers(-5, 2**60) | st.none(),
        "title": typed})}), max_size=5),
    reason=st.sampled_from(sorted(quarantine.REASONS)), field=typed)
def test_what_the_hub_set_aside_reaches_the_box_as_the_hub_says_it(data_dir, lines, reason,
                                                                   field):
    """The manifest's `set_aside`, as a hub writes it and a box reads it back."""
    from piratebox.database import open_existing
    from piratebox.rules import Unusable

    open_existing(data_dir)
    with db.connection_context():
        Quarantined.delete().execute()
        kept = quarantine.Kept()
        params = {"field": field[:64], "table": field[:32], "step": "1,000,000"}
        for line in lines:
            quarantine.keep("p" * 26, "b" * 26, line, Unusable(reason, **params), 1.8e9, kept)
        written = quarantine.for_the_box("p" * 26)
    read = quarantine.read_report(json.loads(json.dumps(written)))
    assert read["count"] == len(lines)
    assert [(entry["table"], entry["id"], entry["version"], entry["sentence"])
            for entry in read["records"]] == [
        (entry["table"], entry["id"], entry["version"], entry["sentence"])
        for entry in written["records"]]
    for entry in read["records"]:
        assert quarantine.reported_sentence(entry, lambda text: text) == entry["sentence"]


@on_both_engines
def test_a_record_set_aside_goes_once_its_box_sends_a_newer_state(network, tmp_path, stick):
    hub, bonnet, marols = network
    books = a_record(bonnet, "item")
    lie = {**books, "record": {**books["record"], "title": "é" * 500,
                               "version": books["record"]["version"] + 1}}
    assert hub.run("import", str(forge(bonnet, hub, [lie], tmp_path))).exit_code == 1
    assert hub.set_aside() == 1
    item_id = books["record"]["id"]
    bonnet.use()
    with db.connection_context():  # the mediator edits the object the hub reported
        from piratebox.box import Actor
        from piratebox.catalogue import logic

        logic.edit(records.TABLES["item"].get_by_id(item_id), {"title": "Livres de poche"},
                   [], Actor(bonnet.id, 1.8e9, BlobStore(bonnet.data)))
    bonnet.sync(stick)
    hub.sync(stick)
    assert hub.set_aside() == 0
    assert hub.states()[("item", item_id)]["title"] == "Livres de poche"
