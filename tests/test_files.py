"""The file share through the app: names, types, listing, private links, moderation,
expiry, limits. Real SQLite, real blob store, real Pillow JPEGs; tests/test_files_server.py
does the same through a real waitress server."""

import hashlib
import io
import re
import shutil
import unicodedata

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import stream_encode_multipart

from models import Blob, PrivateKey, SharedFile, db
from piratebox.blobs import BlobStore
from piratebox.box import Actor
from piratebox.files import logic, names
from tests.conftest import csrf_from, plan_of, small_filesystem
from tests.images import jpeg
from tests.test_printing import decode_svg

MB = 1024 * 1024


def upload(client, files, folder="", headers=None):
    """Post files as the upload form does: [(name, bytes)]."""
    token = csrf_from(client.get("/files/").get_data(as_text=True))
    fields = {"csrf_token": token, "folder": folder,
              "files": [FileStorage(io.BytesIO(data), filename=name) for name, data in files]}
    stream, length, boundary = stream_encode_multipart(fields, use_tempfile=False)
    return client.post("/files/", input_stream=stream, content_length=length,
                       content_type=f"multipart/form-data; boundary={boundary}",
                       headers=headers or {})


def fetch(client, url, **kwargs):
    response = client.get(url, **kwargs)
    body = response.get_data()
    response.close()
    return response, body


def only_file():
    with db.connection_context():
        return SharedFile.get()


def blob_files(data_dir):
    return [path for path in data_dir.blobs.rglob("*") if path.is_file()]


def leftovers(data_dir):
    return [path for path in data_dir.tmp.rglob("*") if path.is_file()
            and not path.name.endswith(".lock")]


# --- names and types ----------------------------------------------------------------------

@pytest.mark.parametrize("sent, shown", [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\boot.ini", "boot.ini"),
    ("C:\\Users\\Élise\\Documents\\compte rendu.pdf", "compte rendu.pdf"),
    ("a\x00b\x1b[31mc.txt", "ab[31mc.txt"),
    ("photo\u202egpj.exe", "photogpj.exe"),
    ("CON.txt", "_CON.txt"),
    ("lpt1", "_lpt1"),
    ("   ...   ", "fichier"),
    ("", "fichier"),
    (".bashrc", "bashrc"),
    ("Fête au village 🎉.jpg", "Fête au village 🎉.jpg"),
    ("Fe\u0302te.txt", "Fête.txt"),  # decomposed accents composed (NFC)
    ("tab\tand\nnewline.txt", "tab and newline.txt"),
])
def test_names_are_cleaned_for_display_and_never_a_path(sent, shown):
    assert names.clean_name(sent) == shown


def test_a_very_long_name_keeps_its_extension():
    name = names.clean_name("é" * 500 + ".tar.gz")
    assert len(name) == names.MAX_NAME and name.endswith(".gz")
    assert unicodedata.is_normalized("NFC", name)


def test_folders_are_one_level():
    assert names.clean_folder("../photos/2026") == ".. photos 2026".strip(" .")
    assert "/" not in names.clean_folder("a/b/c") and names.clean_folder("  ") == ""


def test_only_passive_formats_proven_by_their_bytes_are_previewed():
    assert names.sniff(jpeg()[:16]) == "image/jpeg"
    assert names.sniff(b"%PDF-1.7\n") == "application/pdf"
    assert names.sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert names.sniff(b"<html><script>") == ""
    assert names.sniff(b"<svg xmlns=") == ""
    assert names.download_type("page.html") == "application/octet-stream"
    assert names.download_type("dessin.svg") == "application/octet-stream"
    assert names.download_type("appli.apk") == "application/vnd.android.package-archive"


# --- upload, list, download ---------------------------------------------------------------

def test_several_files_in_one_upload_are_listed_and_downloaded(client, data_dir):
    photo = jpeg()
    response = upload(client, [("Fête au village.jpg", photo), ("notes.txt", b"bonjour\n")],
                      folder="Kermesse")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 fichiers sont partagés" in page and "Fête au village.jpg" in page
    listing = client.get("/files/").get_data(as_text=True)
    assert "Fête au village.jpg" in listing and "notes.txt" in listing and "Kermesse" in listing
    with db.connection_context():
        record = SharedFile.get(SharedFile.name == "Fête au village.jpg")
    response, body = fetch(client, f"/files/{record.id}/{record.name}")
    assert body == photo
    assert response.headers["Content-Type"] == "image/jpeg"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''F%C3%AAte%20au%20village.jpg" in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert response.headers["ETag"] == f'"{record.blob}"'
    assert record.blob == hashlib.sha256(photo).hexdigest()
    assert not leftovers(data_dir)


def test_the_upload_page_works_without_javascript_and_offers_a_progress_bar(client):
    page = client.get("/files/").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'type="file" multiple' in page
    assert re.search(r"/static/files\.[0-9a-f]+\.js", page)
    assert "<progress" in page and "<meter" in page


def test_the_progress_script_gets_where_to_go_next(client):
    response = upload(client, [("a.txt", b"a")], headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.get_json() == {"next": "/files/uploaded"}


def test_html_and_svg_are_only_ever_downloaded(client):
    upload(client, [("page.html", b"<script>alert(1)</script>"),
                    ("dessin.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="x()"/>')])
    with db.connection_context():
        records = list(SharedFile.select())
    for record in records:
        assert record.media_type == ""
        response, _body = fetch(client, f"/files/{record.id}/{record.name}")
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert fetch(client, f"/files/preview/{record.id}/{record.name}")[0].status_code == 404


def test_an_image_is_previewed_inline_in_a_sandbox(client):
    photo = jpeg()
    upload(client, [("carte.jpg", photo)])
    record = only_file()
    page = client.get(f"/files/{record.id}").get_data(as_text=True)
    assert f"/files/preview/{record.id}/carte.jpg" in page
    response, body = fetch(client, f"/files/preview/{record.id}/carte.jpg")
    assert body == photo and response.headers["Content-Type"] == "image/jpeg"
    assert "Content-Disposition" in response.headers
    assert response.headers["Content-Disposition"].startswith("inline")
    assert response.headers["Content-Security-Policy"].startswith("sandbox")


def test_a_name_that_lies_about_its_content_is_not_previewed(client):
    upload(client, [("photo.jpg", b"<html><body onload=alert(1)>")])
    record = only_file()
    assert record.media_type == ""
    assert fetch(client, f"/files/preview/{record.id}/photo.jpg")[0].status_code == 404


def test_names_with_markup_are_escaped(client):
    upload(client, [('<img src=x onerror=alert(1)>.txt', b"x")])
    listing = client.get("/files/").get_data(as_text=True)
    assert "<img src=x" not in listing and "&lt;img src=x onerror=alert(1)&gt;.txt" in listing


def test_the_same_content_is_stored_once(client, data_dir):
    upload(client, [("a.txt", b"same bytes"), ("b.txt", b"same bytes")])
    assert len(blob_files(data_dir)) == 1
    with db.connection_context():
        assert SharedFile.select().count() == 2


def test_search_sort_and_folder(client):
    upload(client, [("Compte rendu conseil.pdf", b"%PDF-1.4 a" * 10)], folder="Mairie")
    upload(client, [("Recette tarte.txt", b"beurre")], folder="Cuisine")
    upload(client, [("grand.bin", b"x" * 5000)])
    found = client.get("/files/?q=conseil").get_data(as_text=True)
    assert "Compte rendu conseil.pdf" in found and "Recette" not in found
    accents = client.get("/files/?q=RECETTE").get_data(as_text=True)
    assert "Recette tarte.txt" in accents
    folder = client.get("/files/?folder=Cuisine").get_data(as_text=True)
    assert "Recette tarte.txt" in folder and "grand.bin" not in folder
    by_size = client.get("/files/?sort=size").get_data(as_text=True)
    assert by_size.index("grand.bin") < by_size.index("Compte rendu") < by_size.index("Recette")
    by_name = client.get("/files/?sort=name").get_data(as_text=True)
    assert by_name.index("Compte rendu") < by_name.index("grand.bin") < by_name.index("Recette")


def test_downloads_are_counted_once_per_phone_a_day_not_per_piece(client):
    upload(client, [("film.bin", b"0123456789" * 1000)])
    record = only_file()
    url = f"/files/{record.id}/film.bin"
    fetch(client, url)
    again = [fetch(client, url)[0].status_code for _ in range(5)]
    other_phone = {"environ_base": {"REMOTE_ADDR": "10.42.0.77"}}
    first_piece, _ = fetch(client, url, headers={"Range": "bytes=0-99"}, **other_phone)
    rest, body = fetch(client, url, headers={"Range": "bytes=100-"}, **other_phone)
    assert again == [200] * 5
    assert first_piece.status_code == rest.status_code == 206 and len(body) == 9900
    assert body == (b"0123456789" * 1000)[100:]
    assert logic.downloads_of(record.id) == 2
    listing = client.get("/files/?sort=downloads").get_data(as_text=True)
    assert "2 téléchargements" in listing


def test_nothing_chosen_is_a_clear_error(client):
    response = upload(client, [])
    assert response.status_code == 400
    assert "Choisissez au moins un fichier" in response.get_data(as_text=True)


def test_a_cross_site_upload_is_refused_and_nothing_kept(client, data_dir):
    fields = {"files": [FileStorage(io.BytesIO(b"x" * 1000), filename="a.txt")]}
    stream, length, boundary = stream_encode_multipart(fields, use_tempfile=False)
    response = client.post("/files/", input_stream=stream, content_length=length,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 403
    assert not leftovers(data_dir) and not blob_files(data_dir)


# --- private links, moderation, expiry ----------------------------------------------------

def test_the_uploader_deletes_with_the_private_link_from_another_phone(client, app, data_dir):
    upload(client, [("à supprimer.txt", b"bientot parti")])
    page = client.get("/files/uploaded").get_data(as_text=True)
    link = re.search(r"http://localhost(/files/manage/\w+\?token=[\w-]+)", page).group(1)
    record = only_file()
    stranger = app.test_client()
    assert stranger.get(f"/files/manage/{record.id}").status_code == 403
    token_page = stranger.post(f"/files/manage/{record.id}/delete",
                               data={"csrf_token": csrf_from(
                                   stranger.get("/files/").get_data(as_text=True))})
    assert token_page.status_code == 403
    other_phone = app.test_client()
    assert other_phone.get(link).status_code == 302
    manage = other_phone.get(f"/files/manage/{record.id}").get_data(as_text=True)
    response = other_phone.post(f"/files/manage/{record.id}/delete",
                                data={"csrf_token": csrf_from(manage), "confirm": "yes"})
    assert response.status_code == 302
    assert fetch(client, f"/files/{record.id}/x")[0].status_code == 404
    assert not blob_files(data_dir)  # the space is given back
    with db.connection_context():
        assert SharedFile.get_by_id(record.id).deleted
        assert PrivateKey.select().count() == 0
        assert Blob.select().count() == 0


def test_deleting_one_of_two_copies_keeps_the_content(client, data_dir):
    upload(client, [("a.txt", b"shared"), ("b.txt", b"shared")])
    with db.connection_context():
        first = SharedFile.get(SharedFile.name == "a.txt")
    manage = client.get(f"/files/manage/{first.id}").get_data(as_text=True)
    client.post(f"/files/manage/{first.id}/delete",
                data={"csrf_token": csrf_from(manage), "confirm": "yes"})
    assert len(blob_files(data_dir)) == 1


def test_the_mediator_hides_shows_marks_and_deletes_any_file(client, app, admin, data_dir):
    villager = app.test_client()
    upload(villager, [("tract.pdf", b"%PDF-1.4 tract")])
    record = only_file()

    def act(action):
        page = admin.get(f"/files/{record.id}").get_data(as_text=True)
        return admin.post(f"/admin/files/{record.id}/{action}",
                          data={"csrf_token": csrf_from(page)})

    assert act("hide").status_code == 302
    assert "tract.pdf" not in app.test_client().get("/files/").get_data(as_text=True)
    assert app.test_client().get(f"/files/{record.id}").status_code == 404
    assert admin.get(f"/files/{record.id}").status_code == 200
    act("show")
    act("network")
    assert only_file().network and not only_file().hidden
    page = admin.get(f"/files/{record.id}").get_data(as_text=True)
    admin.post(f"/files/manage/{record.id}/delete",
               data={"csrf_token": csrf_from(page), "confirm": "yes"})
    assert only_file().deleted and not blob_files(data_dir)


def test_moderation_needs_the_mediator(client):
    upload(client, [("a.txt", b"a")])
    record = only_file()
    page = client.get("/files/").get_data(as_text=True)
    response = client.post(f"/admin/files/{record.id}/hide", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302 and "/admin/" in response.headers["Location"]
    assert not only_file().hidden


def test_automatic_expiry_deletes_old_files(make_app, data_dir):
    app = make_app(FILES_EXPIRE_DAYS=7)
    client = app.test_client()
    upload(client, [("affiche.txt", b"fete")])
    record = only_file()
    assert record.expires_at == pytest.approx(record.created_at + 7 * 86400)
    with db.connection_context():
        later = Actor(box_id=app.extensions["box"].id, now=record.expires_at + 1,
                      blobs=BlobStore(data_dir))
        assert logic.expire_due(later) == 1
    assert only_file().deleted and not blob_files(data_dir)


def test_files_stay_by_default(client):
    upload(client, [("a.txt", b"a")])
    assert only_file().expires_at is None


def test_each_file_has_a_qr_code_opening_its_page(client):
    upload(client, [("plan.pdf", b"%PDF-1.4 plan")])
    record = only_file()
    page = client.get(f"/files/{record.id}").get_data(as_text=True)
    assert f"/qr/files/{record.id}.svg" in page
    # no address set: the code carries the one this phone used
    svg = client.get(f"/qr/files/{record.id}.svg", headers={"Host": "192.0.2.7:8080"}).get_data()
    assert decode_svg(svg) == [f"http://192.0.2.7:8080/files/{record.id}"]
    assert client.get("/qr/files/nothing.svg").status_code == 404


# --- limits -------------------------------------------------------------------------------

def test_uploads_per_phone_are_limited(make_app):
    client = make_app(FILES_PER_HOUR=2).test_client()
    assert upload(client, [("1.txt", b"1")]).status_code == 303
    assert upload(client, [("2.txt", b"2")]).status_code == 303
    response = upload(client, [("3.txt", b"3")])
    assert response.status_code == 429 and "Retry-After" in response.headers
    assert "beaucoup de fichiers" in response.get_data(as_text=True)


def test_a_file_over_the_limit_is_refused_and_nothing_kept(make_app, data_dir):
    client = make_app(FILES_MAX_MB=1).test_client()
    response = upload(client, [("small.txt", b"ok"), ("big.bin", b"x" * (MB + 10))])
    assert response.status_code == 413
    assert not leftovers(data_dir) and not blob_files(data_dir)
    with db.connection_context():
        assert SharedFile.select().count() == 0


def free_mb(path):
    return shutil.disk_usage(path).free // MB


def test_an_upload_that_would_break_the_reserve_is_refused_before_writing(make_app, data_dir):
    client = make_app(FILES_RESERVE_PERCENT=0,
                      FILES_RESERVE_MB=free_mb(data_dir.path) - 1).test_client()
    # 24 MB needs 48 above the reserve: the disk, shared with whatever else runs, would
    # have to gain 47 MB between the two lines for this upload to fit
    response = upload(client, [("film.bin", b"x" * (24 * MB))])
    assert response.status_code == 507
    assert "presque pleine" in response.get_data(as_text=True)
    assert not leftovers(data_dir) and not blob_files(data_dir)


class FillingBody(io.BytesIO):
    """A request body that fills the disk once `after` bytes have been read: what happens
    when another upload or a log takes the last free space while this one streams."""

    def __init__(self, data, after, fill):
        super().__init__(data)
        self.after, self.fill = after, fill
        self.filled = False

    def read(self, size=-1):
        if not self.filled and self.tell() >= self.after:
            self.filled = True
            self.fill()
        return super().read(64 * 1024 if size is None or size < 0 else min(size, 64 * 1024))

    def readinto(self, buffer):
        chunk = self.read(len(buffer))
        buffer[:len(chunk)] = chunk
        return len(chunk)


def post_filling(client, size, fill):
    token = csrf_from(client.get("/files/").get_data(as_text=True))
    fields = {"csrf_token": token, "files": [FileStorage(io.BytesIO(b"z" * size),
                                                         filename="gros.bin")]}
    stream, length, boundary = stream_encode_multipart(fields, use_tempfile=False)
    body = FillingBody(stream.read(), after=size // 4, fill=fill)
    return client.post("/files/", input_stream=body, content_length=length,
                       content_type=f"multipart/form-data; boundary={boundary}"), body


def assert_aborted_cleanly(response, body, data_dir):
    assert body.filled, "the disk never filled during the upload"
    assert response.status_code == 507
    assert "presque pleine" in response.get_data(as_text=True)
    assert not leftovers(data_dir) and not blob_files(data_dir)
    with db.connection_context():
        assert SharedFile.select().count() == 0
        assert db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_the_reserve_filling_during_an_upload_aborts_it_cleanly(make_app, data_dir):
    app = make_app(FILES_RESERVE_PERCENT=0, FILES_RESERVE_MB=0)

    def someone_else_fills_the_disk():
        # well above what is free: other programs on the disk may free some meanwhile
        app.config["FILES_RESERVE_MB"] = free_mb(data_dir.path) + 200

    response, body = post_filling(app.test_client(), 24 * MB, someone_else_fills_the_disk)
    assert_aborted_cleanly(response, body, data_dir)


def test_a_real_disk_filling_during_an_upload_aborts_it_cleanly(tmp_path):
    """On a real 48 MB filesystem (the reserve test above covers the same path where
    nothing can be mounted)."""
    from app import create_app
    from piratebox import box
    from piratebox.storage import DataDir
    from tests.conftest import TEST_CONFIG

    with small_filesystem(tmp_path / "small", "48m") as small:
        data_dir = DataDir(small / "data")
        box.create(data_dir, role="box", name="Petit")
        app = create_app({"DATA_DIR": str(data_dir.path), **TEST_CONFIG,
                          "FILES_RESERVE_PERCENT": 0, "FILES_RESERVE_MB": 0})
        filler = small / "filler"

        def another_writer_takes_the_space():
            filler.write_bytes(b"\0" * ((free_mb(small) - 2) * MB))

        response, body = post_filling(app.test_client(), 24 * MB,
                                      another_writer_takes_the_space)
        assert_aborted_cleanly(response, body, data_dir)
        filler.unlink()
        assert upload(app.test_client(), [("après.txt", b"de nouveau")]).status_code == 303


def test_the_file_shares_list_count_and_folders_are_read_from_their_index_alone(app):
    values = {"now": 0, "folder": None, "offset": 0}
    for query, shape in ((logic.COUNT, (0, False)), (logic.PAGE, ("date", 0, False)),
                         (logic.FOLDERS, ())):
        plan = plan_of(query, shape, values)
        assert "USING COVERING INDEX shared_file_listing" in plan, (shape, plan)
    assert "TEMP B-TREE" not in plan_of(logic.PAGE, ("date", 0, False), values)
