"""Cached public pages never show stale data after a change, nor one visitor's token to another."""

import re

from tests.conftest import csrf_from
from tests.test_catalogue import offer, only_item


def test_a_new_object_shows_at_once_despite_the_cache(client, app):
    assert "Étagère en pin" not in client.get("/items/").get_data(as_text=True)
    assert app.extensions["page_cache"].get  # the cache is on in this app
    offer(client)
    assert "Étagère en pin" in app.test_client().get("/items/").get_data(as_text=True)


def test_a_cached_page_is_served_again_without_rendering(client, app):
    app.test_client().get("/items/")
    cache = app.extensions["page_cache"]
    cached = list(cache._pages)
    assert cached, "the public list was cached"
    app.test_client().get("/items/")
    assert list(cache._pages) == cached


def test_each_visitor_gets_their_own_csrf_token_from_a_cached_page(client, app):
    offer(client)
    item = only_item()
    first, second = app.test_client(), app.test_client()
    token_one = csrf_from(first.get(f"/items/{item.id}").get_data(as_text=True))
    token_two = csrf_from(second.get(f"/items/{item.id}").get_data(as_text=True))
    assert token_one != token_two
    assert "csrf-placeholder" not in first.get(f"/items/{item.id}").get_data(as_text=True)
    response = second.post(f"/items/{item.id}/reserve",
                           data={"csrf_token": token_two, "pseudonym": "Lina"})
    assert response.status_code == 302
    assert "Lina" in first.get(f"/items/{item.id}").get_data(as_text=True)


def test_flashed_messages_are_never_cached(client, app):
    offer(client, place="box")
    item = only_item()
    visitor = app.test_client()
    token = csrf_from(visitor.get(f"/items/{item.id}").get_data(as_text=True))
    visitor.post(f"/items/{item.id}/take", data={"csrf_token": token})
    assert "Profitez-en" in visitor.get(f"/items/{item.id}").get_data(as_text=True)
    other = app.test_client().get(f"/items/{item.id}").get_data(as_text=True)
    assert "Profitez-en" not in other


def test_languages_are_cached_apart(client, app):
    french = app.test_client().get("/").get_data(as_text=True)
    english = app.test_client().get("/", headers={"Accept-Language": "en"}).get_data(
        as_text=True)
    assert "Bienvenue" in french and "Welcome" in english


def test_the_cache_can_be_turned_off(make_app):
    app = make_app(PAGE_CACHE_SECONDS=0)
    app.test_client().get("/items/")
    assert not app.extensions["page_cache"]._pages


def test_expired_objects_leave_the_cached_list(client, app):
    offer(client, title="Parapluie")
    assert "Parapluie" in app.test_client().get("/items/").get_data(as_text=True)
    clock = app.extensions["box"].clock
    clock.correct(clock.now() + 31 * 86400, "admin")
    assert "Parapluie" not in app.test_client().get("/items/").get_data(as_text=True)
    assert re.search(r"0 objet", app.test_client().get("/items/").get_data(as_text=True))
