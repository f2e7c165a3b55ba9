"""The box's clock as the field has it: a system that says 1970, a correction made then
and a reboot with a right clock, a box left years ahead by an older version. Real boxes
in data folders, the real command and server in their own processes, under a system
clock that libfaketime sets and after a reboot that a private boot id plays."""

import io
import os
import time
import zipfile

from models import Item, Setting, db
from piratebox.clock import Clock
from piratebox.sync import enrolment
from piratebox.typography import date
from tests.clocks import EPOCH_1970, Session, another_boot, command, server, system_clock
from tests.field import PASSWORD, Village
from tests.images import jpeg

DAY = 86400
# What the bug made of a box set from a phone while its system said 2 January 1970, once
# it restarted with a right clock: the old offset (phone - system) added to the right time.
YEARS_AHEAD = 2 * time.time() - DAY


def enrolled(tmp_path, stick, name="Usson"):
    hub = Village(tmp_path, "Hub", role="hub")
    hub.use()
    hub.command("hub", "enrol", name, "--to", str(stick))
    village = Village(tmp_path, name)
    village.sync(stick)
    village.use()
    with db.connection_context():
        enrolment.confirm(time.time())
    return hub, village


def day_of(timestamp):
    """The day as the pages show it, in the village's time zone ("mardi 24 novembre")."""
    return date(timestamp, "Europe/Paris", "fr")


def box_now(village):
    village.use()
    with db.connection_context():
        return Clock.load().now()


def test_a_box_whose_system_says_1970_writes_its_bundles_and_its_backups(tmp_path, stick):
    hub, village = enrolled(tmp_path, stick)
    village.submit(village.phone, "/items/new", "/items/new", {
        "kind": "offer", "mode": "give", "place": "home", "title": "Poussette",
        "category": "childcare"}, photo=jpeg(200, 150, color=(20, 80, 160)))
    for path in village.data.blobs.rglob("*"):  # written while the system said 1970
        os.utime(path, (DAY, DAY))
    at_1970 = system_clock(EPOCH_1970)

    status, out, err = command(village.data, "sync", str(stick), env=at_1970)
    assert status == 0, err
    assert "Traceback" not in err
    assert "received from Usson" in hub.sync(stick)
    status, _out, err = command(village.data, "backup", "--to", str(stick), env=at_1970)
    assert status == 0, err

    with server(village.data, env=at_1970) as box:  # the sync page's download, at 1970
        mediator = Session(box.base)
        mediator.log_in(PASSWORD)
        status, headers, body = mediator.submit("/admin/sync", "/admin/sync/bundle", {})
    assert status == 200 and headers["Content-Disposition"].startswith("attachment")
    assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None
    downloaded = tmp_path / "downloaded.cocote"
    downloaded.write_bytes(body)
    assert "Usson" in hub.command("import", str(downloaded))


def test_a_correction_made_while_the_system_said_1970_stays_with_its_boot(tmp_path):
    village = Village(tmp_path, "Usson")
    at_1970, boot = system_clock(EPOCH_1970), another_boot(tmp_path)
    phone_time = time.time()
    with server(village.data, env=at_1970, prefix=boot) as box:
        mediator = Session(box.base)
        mediator.log_in(PASSWORD)
        status, _headers, _body = mediator.submit("/admin/", "/admin/clock", {
            "epoch_ms": str(int(phone_time * 1000)), "typed": ""})
        assert status == 302
        assert day_of(phone_time) in mediator.page("/admin/")
    with server(village.data, env=at_1970, prefix=boot) as box:  # restarted, same boot
        mediator = Session(box.base)
        mediator.log_in(PASSWORD)
        assert day_of(phone_time) in mediator.page("/admin/")

    # The next boot has a right system clock (fake-hwclock, a new card): the correction
    # measured against 1970 is not applied to it.
    with server(village.data, prefix=another_boot(tmp_path)) as box:
        mediator = Session(box.base)
        mediator.log_in(PASSWORD)
        page = mediator.page("/admin/")
        assert day_of(time.time()) in page and "d’avance" not in page
        phone = Session(box.base)
        status, _headers, _body = phone.submit("/items/new", "/items/new", {
            "kind": "offer", "mode": "give", "place": "home", "title": "Chaise paillée",
            "category": "furniture_small"})
        assert status == 302
    village.use()
    with db.connection_context():
        posted = Item.get(Item.title == "Chaise paillée").created_at
    assert abs(posted - time.time()) < 600


def test_the_hub_sets_back_a_box_left_years_ahead_once_it_proves_it(tmp_path, stick):
    hub, village = enrolled(tmp_path, stick)
    village.use()
    with db.connection_context():  # what an older version left behind
        Setting.put("clock_floor", repr(YEARS_AHEAD))
        Setting.put("clock_offset", repr(YEARS_AHEAD - time.time()))
    village = Village.existing(village.data, village.name)  # the box restarts
    page = village.mediator.get("/admin/").get_data(as_text=True)
    assert "jours d’avance sur l’horloge du système" in page  # the page says so
    village.sync(stick)  # its bundle, written "in 2083"
    hub.sync(stick)
    answer = next((stick / "cocote").glob(f"{hub.id}-to-{village.id}.cocote"))

    # A hub's bundle that does not answer the box's latest bundle proves nothing (a stick
    # found in a drawer): the box does not go back.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    village.command("export", "--to", str(elsewhere))
    village.command("import", str(answer))
    assert box_now(village) > YEARS_AHEAD - DAY

    village.sync(stick)
    hub.sync(stick)  # this answer follows the box's latest bundle: it was written after it
    village.sync(stick)
    assert abs(box_now(village) - time.time()) < 600
    village.use()
    with db.connection_context():
        assert Setting.get_value("clock_corrected_by") == "Hub"
    village = Village.existing(village.data, village.name)  # (a running server follows it
    page = village.mediator.get("/admin/").get_data(as_text=True)  # within a minute)
    assert day_of(time.time()) in page and "d’avance" not in page
    assert "Reculée de" in village.mediator.get("/admin/sync").get_data(as_text=True)
    assert abs(box_now(village) - time.time()) < 600


def test_the_mediator_sets_back_a_box_left_years_ahead(tmp_path):
    village = Village(tmp_path, "Usson")
    village.use()
    with db.connection_context():
        Setting.put("clock_floor", repr(YEARS_AHEAD))
    village = Village.existing(village.data, village.name)  # the box restarts
    assert box_now(village) > YEARS_AHEAD - DAY  # never backwards on its own
    response = village.submit(village.mediator, "/admin/", "/admin/clock", {
        "epoch_ms": str(int(time.time() * 1000)), "typed": ""})
    assert response.status_code == 302
    page = village.mediator.get("/admin/").get_data(as_text=True)
    assert "L’horloge de la boîte a été reculée de" in page and "elle se croyait le" in page
    assert abs(box_now(village) - time.time()) < 600  # a restart keeps the right time
