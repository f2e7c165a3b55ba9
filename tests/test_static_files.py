"""The style sheet and scripts: named after their content, kept a year by phones, sent
compressed to those that accept it, never a way out of the static folder."""

import gzip
import http.client
import re
from pathlib import Path

import pytest

from tests.server import ROOT, Server

STATIC = ROOT / "static"


def linked(client, page, name):
    stem = name.split(".")[0]
    html = client.get(page).get_data(as_text=True)
    found = re.search(rf'"(/static/{stem}\.[0-9a-f]+\.\w+)"', html)
    assert found, f"{page} links no versioned {name}"
    return found.group(1)


def test_pages_link_static_files_by_a_name_that_follows_their_content(client):
    url = linked(client, "/", "style.css")
    response = client.get(url)
    assert response.status_code == 200
    assert response.get_data() == (STATIC / "style.css").read_bytes()
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert linked(client, "/files/", "files.js").endswith(".js")


def test_a_changed_file_gets_a_new_name_and_the_old_one_is_no_longer_kept(make_app, tmp_path):
    app = make_app()
    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "style.css").write_text("body { color: black }")
    app.extensions["assets"].folder = str(folder)
    client = app.test_client()
    first = linked(client, "/", "style.css")
    (folder / "style.css").write_text("body { color: darkgreen }")
    app.extensions["page_cache"].changed()
    second = linked(client, "/", "style.css")
    assert first != second
    assert client.get(second).get_data() == b"body { color: darkgreen }"
    old = client.get(first)
    assert old.headers["Cache-Control"] == "no-cache", "never kept a year under an old name"


def test_text_files_are_sent_compressed_to_phones_that_accept_gzip(client):
    url = linked(client, "/", "style.css")
    packed = client.get(url, headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.get_data()) == (STATIC / "style.css").read_bytes()
    assert len(packed.get_data()) < len((STATIC / "style.css").read_bytes()) / 2
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["ETag"] != plain.headers["ETag"]


def test_a_phone_that_has_the_file_gets_a_304(client):
    url = linked(client, "/", "favicon.svg")
    etag = client.get(url).headers["ETag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""


def test_the_plain_name_still_answers_and_is_revalidated(client):
    response = client.get("/static/style.css")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("path", ["/static/../app.py", "/static/%2e%2e/models.py",
                                  "/static/..%2fapp.py",
                                  "/static/nothing.css", "/static/style.0123456789.css.bak"])
def test_nothing_outside_the_static_folder_is_served(client, path):
    assert client.get(path).status_code == 404


@pytest.mark.slow
def test_the_real_server_sends_the_compressed_style_sheet(data_dir):
    with Server(data_dir.path) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", "/")
        page = connection.getresponse().read().decode()
        url = re.search(r'"(/static/style\.[0-9a-f]+\.css)"', page).group(1)
        connection.request("GET", url, headers={"Accept-Encoding": "gzip"})
        response = connection.getresponse()
        body = response.read()
        connection.close()
    assert response.getheader("Content-Encoding") == "gzip"
    assert gzip.decompress(body) == Path(STATIC / "style.css").read_bytes()
