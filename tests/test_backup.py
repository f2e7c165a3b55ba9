"""Backup to a stick, restore on a fresh device, check: with real SQLite, real JPEG photos
through the real pipeline, real shared files and a real hub."""

import json
import shutil
import signal
import subprocess
import sys
import time

import pytest

from models import Blob, Item, Peer, SharedFile
from piratebox import box
from piratebox.blobs import BlobStore
from piratebox.box import Actor
from piratebox.catalogue import logic as catalogue
from piratebox.storage import DataDir
from piratebox.sync import enrolment
from tests.conftest import small_filesystem
from tests.images import jpeg
from tests.server import ROOT
from tests.test_sync import ITEM, add_item, enrolled_pair, ok, opened, run, titles

pytestmark = pytest.mark.usefixtures("hub_engine")  # the hub on SQLite, then PostgreSQL
PASSPHRASE = "le lavoir de la place"


def add_with_photo(data_dir, title, color):
    with opened(data_dir):
        me = box.identity()
        item, _token = catalogue.create({**ITEM, "title": title}, [jpeg(color=color)],
                                        Actor(me["id"], 1_790_000_000.0, BlobStore(data_dir)))
        return item


def share_file(data_dir, name, content):
    with opened(data_dir):
        me = box.identity()
        digest = BlobStore(data_dir).put_bytes(content, "file", 1_790_000_000.0)
        SharedFile(name=name, blob=digest, size=len(content)).save_change(me["id"], 1.79e9)


def backup_folder(stick, data_dir):
    with opened(data_dir):
        return stick / "cocote-backup" / box.identity()["id"]


@pytest.fixture
def enrolled(tmp_path, stick):
    return (*enrolled_pair(tmp_path, stick), stick)


def test_backup_more_work_backup_again_lose_the_card_restore_and_sync(enrolled, tmp_path):
    hub, village, stick = enrolled
    add_with_photo(village, "Vélo", (200, 30, 30))
    share_file(village, "compte-rendu.txt", b"conseil municipal du 3 mars")
    ok(village, "sync", str(stick))
    ok(hub, "sync", str(stick))
    ok(village, "sync", str(stick))  # a sync history: the hub has acknowledged
    first = ok(village, "backup", "--to", str(stick), "--set-passphrase", "--passphrase-stdin",
               input=f"{PASSPHRASE}\n")
    assert "3 photos and files, 3 written this time" in first  # photo, thumbnail, file

    add_with_photo(village, "Table", (30, 200, 30))
    second = ok(village, "backup", "--to", str(stick))
    assert "5 photos and files, 2 written this time" in second  # only the new photo's two
    folder = backup_folder(stick, village)
    assert len(list(folder.glob("database-*.db"))) == 1
    assert all(path.name.isalnum() or "." in path.name for path in folder.rglob("*"))

    add_item(village, title="Chaises")  # after the last backup, but synced to the hub
    ok(village, "sync", str(stick))
    ok(hub, "sync", str(stick))
    with opened(village):
        village_id = box.identity()["id"]

    shutil.rmtree(village.path)  # the SD card dies
    fresh = DataDir(village.path)
    restored = ok(fresh, "restore", "--from", str(stick), "--passphrase-stdin",
                  input=f"{PASSPHRASE}\n")
    assert "Restored Saint-Bonnet" in restored and "were not restored" not in restored
    with opened(fresh):
        assert box.identity()["id"] == village_id
    assert titles(fresh) == ["Table", "Vélo"]
    assert ok(fresh, "check").strip().endswith("Everything is in order.")

    ok(fresh, "sync", str(stick))  # a new epoch: the same box continuing
    ok(hub, "sync", str(stick))
    ok(fresh, "sync", str(stick))
    assert titles(fresh) == ["Chaises", "Table", "Vélo"]
    with opened(fresh):
        photo_hashes = [p["full"] for item in Item.select() for p in item.photo_list()]
        assert len(photo_hashes) == 2 and all(BlobStore(fresh).verify(h) for h in photo_hashes)
        assert SharedFile.get().name == "compte-rendu.txt"
    assert titles(hub) == ["Chaises", "Table", "Vélo"]


def test_two_live_boxes_sharing_one_identity_are_still_refused(enrolled, tmp_path):
    hub, village, stick = enrolled
    ok(village, "backup", "--to", str(stick), "--set-passphrase", "--passphrase-stdin",
       input=f"{PASSPHRASE}\n")
    twin = DataDir(tmp_path / "twin")
    ok(twin, "restore", "--from", str(stick), "--passphrase-stdin", input=f"{PASSPHRASE}\n")
    add_item(twin, title="De la jumelle")
    ok(twin, "sync", str(stick))
    ok(hub, "sync", str(stick))  # the restored box: accepted, new epoch
    add_item(village, title="De l'original")
    ok(village, "sync", str(stick))  # the old card is still alive
    result = run(hub, "sync", str(stick))
    assert result.exit_code != 0 and "two boxes now claim to be" in result.output
    assert "De l'original" not in titles(hub)


def test_a_tampered_backup_is_refused(enrolled, tmp_path):
    _hub, village, stick = enrolled
    add_with_photo(village, "Vélo", (10, 10, 200))
    ok(village, "backup", "--to", str(stick))
    folder = backup_folder(stick, village)
    photo = next((folder / "blobs").glob("*/*"))
    photo.write_bytes(photo.read_bytes()[:-10] + b"x" * 10)
    result = run(DataDir(tmp_path / "new"), "restore", "--from", str(stick))
    assert result.exit_code != 0 and "damaged or was changed" in result.output
    assert not (tmp_path / "new").exists()
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][0]["path"] = "../../etc/passwd"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    result = run(DataDir(tmp_path / "new"), "restore", "--from", str(stick))
    assert result.exit_code != 0 and "damaged or was changed" in result.output


def test_restore_never_overwrites_a_box(enrolled, tmp_path):
    _hub, village, stick = enrolled
    ok(village, "backup", "--to", str(stick))
    result = run(village, "restore", "--from", str(stick))
    assert result.exit_code != 0 and "already holds a box" in result.output


def test_a_kill_during_backup_leaves_the_previous_backup_usable(enrolled, tmp_path):
    _hub, village, stick = enrolled
    add_item(village, title="Avant")
    ok(village, "backup", "--to", str(stick))
    with opened(village):
        me = box.identity()
        for number in range(400):  # enough new blobs for the backup to take a while
            digest = BlobStore(village).put_bytes(bytes([number % 256]) * 200_000
                                                  + number.to_bytes(4, "big"), "file", 1.0)
            SharedFile(name=f"{number}.bin", blob=digest, size=200_004).save_change(
                me["id"], 1.0)
    folder = backup_folder(stick, village)
    before = set((folder / "blobs").rglob("*"))
    process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--data",
                                str(village.path), "backup", "--to", str(stick)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while set((folder / "blobs").rglob("*")) == before and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert set((folder / "blobs").rglob("*")) != before, "the backup was never seen writing"
    fresh = DataDir(tmp_path / "fresh")
    ok(fresh, "restore", "--from", str(stick))
    assert titles(fresh) == ["Avant"]
    with opened(fresh):
        assert SharedFile.select().count() == 0


def test_a_full_stick_keeps_the_previous_backup(enrolled, tmp_path):
    _hub, village, _stick = enrolled
    with small_filesystem(tmp_path / "small", "2m") as small:
        add_item(village, title="Première")
        ok(village, "backup", "--to", str(small))
        share_file(village, "gros.bin", b"\1" * 3 * 1024 * 1024)
        result = run(village, "backup", "--to", str(small))
        assert result.exit_code != 0 and "previous backup is still whole" in result.output
        fresh = DataDir(tmp_path / "fresh")
        ok(fresh, "restore", "--from", str(small))
        assert titles(fresh) == ["Première"]


def test_check_finds_and_repair_says_what_is_lost(enrolled):
    _hub, village, _stick = enrolled
    add_with_photo(village, "Lampe", (120, 120, 0))
    share_file(village, "plan.pdf", b"%PDF-1.4 plan")
    with opened(village):
        store = BlobStore(village)
        photo = Item.get().photo_list()[0]["full"]
        store.path(photo).write_bytes(b"bit rot")
        lost_file = SharedFile.get().blob
        store.path(lost_file).unlink()
        (village.blobs / "ab").mkdir(exist_ok=True)
        (village.blobs / "ab" / ("ab" * 32)).write_bytes(b"orphan")
    result = run(village, "check")
    assert result.exit_code != 0
    assert "missing or damaged" in result.output and "is in no record" in result.output
    repaired = ok(village, "check", "--repair")
    assert "lost: object 'Lampe'" in repaired and "lost: shared file 'plan.pdf'" in repaired
    assert ok(village, "check").strip().endswith("Everything is in order.")
    with opened(village):
        assert Item.get().photo_list() == [] and SharedFile.get().deleted
        assert Blob.select().where(Blob.hash == photo).count() == 0


def test_the_sync_can_refresh_the_backup(enrolled):
    _hub, village, stick = enrolled
    (village.path / "config.ini").write_text("[piratebox]\nsync_backup = yes\n")
    add_item(village, title="Pelle")
    assert "backup refreshed" in ok(village, "sync", str(stick))
    assert (backup_folder(stick, village) / "config.ini").is_file()



def secrets_of(data_dir):
    """Every key this box holds, as it would show in a file: the sync keys, the key that
    signs sessions, the admin password's hash."""
    from models import Peer, Setting

    with opened(data_dir):
        found = [peer.key for peer in Peer.select() if peer.key]
        found.append(Setting.get_value("admin_password"))
    found.append(data_dir.secret_key())
    return [value.encode() for value in found if value]


def test_the_round_stick_holds_no_key_in_clear_after_a_backup_and_restore_says_what_it_can(
        enrolled, tmp_path, hub_engine):
    hub, village, stick = enrolled
    with opened(village):
        box.set_password("mediator-secret", 1000)
    add_with_photo(village, "Vélo", (200, 30, 30))
    for side in (village, hub, village):
        ok(side, "sync", str(stick))
    ok(village, "backup", "--to", str(stick))  # no passphrase yet: no key at all
    if hub_engine == "sqlite":  # (a hub on PostgreSQL is backed up with pg_dump)
        ok(hub, "backup", "--to", str(stick))  # the hub's holds every box's key
    everything = b"".join(path.read_bytes() for path in stick.rglob("*") if path.is_file())
    for secret in secrets_of(village) + secrets_of(hub):
        assert secret not in everything
    with opened(village):
        village_id = box.identity()["id"]

    shutil.rmtree(village.path)  # the card dies; the backup restores all but the keys
    fresh = DataDir(village.path)
    restored = ok(fresh, "restore", "--from", str(stick), "--box", village_id)
    assert "were not restored: ask the hub to enrol this box again" in restored
    assert titles(fresh) == ["Vélo"]
    result = run(fresh, "sync", str(stick))
    assert result.exit_code != 0 and "not enrolled with a hub yet" in result.output
    ok(hub, "hub", "enrol", "Saint-Bonnet", "--to", str(stick))
    assert "Enrolment from the hub hub waiting" in ok(fresh, "sync", str(stick))
    with opened(fresh):
        enrolment.confirm(1.8e9)
    ok(fresh, "sync", str(stick))
    ok(hub, "sync", str(stick))  # the same box, restored: taken as the box continuing
    ok(fresh, "sync", str(stick))
    with opened(hub):
        assert [peer.box_id for peer in Peer.select()] == [village_id]
    assert titles(hub) == ["Vélo"]

    # with a passphrase, the keys are on the stick only sealed; a wrong one restores nothing
    ok(fresh, "backup", "--to", str(stick), "--set-passphrase", "--passphrase-stdin",
       input=f"{PASSPHRASE}\n")
    everything = b"".join(path.read_bytes() for path in stick.rglob("*") if path.is_file())
    for secret in secrets_of(fresh):
        assert secret not in everything
    elsewhere = DataDir(tmp_path / "elsewhere")
    wrong = run(elsewhere, "restore", "--from", str(stick), "--box", village_id,
                "--passphrase-stdin", input="pas la bonne phrase\n")
    assert wrong.exit_code != 0 and "not the passphrase this backup was made with" in \
        wrong.output
    assert not elsewhere.path.exists()
