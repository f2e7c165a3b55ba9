import hashlib
import io
import json
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import FileStorage
from werkzeug.test import stream_encode_multipart

from models import Blob, Exchange, Item, PrivateKey, db, fold
from tests.conftest import csrf_from, phone_seen_before, plan_of
from tests.images import exif_of, jpeg, png_header_only

DAY = 24 * 3600


def token_of(client, page="/items/new"):
    return csrf_from(client.get(page).get_data(as_text=True))


def offer(client, photos=(), **fields):
    data = {"csrf_token": token_of(client), "kind": "offer", "mode": "give",
            "title": "Étagère en pin", "category": "furniture_small", "place": "home",
            "description": "Quatre planches", **fields}
    data["photos"] = [FileStorage(io.BytesIO(content), filename=name) for name, content in photos]
    # Encoded in memory: Werkzeug's test client would spool a large body to a temporary
    # file it never closes.
    stream, length, boundary = stream_encode_multipart(data, use_tempfile=False)
    return client.post("/items/new", input_stream=stream, content_length=length,
                       content_type=f"multipart/form-data; boundary={boundary}")


def only_item():
    with db.connection_context():
        return Item.get()


def exchanges(item_id):
    with db.connection_context():
        return [(e.action, e.avoided_purchase) for e in
                Exchange.select().where(Exchange.item_id == item_id).order_by(Exchange.seq)]


def fetch(client, url, **kwargs):
    """GET and close: a file response holds its file open until closed."""
    response = client.get(url, **kwargs)
    response.get_data()
    response.close()
    return response


def post(client, url, page, **data):
    return client.post(url, data={"csrf_token": token_of(client, page), **data})


def test_an_offer_is_published_and_its_owner_gets_a_manage_page(client):
    response = offer(client)
    assert response.status_code == 302
    item = only_item()
    assert response.headers["Location"].endswith(f"/items/{item.id}/manage")
    page = client.get(f"/items/{item.id}/manage").get_data(as_text=True)
    assert "Votre lien privé" in page and "?token=" in page
    assert item.status == "available" and item.origin and item.version > 0
    assert item.expires_at == pytest.approx(item.created_at + 30 * DAY)
    assert exchanges(item.id) == [("offered", None)]


def test_a_photo_with_gps_is_served_without_any_metadata(client, app):
    original = jpeg(2000, 1500, gps=True, comment=b"secret comment")
    assert exif_of(original)[0].get(0x8825)  # the upload really carries a GPS position
    offer(client, photos=[("IMG_0001.jpg", original)])
    item = only_item()
    [photo] = item.photo_list()
    full = fetch(client, f"/photos/{photo['full']}.jpg")
    thumb = fetch(client, f"/photos/{photo['thumb']}.jpg")
    for response, longest in ((full, 1280), (thumb, 320)):
        assert response.status_code == 200
        assert response.mimetype == "image/jpeg"
        exif, info, size = exif_of(response.data)
        assert exif == {}
        assert "exif" not in info and "comment" not in info
        assert max(size) == longest
        assert b"Exif" not in response.data and b"secret comment" not in response.data
    with db.connection_context():
        assert Blob.get_or_none(Blob.hash == hashlib.sha256(original).hexdigest()) is None


def test_the_exif_orientation_is_applied(client):
    # orientation 6: the camera was turned; the upright picture is taller than wide
    offer(client, photos=[("p.jpg", jpeg(400, 200, orientation=6))])
    photo = only_item().photo_list()[0]
    _exif, _info, size = exif_of(fetch(client, f"/photos/{photo['full']}.jpg").data)
    assert size == (200, 400)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("bomb.png", png_header_only(30000, 30000), "n’est pas une photo"),
    ("big.png", png_header_only(5000, 5000), "beaucoup trop de pixels"),
    ("notes.jpg", b"<html><script>alert(1)</script></html>", "n’est pas une photo"),
    ("cut.jpg", jpeg()[:600], "abîmée ou incomplète"),
    ("huge.jpg", b"\xff\xd8" + b"0" * (10 * 1024 * 1024 + 10), "dépasse 10 Mo"),
])
def test_a_bad_photo_is_refused_and_nothing_is_saved(client, app, name, content, message):
    response = offer(client, photos=[("good.jpg", jpeg()), (name, content)],
                     title="Mon vélo")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html
    assert 'value="Mon vélo"' in html  # what the person typed is kept
    with db.connection_context():
        assert Item.select().count() == 0
        assert Blob.select().count() == 0
    assert not any(p.is_file() for p in app.extensions["box"].data_dir.blobs.rglob("*"))


@pytest.mark.parametrize(("fields", "field_error"), [
    ({"title": "ab"}, "Donnez un titre d’au moins 3 caractères."),
    ({"category": "weapons"}, "Choisissez une des options."),
    ({"mode": "sell"}, "Choisissez une des options."),
    ({"title": "x" * 121}, "Trop long : 120 caractères au plus."),
])
def test_bad_fields_are_shown_in_french_beside_the_field_with_the_typing_kept(client, fields,
                                                                            field_error):
    response = offer(client, description="Ma description à garder", **fields)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert field_error in html
    assert "Ma description à garder" in html
    with db.connection_context():
        assert Item.select().count() == 0


def edit_photos(client, item, keep, photos=()):
    page = f"/items/{item.id}/manage"
    data = {"csrf_token": token_of(client, page), "kind": "offer", "mode": "give",
            "title": item.title, "category": item.category, "place": "home", "keep": keep,
            "photos": [FileStorage(io.BytesIO(content), filename=name) for name, content in photos]}
    stream, length, boundary = stream_encode_multipart(data, use_tempfile=False)
    return client.post(f"{page}/edit", input_stream=stream, content_length=length,
                       content_type=f"multipart/form-data; boundary={boundary}")


def test_the_owner_keeps_adds_and_removes_photos_each_on_purpose(client):
    offer(client, photos=[("a.jpg", jpeg(color=(200, 0, 0))), ("b.jpg", jpeg(color=(0, 0, 200)))])
    item = only_item()
    first, second = item.photo_list()
    page = client.get(f"/items/{item.id}/manage").get_data(as_text=True)
    assert "Décochez une photo pour la retirer" in page
    assert page.count('name="keep"') == 2 and page.count(" checked> <img") == 2

    assert edit_photos(client, item, [first["full"], second["full"]],
                       [("c.jpg", jpeg(color=(0, 200, 0)))]).status_code == 302
    photos = only_item().photo_list()
    assert photos[:2] == [first, second] and len(photos) == 3  # added, none replaced

    response = edit_photos(client, only_item(), [p["full"] for p in photos],
                           [("d.jpg", jpeg())])
    assert response.status_code == 400 and "décochez-en une" in response.get_data(as_text=True)
    assert only_item().photo_list() == photos

    assert edit_photos(client, only_item(), [photos[2]["full"]]).status_code == 302
    assert only_item().photo_list() == [photos[2]]  # only what was left ticked
    gone = client.get(f"/photos/{first['full']}.jpg")
    assert gone.status_code == 404


def test_the_two_tap_deposit_needs_only_a_photo_and_a_category(client):
    response = client.post("/items/deposit", data={
        "csrf_token": token_of(client, "/items/deposit"), "category": "books",
        "photos": [(io.BytesIO(jpeg()), "photo.jpg")]}, content_type="multipart/form-data")
    assert response.status_code == 302
    item = only_item()
    assert (item.place, item.mode, item.title) == ("box", "give", "Livres, musique, films")
    assert item.expires_at is None and len(item.photo_list()) == 1
    assert exchanges(item.id) == [("deposited", None)]


def test_anyone_takes_an_object_from_the_box_and_answers_the_question(client):
    offer(client, place="box")
    item = only_item()
    other = client.application.test_client()
    response = post(other, f"/items/{item.id}/take", f"/items/{item.id}",
                    avoided_purchase="yes")
    assert response.status_code == 302
    assert only_item().status == "taken"
    assert exchanges(item.id)[-1] == ("taken", True)
    again = post(other, f"/items/{item.id}/take", f"/items/{item.id}")
    assert again.status_code == 409


def test_reserve_then_the_owner_marks_it_given_with_the_takers_answer(client):
    offer(client)
    item = only_item()
    visitor = client.application.test_client()
    response = post(visitor, f"/items/{item.id}/reserve", f"/items/{item.id}",
                    pseudonym="Marie", reserved_message="Samedi ?", avoided_purchase="no")
    assert response.status_code == 302
    assert (only_item().status, only_item().reserved_by) == ("reserved", "Marie")
    post(client, f"/items/{item.id}/manage/give", f"/items/{item.id}/manage")
    assert only_item().status == "given"
    assert exchanges(item.id)[-1] == ("given", False)


def test_the_answer_given_when_reserving_counts_once_when_the_object_is_lent(client):
    offer(client, mode="lend", category="tools", title="Perceuse")
    item = only_item()
    neighbour = client.application.test_client()
    post(neighbour, f"/items/{item.id}/reserve", f"/items/{item.id}", pseudonym="Martine",
         avoided_purchase="yes")
    assert post(client, f"/items/{item.id}/manage/lend", f"/items/{item.id}/manage",
                lent_to="Famille Roux", lent_until="2030-01-31").status_code == 302
    post(client, f"/items/{item.id}/manage/return", f"/items/{item.id}/manage")
    with db.connection_context():  # the loan and its return were days ago
        Exchange.update(happened_at=Exchange.happened_at - 3 * 86400).where(
            Exchange.item_id == item.id).execute()
    post(client, f"/items/{item.id}/manage/lend", f"/items/{item.id}/manage",
         lent_to="Paul", lent_until="2030-02-28")  # lent again, nobody asked this time
    assert [row for row in exchanges(item.id) if row[0] == "lent"] == [
        ("lent", True), ("lent", None)]
    body = client.get("/api/v1/stats").get_json()
    assert (body["lent"], body["answered"], body["purchases_avoided"]) == (2, 1, 1)


def test_a_reservation_needs_a_name(client):
    offer(client)
    item = only_item()
    visitor = client.application.test_client()
    response = post(visitor, f"/items/{item.id}/reserve", f"/items/{item.id}", pseudonym=" ")
    assert response.status_code == 400
    assert "nom ou un pseudo" in response.get_data(as_text=True)
    assert only_item().status == "available"


def test_lend_and_return(client):
    offer(client, mode="lend", title="Perceuse")
    item = only_item()
    manage = f"/items/{item.id}/manage"
    post(client, f"{manage}/lend", manage, lent_to="Paul", lent_until="2026-12-24")
    assert (only_item().status, only_item().lent_until) == ("lent", "2026-12-24")
    post(client, f"{manage}/return", manage)
    assert only_item().status == "available"
    assert [a for a, _ in exchanges(item.id)] == ["offered", "lent", "returned"]


def test_a_wrong_manage_token_is_refused_and_changes_nothing(client):
    offer(client)
    item = only_item()
    stranger = client.application.test_client()
    assert stranger.get(f"/items/{item.id}/manage?token=guess").status_code == 403
    assert stranger.get(f"/items/{item.id}/manage").status_code == 403
    response = post(stranger, f"/items/{item.id}/manage/delete", f"/items/{item.id}",
                    token="guess", confirm="yes")
    assert response.status_code == 403
    assert not only_item().deleted


def test_the_manage_link_works_on_another_phone_and_the_token_is_stored_hashed(client, app):
    offer(client)
    item = only_item()
    page = client.get(f"/items/{item.id}/manage").get_data(as_text=True)
    token = page.split("?token=")[1].split("<")[0]
    other_phone = app.test_client()
    response = other_phone.get(f"/items/{item.id}/manage?token={token}")
    assert response.status_code == 302  # moved into the cookie, out of the address bar
    assert other_phone.get(f"/items/{item.id}/manage").status_code == 200
    with db.connection_context():
        assert PrivateKey.get(record_id=item.id, holder="owner").token_hash == hashlib.sha256(
            token.encode()).hexdigest()
    database = app.extensions["box"].data_dir.database.read_bytes()
    assert token.encode() not in database


def test_the_manage_qr_code_is_for_the_owner_only(client, app):
    offer(client)
    item = only_item()
    response = client.get(f"/items/{item.id}/manage/qr.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert b"<svg" in response.data
    assert app.test_client().get(f"/items/{item.id}/manage/qr.svg").status_code == 403


@pytest.mark.parametrize("query", ["etagere", "ÉTAGÈRE", "étagère pin", "PLANCHES"])
def test_search_ignores_case_and_accents(client, query):
    offer(client)
    offer(client, title="Vélo rouge", description="")
    html = client.get("/items/", query_string={"q": query}).get_data(as_text=True)
    assert "Étagère en pin" in html and "Vélo rouge" not in html


def test_filters_and_pagination(make_app):
    client = make_app(POSTS_PER_HOUR=100).test_client()
    for number in range(23):
        offer(client, title=f"Livre {number:02d}", category="books")
    offer(client, title="Tondeuse", category="garden")
    first = client.get("/items/?category=books").get_data(as_text=True)
    assert "23 objets" in first and "Livre 22" in first and "Tondeuse" not in first
    second = client.get("/items/?category=books&page=2").get_data(as_text=True)
    assert "Livre 02" in second and "Livre 22" not in second


def test_objects_at_home_expire_after_30_days_unless_renewed(client, app):
    offer(client, title="Parapluie")
    offer(client, title="Dans la boîte", place="box")
    clock = app.extensions["box"].clock
    clock.correct(clock.now() + 31 * DAY, "admin")
    html = client.get("/items/").get_data(as_text=True)
    assert "Parapluie" not in html and "Dans la boîte" in html
    with db.connection_context():
        umbrella = Item.get(Item.title == "Parapluie")
    assert umbrella.status == "expired"
    assert exchanges(umbrella.id)[-1] == ("expired", None)
    manage = f"/items/{umbrella.id}/manage"
    post(client, f"{manage}/renew", manage)
    assert "Parapluie" in client.get("/items/").get_data(as_text=True)


def test_reports_from_phones_the_box_has_just_met_wait_for_the_mediator(client, admin, app):
    offer(client, title="Vélo de Jeanne")
    item = only_item()
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"):
        visitor = app.test_client()  # a new cookie each, as a private tab has
        visitor.environ_base["REMOTE_ADDR"] = address
        post(visitor, f"/items/{item.id}/report", f"/items/{item.id}", reason="à cacher")
    assert not only_item().hidden
    reports = admin.get("/admin/reports").get_data(as_text=True)
    assert "Vélo de Jeanne" in reports and "signalé par 4 téléphones" in reports


def test_three_reports_hide_an_object_until_the_mediator_reviews_it(client, admin, app):
    offer(client, title="Annonce douteuse")
    item = only_item()
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        post(phone_seen_before(app, address), f"/items/{item.id}/report", f"/items/{item.id}",
             reason="arnaque")
    assert only_item().hidden
    assert app.test_client().get(f"/items/{item.id}").status_code == 404
    assert "Annonce douteuse" not in client.get("/items/").get_data(as_text=True)
    reports = admin.get("/admin/reports").get_data(as_text=True)
    assert "Annonce douteuse" in reports and "signalé par 3 téléphones" in reports
    post(admin, f"/admin/items/{item.id}/moderate", "/admin/", decision="show")
    assert not only_item().hidden
    assert "Annonce douteuse" not in admin.get("/admin/reports").get_data(as_text=True)
    post(admin, f"/admin/items/{item.id}/moderate", "/admin/", decision="delete")
    assert only_item().deleted  # a tombstone, not a hard delete
    assert app.test_client().get(f"/items/{item.id}").status_code == 404


def test_moderation_needs_the_mediator(client):
    offer(client)
    item = only_item()
    response = post(client, f"/admin/items/{item.id}/moderate", "/items/new",
                    decision="delete")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/")
    assert not only_item().deleted


def test_posting_is_rate_limited_per_address(make_app):
    client = make_app(POSTS_PER_HOUR=2).test_client()
    assert offer(client).status_code == 302
    assert offer(client).status_code == 302
    response = offer(client)
    assert response.status_code == 429
    assert "beaucoup publié" in response.get_data(as_text=True)


def test_a_request_is_answered_by_a_linked_offer_and_fulfilled(client, app):
    client.post("/items/new", data={
        "csrf_token": token_of(client), "kind": "request", "mode": "give",
        "title": "Vélo enfant", "category": "bikes", "place": "home"})
    with db.connection_context():
        wanted = Item.get(Item.kind == "request")
    page = client.get(f"/items/{wanted.id}").get_data(as_text=True)
    # a request reads as a request, never as an offer at someone's home
    assert "Toujours recherché" in page and "Disponible" not in page
    assert "À la maison" not in page and "J’en ai un !" not in page  # not to its author
    neighbour = app.test_client()
    assert "J’en ai un !" in neighbour.get(f"/items/{wanted.id}").get_data(as_text=True)
    form = neighbour.get(f"/items/new?answers={wanted.id}").get_data(as_text=True)
    # the offer gets its own title: the request's is quoted, not copied into the field
    assert "Vélo enfant" in form and 'value="Vélo enfant"' not in form
    assert '<option value="bikes" selected>' in form
    offer(neighbour, title="Vélo 16 pouces", category="bikes", answers=wanted.id)
    assert "Vélo 16 pouces" in client.get(f"/items/{wanted.id}").get_data(as_text=True)
    post(client, f"/items/{wanted.id}/manage/fulfil", f"/items/{wanted.id}/manage")
    assert exchanges(wanted.id) == [("requested", None), ("fulfilled", None)]


def test_a_requests_answers_are_found_by_their_index_not_by_reading_the_catalogue(app):
    from piratebox.catalogue import logic

    plan = plan_of(logic.ANSWERS, (Item.id_and_version(),), {"request": "r" * 26})
    assert "USING INDEX item_answers_listed (answers=?" in plan


@pytest.mark.parametrize("filters", [{}, {"category": "furniture"}, {"kind": "request"},
                                     {"q": "chêne"}])
def test_the_catalogue_is_counted_from_an_index_alone(app, filters):
    from piratebox.catalogue import logic

    search = logic.Search(filters, 1)
    many = (*search.shape[:-1], None)  # a search whose words are in many objects reads the text
    plan = plan_of(logic.COUNT, many, search.values)
    index = "item_listing" if filters.get("q") else "item_open"
    assert f"USING COVERING INDEX {index} (deleted=? AND hidden=?" in plan


def test_the_json_api_shows_public_fields_only(client):
    offer(client, pseudonym="Jeanne Dupont", contact="06 12 34 56 78",
          photos=[("p.jpg", jpeg())])
    item = only_item()
    listing = client.get("/api/v1/items")
    one = client.get(f"/api/v1/items/{item.id}")
    for response in (listing, one):
        assert response.mimetype == "application/json"
        text = response.get_data(as_text=True)
        assert "Jeanne" not in text and "06 12" not in text and "token" not in text
    body = one.get_json()
    assert body["title"] == "Étagère en pin" and body["photos"][0]["thumb"].startswith("/photos/")
    assert listing.get_json()["total"] == 1
    assert client.get("/api/v1/items/nope").status_code == 404


def test_photos_are_cached_by_hash_and_other_blobs_are_not_served(client, app):
    offer(client, photos=[("p.jpg", jpeg())])
    photo = only_item().photo_list()[0]
    first = fetch(client, f"/photos/{photo['thumb']}.jpg")
    assert first.headers["Cache-Control"] == "public, max-age=86400"  # a day, not a year
    again = fetch(client, f"/photos/{photo['thumb']}.jpg",
                  headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    with db.connection_context():
        Blob.create(hash="a" * 64, size=1, kind="file", created_at=0)
    assert client.get(f"/photos/{'a' * 64}.jpg").status_code == 404
    assert client.get("/photos/../../secret_key.jpg").status_code == 404
    app.extensions["box"].data_dir.blobs.joinpath(photo["full"][:2], photo["full"]).unlink()
    assert client.get(f"/photos/{photo['full']}.jpg").status_code == 404


def test_exchange_events_never_name_people():
    columns = {field.name for field in Exchange._meta.sorted_fields}
    assert not columns & {"pseudonym", "contact", "reserved_by", "lent_to", "address"}


def test_html_typed_into_a_field_is_shown_as_text(client):
    offer(client, title="<script>alert(1)</script>", description="<b>gras</b>")
    item = only_item()
    html = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<b>gras</b>" not in html


def test_init_demo_adds_french_samples(runner, tmp_path):
    import app as application

    result = runner.invoke(application.cli, ["--data", str(tmp_path / "d"), "init", "--demo"])
    assert result.exit_code == 0, result.output
    with db.connection_context():
        items = list(Item.select())
        stored = {Blob.get_by_id(photo["full"]).size for item in items
                  for photo in item.photo_list()}
    assert "Perceuse à percussion" in {item.title for item in items} and len(items) == 6
    # every offer shows a picture, drawn at init and processed as a phone's photo is
    offers = [item for item in items if item.kind == "offer"]
    assert all(len(item.photo_list()) == 1 for item in offers)
    assert len(stored) == len(offers) and all(size > 5000 for size in stored)
    assert "6 objets d’exemple ajoutés, avec leurs photos." in result.output


def test_items_json_photos_are_stored_as_hash_pairs(client):
    offer(client, photos=[("a.jpg", jpeg(color=(1, 2, 3))), ("b.jpg", jpeg(color=(9, 9, 9)))])
    stored = json.loads(only_item().photos)
    assert len(stored) == 2 and all(len(p["full"]) == 64 for p in stored)


@settings(max_examples=500)
@given(st.text())
def test_search_folding_drops_exactly_the_accents_and_the_case(text):
    decomposed = unicodedata.normalize("NFKD", text)
    expected = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    assert fold(text) == expected


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(max_codepoint=0x36F)))
def test_search_folding_of_latin_text_drops_exactly_the_accents(text):
    """Latin letters and their marks (U+034F among them, a joiner, no mark): the folding's
    shortcut for them keeps what the character-by-character rule keeps."""
    decomposed = unicodedata.normalize("NFKD", text)
    expected = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    assert fold(text) == expected


def test_search_folding_learns_no_unbounded_table():
    from models import WITHOUT_MARKS

    fold("".join(chr(code) for code in range(0x3000, 0x4000)))
    assert max(WITHOUT_MARKS) < 0x3000
    assert fold("Étagère en CHÊNE") == "etagere en chene"


def test_the_same_offer_posted_twice_is_one_object_still_the_phones(client, app):
    import re

    page = client.get("/items/new").get_data(as_text=True)
    form_id = re.search(r'name="form_id" value="([^"]+)"', page).group(1)
    first = offer(client, form_id=form_id)
    second = offer(client, form_id=form_id)  # a double tap: the same form again
    assert first.headers["Location"] == second.headers["Location"]
    with db.connection_context():
        assert Item.select().count() == 1
    item = only_item()
    assert exchanges(item.id) == [("offered", None)]
    stranger = app.test_client()
    assert client.get(second.headers["Location"]).status_code == 200  # still this phone's
    assert stranger.get(second.headers["Location"]).status_code != 200
    offer(stranger, form_id=form_id)  # the same form id from another phone: its own object
    with db.connection_context():
        assert Item.select().count() == 2
