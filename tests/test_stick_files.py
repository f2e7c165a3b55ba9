"""A stick's folder into the file share: from the command line and the mediator's page, with
the share's own rules, and nothing half-imported when the stick goes away."""

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import app as application
from models import SharedFile, db
from piratebox.blobs import BlobStore
from piratebox.box import Actor, identity
from piratebox.errors import BadInput
from piratebox.files import from_stick, names
from piratebox.i18n import Translator
from piratebox.spool import DiskFull
from piratebox.storage import DataDir
from piratebox.units import MB
from tests.images import jpeg


@pytest.fixture
def stick(tmp_path):
    """A stick as OpenWrt mounts it: /mnt/sda1, with a folder of photos and a few others."""
    root = tmp_path / "mnt" / "sda1"
    photos = root / "Photos fête"
    photos.mkdir(parents=True)
    for number in range(3):
        (photos / f"IMG_{number:04d}.jpg").write_bytes(jpeg(color=(number * 60, 90, 30)))
    (photos / ".DS_Store").write_bytes(b"hidden")
    (photos / "vieux").mkdir()
    (photos / "vieux" / "ancienne.jpg").write_bytes(jpeg())
    (root / "cocote").mkdir()  # the sync's own folder is never offered
    (root / "cocote" / "bundle.cocote").write_bytes(b"x")
    (root / "compte-rendu.pdf").write_bytes(b"%PDF-1.4 compte rendu")
    return root


def shared():
    with db.connection_context():
        return sorted((row.folder, row.name, row.size) for row in SharedFile.live())


def cli(data_dir, *args):
    from click.testing import CliRunner

    return CliRunner().invoke(application.cli, ["--data", str(data_dir.path), *args])


def test_the_command_line_adds_a_folders_files_to_the_share(data_dir, stick):
    result = cli(data_dir, "share-folder", str(stick / "Photos fête"))
    assert result.exit_code == 0, result.output
    assert "3 fichiers ajoutés au partage, dans le dossier « Photos fête »." in result.output
    rows = shared()
    assert [(folder, name) for folder, name, _size in rows] == [
        ("Photos fête", f"IMG_{n:04d}.jpg") for n in range(3)]
    blobs = BlobStore(data_dir)
    with db.connection_context():
        for record in SharedFile.live():
            assert blobs.path(record.blob).read_bytes() == (stick / "Photos fête"
                                                             / record.name).read_bytes()
    again = cli(data_dir, "share-folder", str(stick / "Photos fête"))
    assert "3 fichiers étaient déjà partagés : pas ajoutés deux fois." in again.output
    assert shared() == rows
    other = cli(data_dir, "share-folder", str(stick / "Photos fête"), "--into", "Mairie/2026")
    assert "dans le dossier « Mairie 2026 »" in other.output  # one level, as an upload


@pytest.mark.parametrize(("folder", "reason"), [
    (lambda data, stick: data.path, "données de la boîte"),
    (lambda data, stick: data.blobs, "données de la boîte"),
    (lambda data, stick: data.path.parent, "données de la boîte"),  # holds the data
    (lambda data, stick: stick / "lien", "données de la boîte"),  # a link to the data
    (lambda data, stick: from_stick.PROGRAM, "programme de la boîte"),
    (lambda data, stick: from_stick.PROGRAM / "piratebox", "programme de la boîte"),
    (lambda data, stick: stick / "cocote", "dossier de synchronisation"),
    (lambda data, stick: "/etc", "dossiers du système"),
    (lambda data, stick: "/", "dossiers du système"),
])
def test_the_box_s_own_data_program_and_system_are_never_shared(data_dir, stick, folder,
                                                                 reason):
    (stick / "lien").symlink_to(data_dir.path)
    for command in (["share-folder", str(folder(data_dir, stick))],
                    ["share-folder", str(folder(data_dir, stick)), "--into", "public"]):
        result = cli(data_dir, *command)
        assert result.exit_code != 0
        assert reason in result.output and "jamais partagé" in result.output
        assert result.output.startswith("Erreur") and result.output.count("\n") == 1
    assert shared() == []


def test_a_stick_mounted_where_the_system_keeps_its_sticks_is_shared(data_dir, tmp_path):
    roots = [str(tmp_path / "run" / "cocote")]  # as under /run/cocote, a stick root
    photos = tmp_path / "run" / "cocote" / "sda1" / "Photos"
    photos.mkdir(parents=True)
    from_stick.refuse_private(photos, data_dir, roots)
    with pytest.raises(BadInput):
        from_stick.refuse_private(photos.parent / "cocote-backup" / "box", data_dir, roots)


def test_a_stick_pulled_out_half_way_leaves_nothing(data_dir, stick, app):
    folder = stick / "Photos fête"
    gone = folder / "IMG_0002.jpg"

    def pull_the_stick(progress):
        if progress.files == 1:
            gone.unlink(missing_ok=True)  # the stick is gone before the third file is read

    with app.app_context(), db.connection_context():
        actor = Actor(identity()["id"], 1_790_000_000.0, BlobStore(data_dir))
        with pytest.raises(from_stick.StickLost) as refused:
            from_stick.import_folder(folder, "Photos", data_dir, app.config, actor,
                                     on_progress=pull_the_stick)
    assert "rien n’a été ajouté" in refused.value.localized(Translator("fr").gettext)
    assert shared() == []
    assert not [path for path in data_dir.blobs.rglob("*") if path.is_file()]
    assert not [path for path in data_dir.tmp.rglob("upload-*")]


def test_the_shares_limits_hold_for_a_stick(data_dir, stick, make_app):
    (stick / "Photos fête" / "film.mp4").write_bytes(b"\0" * (2 * MB))
    app = make_app(FILES_MAX_MB=1)
    with app.app_context(), db.connection_context():
        actor = Actor(identity()["id"], 1_790_000_000.0, BlobStore(data_dir))
        progress = from_stick.import_folder(stick / "Photos fête", "Photos", data_dir,
                                            app.config, actor)
    assert progress.too_large == ["film.mp4"] and len(progress.added) == 3
    full = make_app(FILES_RESERVE_MB=10**9)  # a reserve larger than any disk
    with full.app_context(), db.connection_context(), pytest.raises(DiskFull):
        from_stick.import_folder(stick, "", data_dir, full.config, actor)
    assert len(shared()) == 3


def test_the_box_never_offers_its_own_data_disk(tmp_path):
    data_dir = DataDir(tmp_path / "mnt" / "sda1" / "data")  # an extroot on the stick
    data_dir.path.mkdir(parents=True)
    (tmp_path / "mnt" / "sdb1").mkdir()
    found = from_stick.sticks([str(tmp_path / "mnt")], data_dir)
    assert found == [(tmp_path / "mnt" / "sdb1").resolve()]


def import_done():
    for thread in threading.enumerate():
        if thread.name == "stick-import":
            thread.join(timeout=30)


def test_the_mediator_picks_a_folder_on_the_page_and_sees_it_done(make_app, admin_password,
                                                                  stick):
    from tests.conftest import csrf_from, post_from_page

    app = make_app(STICK_ROOTS=str(stick.parent))
    mediator = app.test_client()
    post_from_page(mediator, "/admin/", "/admin/login", {"password": admin_password})
    page = mediator.get("/admin/files/stick").get_data(as_text=True)
    assert "Clé sda1" in page
    assert "Photos fête — 3 fichiers" in page and "(la clé elle-même) — 1 fichier" in page
    assert "cocote" not in page.split("<legend>")[1].split("</fieldset>")[0]
    response = mediator.post("/admin/files/stick", data={
        "csrf_token": csrf_from(page), "folder": str(stick / "Photos fête"),
        "share_folder": ""})
    assert response.status_code == 303
    import_done()
    done = mediator.get("/admin/files/stick").get_data(as_text=True)
    assert "3 fichiers ajoutés au partage, dans le dossier « Photos fête »." in done
    listing = app.test_client().get("/files/?folder=Photos+f%C3%AAte").get_data(as_text=True)
    assert "IMG_0001.jpg" in listing
    outside = mediator.post("/admin/files/stick", data={
        "csrf_token": csrf_from(done), "folder": str(app.extensions["box"].data_dir.path)})
    assert outside.status_code == 400
    assert "données de la boîte" in outside.get_data(as_text=True)
    elsewhere = mediator.post("/admin/files/stick", data={
        "csrf_token": csrf_from(done), "folder": str(stick.parent.parent / "elsewhere")})
    assert "n’est plus sur une clé branchée" in elsewhere.get_data(as_text=True)


def test_the_stick_page_is_the_mediators(client, stick):
    from tests.conftest import post_from_page

    assert client.get("/admin/files/stick").status_code == 302
    response = post_from_page(client, "/files/", "/admin/files/stick",
                              {"folder": str(stick / "Photos fête")})
    assert response.status_code == 302
    import_done()
    assert shared() == []


FILE_NAMES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0"),
                     min_size=1, max_size=80).filter(
    lambda name: name not in (".", "..") and not name.startswith(".")
    and len(name.encode()) < 250)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=FILE_NAMES)
def test_a_name_from_a_stick_follows_the_uploads_rule(app, tmp_path_factory, name):
    folder = tmp_path_factory.mktemp("stick")
    (folder / name).write_bytes(name.encode())
    with app.app_context(), db.connection_context():
        here = app.extensions["box"]
        actor = Actor(here.id, 1_790_000_000.0, here.blobs)
        progress = from_stick.import_folder(folder, folder.name, here.data_dir, app.config,
                                            actor)
        record = SharedFile.get_by_id(progress.added[0].id)
    assert record.name == names.clean_name(name)
    with pytest.raises(BadInput):  # and nothing to take is said, not silently done
        from_stick.import_folder(tmp_path_factory.mktemp("empty"), "", here.data_dir,
                                 app.config, actor)
