"""Every QR code the box makes is read back by a real decoder (zxing-cpp)."""

import io
import re
import time
from pathlib import Path

import pytest
import zxingcpp  # a real QR decoder
from PIL import Image

from models import Item, db
from piratebox.printing import qr
from tests.conftest import post_from_page

SSIDS = ["CoCoTe", 'Café; "le" bar:1,2\\', "Mairie de Saint-Bonnet-le-Château",
         ";;::,,\"\"\\\\", "l'épicerie ☕", " espaces "]


@pytest.fixture
def app(make_app):
    """A box whose address is set, as a deployed one is (see test_public_address_* for
    one without)."""
    return make_app(SITE_URL="http://boite.lan")


def decode(image):
    found = zxingcpp.read_barcodes(image.convert("L"))
    return sorted(result.text for result in found)


def decode_png(data):
    return decode(Image.open(io.BytesIO(data)))


def decode_svg(data, width=600):
    """Render the SVG with cairo, an independent renderer, then decode the picture."""
    try:
        import cairosvg
    except (ImportError, OSError) as error:  # cairocffi raises OSError without libcairo2
        pytest.skip(f"SVG codes not checked: cairo is missing ({error}); "
                    "install Debian's libcairo2")
    return decode_png(cairosvg.svg2png(bytestring=data, output_width=width))


def parse_wifi(payload):
    """An independent reader of the WIFI: format (unescapes \\ ; , : ")."""
    assert payload.startswith("WIFI:") and payload.endswith(";;")
    fields, key, value, escaped = {}, "", "", False
    body = payload[5:-1]
    reading_key = True
    for char in body:
        if escaped:
            value += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif reading_key and char == ":":
            key, reading_key = value, False
            value = ""
        elif char == ";":
            fields[key] = value
            key, value, reading_key = "", "", True
        else:
            value += char
    return fields


@pytest.mark.parametrize("ssid", SSIDS)
@pytest.mark.parametrize("password", ["", "mot;de:passe,\"8\\"])
def test_the_wifi_code_joins_exactly_the_named_network(ssid, password):
    payload = qr.wifi_payload(ssid, password)
    [decoded] = decode_png(qr.png(payload))
    assert decoded == payload
    fields = parse_wifi(decoded)
    assert fields["S"] == ssid
    assert fields["T"] == ("WPA" if password else "nopass")
    assert fields.get("P", "") == password


@pytest.mark.parametrize("payload", ["http://boite.lan/", qr.wifi_payload(SSIDS[1], "x" * 63)])
def test_svg_codes_read_back_after_rendering(payload):
    assert decode_svg(qr.svg(payload)) == [payload]


def configure(admin, **settings):
    values = {"box_name": "Saint-Bonnet", "wifi_ssid": "CoCoTe", "wifi_password": "",
              "site_url": "http://boite.lan", "welcome_text": "", **settings}
    return post_from_page(admin, "/admin/settings", "/admin/settings", values)


def test_the_site_and_wifi_codes_follow_the_mediators_settings(admin, client):
    response = configure(admin, wifi_ssid='Café "du; coin"', wifi_password="bienvenue!",
                         site_url="http://cocote.lan")
    assert response.status_code == 302
    wifi = client.get("/qr/wifi.png")
    assert wifi.mimetype == "image/png"
    assert decode_png(wifi.data) == [qr.wifi_payload('Café "du; coin"', "bienvenue!")]
    assert decode_svg(client.get("/qr/site.svg").data) == ["http://cocote.lan/"]
    assert decode_png(client.get("/qr/site.png").data) == ["http://cocote.lan/"]
    assert decode_svg(client.get("/qr/wifi.svg").data) == [
        qr.wifi_payload('Café "du; coin"', "bienvenue!")]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("site_url", "boite", "http://boite.lan"),
    ("site_url", "https://boite.lan", "http://boite.lan"),
    ("site_url", "http://boite.lan/page?x", "http://boite.lan"),
    ("wifi_password", "court", "8 à 63 caractères"),
    ("wifi_ssid", "é" * 17, "32 caractères"),
    ("box_name", "", "nom du village"),
])
def test_bad_settings_are_refused_beside_the_field(admin, app, field, value, message):
    response = configure(admin, **{field: value})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert app.extensions["box"].site["site_url"] == "http://boite.lan"


def test_the_portal_follows_a_new_address(admin, client):
    configure(admin, site_url="http://cocote.lan")
    response = client.get("/generate_204", headers={"Host": "clients3.google.com"})
    assert response.headers["Location"] == "http://cocote.lan/"


def test_settings_need_the_mediator(client):
    assert client.get("/admin/settings").status_code == 302


def pdf_pages(data):
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    pages = []
    for page in reader.pages:
        [embedded] = page.images
        pages.append((page.mediabox, embedded.image))
    return pages


def fetch(client, url, **kwargs):
    """A response read whole and closed (a file the server streams stays open otherwise)."""
    response = client.get(url, **kwargs)
    response.get_data()  # buffered, so closing leaves the body readable
    response.close()
    return response


def poster(client, **kwargs):
    """The poster PDF, as a phone gets it: "being prepared" until the box has drawn it in
    the background, then the file."""
    deadline = time.monotonic() + 120
    while True:
        response = fetch(client, "/print/poster.pdf", **kwargs)
        if response.status_code != 202 or time.monotonic() > deadline:
            return response
        assert "en préparation" in response.get_data(as_text=True) \
            or "being prepared" in response.get_data(as_text=True)
        time.sleep(0.05)


def test_the_poster_pdf_is_a4_at_print_resolution_and_holds_both_codes(admin, client):
    configure(admin, wifi_ssid="Wifi; de la mairie", wifi_password="motdepasse")
    response = poster(client)
    assert response.mimetype == "application/pdf"
    [(box, image)] = pdf_pages(response.data)
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points
    assert image.size == (2480, 3508)  # 300 dpi
    assert decode(image) == sorted([qr.wifi_payload("Wifi; de la mairie", "motdepasse"),
                                    "http://boite.lan/"])


def test_the_poster_is_drawn_once_per_settings_and_served_from_the_data_directory(
        admin, client, app):
    printed = app.extensions["box"].data_dir.printed
    first = poster(client).data
    [drawn] = printed.glob("poster-fr-*.pdf")
    when = drawn.stat().st_mtime_ns
    assert poster(client).data == first
    assert drawn.stat().st_mtime_ns == when  # served again, not drawn again

    configure(admin, wifi_ssid="Nouveau wifi")
    [(_box, image)] = pdf_pages(poster(client).data)
    assert qr.wifi_payload("Nouveau wifi") in decode(image)
    [redrawn] = printed.glob("poster-*.pdf")  # the old settings' poster is gone
    assert redrawn != drawn

    english = poster(client, headers={"Accept-Language": "en"})
    assert english.data != first and len(list(printed.glob("poster-en-*.pdf"))) == 1


def test_the_poster_page_prints_from_a_browser(client):
    html = client.get("/print/poster").get_data(as_text=True)
    assert "/qr/wifi.svg" in html and "/qr/address.svg" in html and "boite.lan" in html
    assert "Rejoindre le wifi" in html


def test_print_poster_from_the_command_line(runner, data_dir, tmp_path):
    import app as application

    out = tmp_path / "affiche.pdf"
    result = runner.invoke(application.cli, ["--data", str(data_dir.path), "print", "poster",
                                             "--out", str(out)])
    assert result.exit_code == 0, result.output
    [(_box, image)] = pdf_pages(out.read_bytes())
    assert "http://boite.lan/" in decode(image)


def add_box_items(count):
    from flask import current_app

    from piratebox.blobs import BlobStore
    from piratebox.box import Actor
    from piratebox.catalogue import logic

    with db.connection_context():
        actor = Actor(current_app.extensions["box"].id, 1_767_225_600.0,
                      BlobStore(current_app.extensions["box"].data_dir))
        for number in range(count):
            logic.create({"kind": "offer", "mode": "give", "place": "box",
                          "category": "books", "title": f"Livre numéro {number}"}, [], actor)
        return [item.id for item in Item.select().order_by(Item.created_at)]


def test_labels_for_the_box_are_read_back_page_by_page(runner, make_app, tmp_path):
    import app as application

    app = make_app()
    with app.app_context():
        ids = add_box_items(26)  # more than one sheet of 24
    out = tmp_path / "labels.pdf"
    data_dir = app.extensions["box"].data_dir.path
    result = runner.invoke(application.cli, ["--data", str(data_dir), "print", "labels",
                                             "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "26 étiquettes sur 2 pages" in result.output
    pages = pdf_pages(out.read_bytes())
    found = decode(pages[0][1]) + decode(pages[1][1])
    assert sorted(found) == sorted(f"http://boite.lan/items/{i}" for i in ids)


def test_labels_chosen_in_the_admin_area(admin, app):
    with app.app_context():
        ids = add_box_items(3)
    page = admin.get("/admin/labels").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = admin.post("/admin/labels", data={"csrf_token": token, "item": ids[:2]})
    assert response.mimetype == "application/pdf"
    [(_box, image)] = pdf_pages(response.data)
    assert decode(image) == sorted(f"http://boite.lan/items/{i}" for i in ids[:2])


def test_no_object_means_a_clear_error(runner, data_dir, tmp_path):
    import app as application

    result = runner.invoke(application.cli, ["--data", str(data_dir.path), "print", "labels",
                                             "--out", str(tmp_path / "x.pdf")])
    assert result.exit_code == 1 and "Aucun objet à étiqueter" in result.output


def test_an_item_code_opens_its_page(client, app):
    with app.app_context():
        [item_id] = add_box_items(1)
    assert decode_svg(client.get(f"/qr/items/{item_id}.svg").data) == [
        f"http://boite.lan/items/{item_id}"]


def memory_kb(pid):
    """The process's resident memory now and its peak since it started (kB)."""
    status = dict(line.split(":", 1) for line in
                  Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(status["VmRSS"].split()[0]), int(status["VmHWM"].split()[0])


def test_the_server_memory_stays_flat_while_the_poster_is_drawn(data_dir):
    """A 300 dpi page is ~9 MB and Pillow holds a few: drawn in the server, a few poster
    requests at once would push a 128 MB router over. Measured on the real server."""
    import urllib.request

    from tests.server import Server

    with Server(data_dir.path) as server:
        for warm_up in ("/", "/print/poster", "/items/"):
            urllib.request.urlopen(server.base + warm_up).read()
        _rss, peak_before = memory_kb(server.process.pid)
        for _attempt in range(2400):  # "being prepared" while the box draws it, then the file
            with urllib.request.urlopen(server.base + "/print/poster.pdf") as response:
                if response.status == 200:
                    [(_box, image)] = pdf_pages(response.read())
                    break
                assert response.status == 202
            time.sleep(0.05)
        rss_after, peak_after = memory_kb(server.process.pid)
    assert "http://boite.lan/" in decode(image)
    assert peak_after - peak_before < 10 * 1024, (peak_before, peak_after, rss_after)


def test_public_address_is_the_one_the_phone_used_when_none_is_set(make_app):
    client = make_app(PAGE_CACHE_SECONDS=30).test_client()
    site = client.get("/qr/site.svg", headers={"Host": "192.0.2.7:8080"}).get_data()
    assert decode_svg(site) == ["http://192.0.2.7:8080/"]
    # a Host that is no plain name never reaches a link: the hotspot's default name does
    odd = client.get("/qr/site.svg", headers={"Host": "192.0.2.7:80@evil"}).get_data()
    assert decode_svg(odd) == ["http://boite.lan/"]


def test_a_forged_host_poisons_neither_cached_pages_nor_the_poster(make_app):
    app = make_app(PAGE_CACHE_SECONDS=30)
    sign_in = {"User-Agent": "Mozilla/5.0 (Linux; Android 13; wv) AppleWebKit/537.36"}
    forger, villager = app.test_client(), app.test_client()
    forged = forger.get("/items/new", headers={"Host": "203.0.113.9", **sign_in})
    assert "203.0.113.9/items/new" in forged.get_data(as_text=True)  # the forger's own page
    page = villager.get("/items/new", headers={"Host": "192.0.2.7:8080", **sign_in})
    html = page.get_data(as_text=True)
    assert "192.0.2.7:8080/items/new" in html and "203.0.113.9" not in html
    # paper is printed for everyone: it carries the hotspot's name, never a Host
    printed = poster(forger, headers={"Host": "203.0.113.9"})
    [(_box, image)] = pdf_pages(printed.data)
    assert "http://boite.lan/" in decode(image)
    assert "boite.lan" in forger.get("/print/poster", headers={"Host": "203.0.113.9"}).get_data(
        as_text=True)
