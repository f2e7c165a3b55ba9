"""Kept pages served in front of the app (web.serve_kept_pages): the same answer the app
gives, byte for byte and header for header; never to a phone whose view must run (new to
the box, messages to show, the mediator), never stale; and what every request does before
its view is done for them too (the phone counted, the portal's welcome)."""

import pytest

from models import Item, db
from tests.conftest import post_from_page
from tests.test_catalogue import offer, only_item
from tests.test_files import upload
from tests.test_workflows import lent_item

# Pages kept an hour, not 30 s: these tests change the database behind the cache or count
# pages served from it, and a test on a busy machine may straddle two time buckets.
APP_CONFIG = {"PAGE_CACHE_SECONDS": 3600}
SHARED_PAGES = ("/", "/items/", "/items/?q=pin", "/board/", "/events/", "/files/",
                "/initiatives/", "/api/v1/items", "/stats/", "/api/v1/stats")


def served_ahead(app):
    return app.extensions["page_cache"].served_ahead


def by_the_app_and_ahead(app, phone, path, **kwargs):
    """The app's own answer for a kept page (the access log on sends every request to the
    app), then the one served ahead of it, and how many were served ahead meanwhile."""
    app.config["ACCESS_LOG"] = True
    try:
        by_the_app = phone.get(path, **kwargs)
    finally:
        app.config["ACCESS_LOG"] = False
    before = served_ahead(app)
    ahead = phone.get(path, **kwargs)
    return by_the_app, ahead, served_ahead(app) - before


def known_phone(app):
    """A phone the box has seen, its CSRF token given: its next public pages are the same
    as every phone's."""
    phone = app.test_client()
    post_from_page(phone, "/board/", "/board/", {"text": "Bonjour le village"})
    phone.get("/board/")  # the flashed thanks shown and gone
    return phone


@pytest.mark.parametrize("path", SHARED_PAGES)
def test_a_kept_page_served_ahead_is_the_apps_answer(client, app, path):
    offer(client)
    phone = known_phone(app)
    phone.get(path)
    by_the_app, ahead, count = by_the_app_and_ahead(app, phone, path)
    assert count == 1, "served ahead of the app"
    assert ahead.status_code == by_the_app.status_code == 200
    assert ahead.get_data() == by_the_app.get_data()
    assert sorted(ahead.headers.items()) == sorted(by_the_app.headers.items())
    assert "Set-Cookie" not in ahead.headers

    etag = ahead.headers["ETag"]
    by_the_app, ahead, count = by_the_app_and_ahead(app, phone, path,
                                                    headers={"If-None-Match": etag})
    assert count == 1
    assert ahead.status_code == by_the_app.status_code == 304
    assert sorted(ahead.headers.items()) == sorted(by_the_app.headers.items())
    assert ahead.get_data() == b""


def test_each_phone_gets_its_own_token_from_a_page_served_ahead(app):
    first, second = known_phone(app), known_phone(app)
    pages = [phone.get("/board/").get_data(as_text=True) for phone in (first, second)]
    before = served_ahead(app)
    again = [phone.get("/board/").get_data(as_text=True) for phone in (first, second)]
    assert served_ahead(app) - before == 2
    assert again == pages
    assert pages[0] != pages[1], "each with its own CSRF token"


def test_a_write_shows_at_once_on_pages_served_ahead(app):
    phone = known_phone(app)
    for path in ("/", "/board/"):
        phone.get(path)
    post_from_page(phone, "/board/", "/board/", {"text": "Qui a une échelle ?"})
    for path in ("/", "/board/"):
        assert "Qui a une échelle ?" in phone.get(path).get_data(as_text=True)


def test_a_page_a_write_made_out_of_date_goes_to_the_app_without_reading_the_phone(
        app, monkeypatch):
    phone = known_phone(app)
    french = phone.get("/board/")
    english = phone.get("/board/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    sessions, read = app.session_interface, []
    original = sessions.read
    monkeypatch.setattr(sessions, "read", lambda *args, **kwargs: (
        read.append(kwargs.get("own_copy", True)), original(*args, **kwargs))[1])
    post_from_page(known_phone(app), "/board/", "/board/", {"text": "Qui a une échelle ?"})
    read.clear()
    before = served_ahead(app)
    assert "Qui a une échelle ?" in phone.get("/board/").get_data(as_text=True)
    assert served_ahead(app) == before and False not in read, "the app's, not the lane's"
    read.clear()
    assert phone.get("/board/").get_data(as_text=True) != french.get_data(as_text=True)
    assert served_ahead(app) == before + 1 and False in read, "kept again: served ahead"
    in_english = phone.get("/board/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert served_ahead(app) == before + 1, "the copy in English was not rendered again yet"
    assert in_english.get_data() != english.get_data()
    assert "Qui a une échelle ?" in in_english.get_data(as_text=True)


def test_the_app_answers_a_phone_whose_view_has_something_to_do(app, admin):
    phone = known_phone(app)
    phone.get("/board/")

    def not_ahead(client, *args, **kwargs):
        before = served_ahead(app)
        response = client.get(*args, **kwargs)
        assert served_ahead(app) == before
        return response

    assert "Set-Cookie" in not_ahead(app.test_client(), "/board/").headers, "noted as seen"
    response = post_from_page(phone, "/board/", "/board/", {"text": "Merci !"})
    assert response.status_code == 302
    assert 'class="flash' in not_ahead(phone, "/board/").get_data(as_text=True), "its thanks"
    not_ahead(admin, "/board/")
    assert 'action="/admin/' in not_ahead(admin, "/board/").get_data(as_text=True), \
        "the mediator's page, with its controls"
    assert not_ahead(phone, "/board/", headers={"Host": "connectivitycheck.gstatic.com"}) \
        .status_code == 302, "a probe for another host gets the portal"


def test_a_phone_served_ahead_is_counted_and_welcomed(app):
    phone = known_phone(app)
    phone.get("/")
    phone.environ_base["REMOTE_ADDR"] = "10.0.0.77"
    footfall, portal = app.extensions["footfall"], app.extensions["portal"]
    now = app.extensions["box"].clock.now()
    counted = sum(footfall.current(now).values())
    before = served_ahead(app)
    assert phone.get("/").status_code == 200
    assert served_ahead(app) == before + 1
    assert sum(footfall.current(now).values()) == counted + 2, "today and this week"
    assert portal.has_welcomed("10.0.0.77")


def test_each_language_is_its_own_page_served_ahead(app):
    phone = known_phone(app)
    french = phone.get("/board/").get_data(as_text=True)
    in_english = {"Accept-Language": "en-GB,en;q=0.9"}
    english = phone.get("/board/", headers=in_english).get_data(as_text=True)
    before = served_ahead(app)
    assert phone.get("/board/", headers=in_english).get_data(as_text=True) == english
    assert served_ahead(app) == before + 1
    assert english != french
    assert 'lang="en"' in english and 'lang="fr"' in french


def test_an_objects_page_is_served_ahead_only_to_phones_holding_no_link_to_it(client, app):
    offer(client)  # `client` holds the owner's private link
    item_id = only_item().id
    path = f"/items/{item_id}"
    phone = known_phone(app)
    phone.get(path)
    by_the_app, ahead, count = by_the_app_and_ahead(app, phone, path)
    assert count == 1
    assert ahead.get_data() == by_the_app.get_data()
    assert sorted(ahead.headers.items()) == sorted(by_the_app.headers.items())

    before = served_ahead(app)
    owners = client.get(path).get_data(as_text=True)
    assert served_ahead(app) == before, "the owner's page is its view's"
    assert f"/items/{item_id}/manage" in owners
    assert f"/items/{item_id}/manage" not in ahead.get_data(as_text=True)


def test_a_phone_holding_links_to_other_things_gets_an_objects_page_ahead(client, app):
    """Most phones that shared something hold a private link (their file's): the page of
    an object they have no link to is the same as every phone's. A place on the object's
    list or its reservation makes the page theirs, answered by the view."""
    item = lent_item(client)
    path = f"/items/{item.id}"
    sharer, waiting, taker = known_phone(app), known_phone(app), known_phone(app)
    assert upload(sharer, [("affiche.txt", b"Fete du pain samedi")]).status_code == 303
    sharer.get("/files/uploaded")
    sharer.get(path)
    by_the_app, ahead, count = by_the_app_and_ahead(app, sharer, path)
    assert count == 1, "served ahead to a phone holding a file's link"
    assert ahead.get_data() == by_the_app.get_data()
    assert sorted(ahead.headers.items()) == sorted(by_the_app.headers.items())

    post_from_page(waiting, path, f"{path}/waiting", {"pseudonym": "Anne"})
    for phone in (waiting, sharer):  # the thanks shown; the page kept again
        phone.get(path)
    before = served_ahead(app)
    assert "Quitter la liste d’attente" in waiting.get(path).get_data(as_text=True)
    assert "Quitter la liste d’attente" not in sharer.get(path).get_data(as_text=True)
    assert served_ahead(app) == before + 1, "only the sharer's page served ahead"

    offer(client, title="Escabeau", mode="give")
    with db.connection_context():
        ladder = f"/items/{Item.get(Item.title == 'Escabeau').id}"
    post_from_page(taker, ladder, f"{ladder}/reserve",
                   {"pseudonym": "Marie", "avoided_purchase": "no"})
    for phone in (taker, sharer):
        phone.get(ladder)
    before = served_ahead(app)
    reserved, everyones = (phone.get(ladder).get_data(as_text=True) for phone in (taker, sharer))
    assert served_ahead(app) == before + 1, "only the sharer's page served ahead"
    assert "/reservation/cancel" in reserved and "/reservation/cancel" not in everyones


def test_a_token_in_a_get_body_never_makes_an_objects_kept_page_its_senders(client, app):
    """A browser sends no body with a GET; a forged one carrying a place's token must not
    make the page kept for every phone show that place (and hide the list's form)."""
    item = lent_item(client)
    path = f"/items/{item.id}"
    waiting = known_phone(app)
    post_from_page(waiting, path, f"{path}/waiting", {"pseudonym": "Mallory"})
    with waiting.session_transaction() as session:
        token = next(iter(session["owned"].values()))
    app.test_client().get(path, data={"token": token},
                          content_type="application/x-www-form-urlencoded")
    for phone in (known_phone(app), app.test_client()):
        page = phone.get(path).get_data(as_text=True)
        assert "M’inscrire sur la liste d’attente" in page
        assert "Quitter la liste d’attente" not in page


def test_a_phone_new_today_shows_at_once_in_the_figures_served_ahead(app):
    phone = known_phone(app)
    phone.get("/api/v1/stats")

    def phones_today():
        return phone.get("/api/v1/stats").get_json()["footfall"]["days"][-1]["phones"]

    counted = phones_today()
    before = served_ahead(app)
    assert phones_today() == counted
    assert served_ahead(app) == before + 1
    phone.environ_base["REMOTE_ADDR"] = "10.0.0.78"  # the same cookie from a new address
    assert phones_today() == counted + 1


def test_a_page_at_a_forged_long_address_is_rendered_for_its_visitor_alone(app):
    """A query string near the server's limit (64 KB of headers) would otherwise keep a
    page and its rows that repeat it: a few hundred of them fill a router's memory."""
    from piratebox.pagecache import MAX_KEPT_ADDRESS

    phone = known_phone(app)
    cache = app.extensions["page_cache"]
    pages, rows = len(cache), len(cache._rows)
    path = "/events/?filler=" + "x" * MAX_KEPT_ADDRESS
    before = served_ahead(app)
    for _ in range(2):
        assert phone.get(path).status_code == 200
    assert served_ahead(app) == before
    assert (len(cache), len(cache._rows)) == (pages, rows)
    assert phone.get("/events/?filler=x").status_code == 200
    assert len(cache) == pages + 1, "a short one is kept"
