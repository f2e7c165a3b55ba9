"""Cached public pages: never stale after a change of what they show, never one visitor's
token or message to another, kept when another section changes, 304 when unchanged."""

import re
import threading
import tracemalloc
from urllib.parse import quote

import pytest

from models import Item, Message, db
from piratebox import pagecache
from piratebox.pagecache import (
    CSRF_BYTES,
    CSRF_PLACEHOLDER,
    FLASH_BYTES,
    FLASH_PLACEHOLDER,
    MAX_ROWS,
    PageCache,
    kept_page,
)
from tests.conftest import csrf_from, post_from_page
from tests.test_catalogue import offer, only_item

# Pages kept an hour, not 30 s: these tests change the database behind the cache or count
# pages served from it, and a test on a busy machine may straddle two time buckets.
APP_CONFIG = {"PAGE_CACHE_SECONDS": 3600}


def rename_behind_the_cache(item_id, title):
    """Change the database as another process would (a new version, as every change
    has), with no request, so no news for the cache."""
    with db.connection_context():
        Item.update(title=title, version=Item.version + 1).where(Item.id == item_id).execute()


def text_of(response):
    return response.get_data(as_text=True)


def test_a_new_object_shows_at_once_despite_the_cache(client, app):
    assert "Étagère en pin" not in text_of(app.test_client().get("/items/"))
    offer(client)
    assert "Étagère en pin" in text_of(app.test_client().get("/items/"))


def test_a_cached_page_is_served_from_memory_until_its_section_changes(client, app):
    offer(client)
    item = only_item()
    assert "Étagère en pin" in text_of(app.test_client().get("/items/"))
    rename_behind_the_cache(item.id, "Armoire normande")
    assert "Étagère en pin" in text_of(app.test_client().get("/items/")), "from memory"
    offer(client, title="Vélo d'enfant")
    assert "Armoire normande" in text_of(app.test_client().get("/items/"))


def test_a_word_on_the_board_leaves_the_catalogue_cached(client, app):
    offer(client)
    item = only_item()
    for page in ("/items/", f"/items/{item.id}", "/api/v1/items"):
        assert "Étagère en pin" in text_of(app.test_client().get(page))
    rename_behind_the_cache(item.id, "Armoire normande")
    visitor = app.test_client()
    response = post_from_page(visitor, "/board/", "/board/", {"text": "Qui a une échelle ?"})
    assert response.status_code == 302
    assert "Qui a une échelle ?" in text_of(app.test_client().get("/board/"))
    assert "Qui a une échelle ?" in text_of(app.test_client().get("/"))  # the home shows it
    for page in ("/items/", f"/items/{item.id}", "/api/v1/items"):
        assert "Étagère en pin" in text_of(app.test_client().get(page)), page


def test_each_visitor_gets_their_own_csrf_token_from_a_cached_page(client, app):
    offer(client)
    item = only_item()
    first, second = app.test_client(), app.test_client()
    token_one = csrf_from(text_of(first.get(f"/items/{item.id}")))
    token_two = csrf_from(text_of(second.get(f"/items/{item.id}")))
    assert token_one != token_two
    assert "csrf-placeholder" not in text_of(first.get(f"/items/{item.id}"))
    response = second.post(f"/items/{item.id}/reserve",
                           data={"csrf_token": token_two, "pseudonym": "Lina"})
    assert response.status_code == 302
    assert "Lina" in text_of(first.get(f"/items/{item.id}"))


def test_a_flashed_message_reaches_its_visitor_on_a_cached_page_and_no_one_else(client, app):
    offer(client, place="box")
    item = only_item()
    app.test_client().get("/board/")  # cached before anyone posts
    visitor = app.test_client()
    post_from_page(visitor, "/board/", "/board/", {"text": "Bonjour"})
    rename_behind_the_cache(item.id, "Armoire normande")
    token = csrf_from(text_of(visitor.get(f"/items/{item.id}")))
    visitor.post(f"/items/{item.id}/take", data={"csrf_token": token})
    page = text_of(visitor.get("/board/"))
    assert "Profitez-en" in page and "Bonjour" in page
    assert "Profitez-en" not in text_of(visitor.get("/board/")), "shown once"
    assert "Profitez-en" not in text_of(app.test_client().get("/board/"))


def test_an_owner_gets_cached_pages_and_their_own_object_page(client, app):
    offer(client)
    item = only_item()
    app.test_client().get("/items/")
    rename_behind_the_cache(item.id, "Armoire normande")
    owner_list = text_of(client.get("/items/"))
    assert "Étagère en pin" in owner_list, "the owner's phone is served the shared list"
    owner_page = text_of(client.get(f"/items/{item.id}"))
    assert "Gérer mon objet" in owner_page
    assert "Gérer mon objet" not in text_of(app.test_client().get(f"/items/{item.id}"))


def test_who_reserved_an_object_sees_their_own_page_and_no_one_else_sees_it(client, app):
    offer(client)
    item = only_item()
    page = f"/items/{item.id}"
    text_of(app.test_client().get(page))  # the shared copy is kept first
    neighbour = app.test_client()
    response = post_from_page(neighbour, page, f"{page}/reserve", {"pseudonym": "Lina"})
    assert response.status_code == 302
    for _again in range(2):
        mine = text_of(neighbour.get(page))
        assert "Vous l’avez réservé" in mine and "token=" in mine
        other = text_of(app.test_client().get(page))
        assert "Vous l’avez réservé" not in other and "token=" not in other


def test_who_waits_for_an_object_sees_their_place_and_no_one_else_sees_it(client, app):
    offer(client, mode="lend")
    item = only_item()
    page, manage = f"/items/{item.id}", f"/items/{item.id}/manage"
    post_from_page(client, manage, f"{manage}/lend", {"lent_to": "Paul",
                                                      "lent_until": "2030-01-31"})
    assert "personne attend" not in text_of(app.test_client().get(page))  # kept
    waiting = app.test_client()
    response = post_from_page(waiting, page, f"{page}/waiting", {"pseudonym": "Lina"})
    assert response.status_code == 302
    for _again in range(2):
        assert "Vous êtes sur la liste d’attente" in text_of(waiting.get(page))
        other = text_of(app.test_client().get(page))
        assert "Vous êtes sur la liste d’attente" not in other and "1 personne attend" in other


def test_a_phone_asking_again_for_an_unchanged_page_gets_a_304(client, app):
    offer(client)
    visitor = app.test_client()
    first = visitor.get("/items/")
    etag = first.headers["ETag"]
    assert "no-cache" in first.headers["Cache-Control"]
    again = visitor.get("/items/", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag
    offer(client, title="Vélo d'enfant")
    changed = visitor.get("/items/", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "Vélo d" in text_of(changed)


def test_a_page_rendered_again_to_the_same_text_keeps_its_tag():
    cache = PageCache(30)
    texts = iter(["<p>un</p>", "<p>un</p>", "<p>deux</p>", "<p>un</p>"])

    def again(bucket=0):
        cache.changed(("board",))
        return cache.page("/board/", ("board",), bucket, lambda: next(texts)).tag

    first = again()
    assert again(bucket=1) == first, "the same text, rendered again in a new time bucket"
    assert again() != first, "another text"
    assert again() != first, "the first text again, after another: a tag of its own"
    assert cache.page("/files/", ("files",), 0, lambda: "<p>un</p>").tag != first, \
        "another page, of the same text"


def test_a_pages_tag_tells_nothing_of_the_pages_rendered_before_it():
    """A counter would tell a visitor asking for new addresses how busy the box is."""
    cache = PageCache(30)
    tags = [cache.page(f"/items/?q={number}", ("catalogue",), 0, lambda: "<p>x</p>").tag
            for number in range(20)]
    assert len(set(tags)) == len(tags)
    assert len({tag[:8] for tag in tags}) == len(tags), "no part of them shared"


def test_a_kept_page_fills_in_every_place_of_a_visitors_token_and_messages():
    text = (f"<main>{FLASH_PLACEHOLDER}<form>{CSRF_PLACEHOLDER}</form>é"
            f"<form>{CSRF_PLACEHOLDER}</form></main>")
    page = kept_page(text, (0,), ("board",))
    assert page.body == text.encode()
    assert page.answer(b"jeton", b"<p>Merci</p>") == \
        "<main><p>Merci</p><form>jeton</form>é<form>jeton</form></main>".encode()
    assert page.personal == {CSRF_BYTES, FLASH_BYTES}
    plain = kept_page("<p>sans formulaire</p>", (0,), ("board",))
    assert plain.answer(b"jeton", b"") == b"<p>sans formulaire</p>" and not plain.personal


def test_a_phone_still_gets_a_304_when_a_write_left_its_page_the_same(client, app):
    visitor = app.test_client()
    etag = visitor.get("/events/").headers["ETag"]
    response = post_from_page(client, "/events/new", "/events/new", {
        "title": "Café réparation", "kind": "repair_cafe", "day": "2030-05-04",
        "start": "14:00"})
    assert response.status_code == 302  # proposed: the agenda shows it once published
    assert visitor.get("/events/", headers={"If-None-Match": etag}).status_code == 304


def test_another_phones_etag_never_gets_a_304(client, app):
    etag = app.test_client().get("/board/").headers["ETag"]
    other = app.test_client()
    response = other.get("/board/", headers={"If-None-Match": etag})
    assert response.status_code == 200, "the page carries this phone's own token"
    assert csrf_from(text_of(response))


@pytest.mark.parametrize("page", ["/", "/items/", "/board/", "/events/", "/files/", "/stats/",
                                  "/api/v1/items", "/api/v1/stats", "/initiatives/",
                                  "/initiatives/print"])
def test_every_public_page_answers_304_when_unchanged(client, page):
    etag = client.get(page).headers["ETag"]
    assert client.get(page, headers={"If-None-Match": etag}).status_code == 304


def test_the_mediators_pages_are_never_cached(admin, app):
    post_from_page(admin, "/board/", "/board/", {"text": "Premier message"})
    assert "Supprimer" in text_of(admin.get("/board/"))
    assert "ETag" not in admin.get("/board/").headers
    assert "Supprimer" not in text_of(app.test_client().get("/board/"))
    with db.connection_context():
        Message.update(text="Changé en douce").execute()
    assert "Changé en douce" in text_of(admin.get("/board/")), "rendered for the mediator"


def test_languages_are_cached_apart(app):
    french = text_of(app.test_client().get("/"))
    english = text_of(app.test_client().get("/", headers={"Accept-Language": "en"}))
    assert "Bienvenue" in french and "Welcome" in english


def test_the_cache_can_be_turned_off(make_app, client):
    app = make_app(PAGE_CACHE_SECONDS=0)
    response = app.test_client().get("/items/")
    assert "ETag" not in response.headers
    assert not len(app.extensions["page_cache"])


def test_expired_objects_leave_the_cached_list(client, app):
    offer(client, title="Parapluie")
    assert "Parapluie" in text_of(app.test_client().get("/items/"))
    clock = app.extensions["box"].clock
    clock.correct(clock.now() + 31 * 86400, "admin")
    assert "Parapluie" not in text_of(app.test_client().get("/items/"))
    assert re.search(r"0 objet", text_of(app.test_client().get("/items/")))


def test_a_page_asked_for_by_many_at_once_is_rendered_once():
    cache = PageCache(30)
    renders, started, release = [], threading.Event(), threading.Event()

    def render():
        renders.append(1)
        started.set()
        release.wait(10)
        return "<p>la page</p>"

    pages = []
    threads = [threading.Thread(target=lambda: pages.append(
        cache.page("/", ("board",), 0, render))) for _ in range(8)]
    threads[0].start()
    started.wait(10)
    for thread in threads[1:]:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(10)
    assert len(renders) == 1 and len(pages) == 8
    assert {page.body for page in pages} == {b"<p>la page</p>"}


def test_a_write_during_a_rendering_is_never_hidden_by_it():
    cache = PageCache(30)

    def render_then_write():
        cache.changed(("board",))  # a post lands while this page is being rendered
        return "before the post"

    assert cache.page("/", ("board",), 0, render_then_write).body == b"before the post"
    assert cache.page("/", ("board",), 0, lambda: "after the post").body == b"after the post"


def test_a_failed_rendering_lets_the_next_request_render():
    cache = PageCache(30)

    def broken():
        raise LookupError("gone")

    with pytest.raises(LookupError):
        cache.page("/x", ("catalogue",), 0, broken)
    assert cache.page("/x", ("catalogue",), 0, lambda: "back").body == b"back"


def test_a_page_showing_the_same_data_after_a_write_is_kept_as_it_is():
    cache = PageCache(30)
    shown = {"data": ("vélo", (("a", 1),))}
    renders = []

    def render(data):
        renders.append(data)
        return f"<p>{data}</p>"

    def read():
        return shown["data"][0], shown["data"]

    def ask(bucket=0):
        return cache.page("/items/?q=velo", ("catalogue",), bucket, render, read).body

    assert ask() == "<p>vélo</p>".encode() and len(renders) == 1
    cache.changed(("catalogue",))  # a new object no one's search finds
    assert ask() == "<p>vélo</p>".encode() and len(renders) == 1, "read again, not rendered"
    shown["data"] = ("vélo, luge", (("a", 1), ("b", 1)))
    assert ask() == "<p>vélo</p>".encode(), "no write since: kept"
    cache.changed(("catalogue",))
    assert ask() == "<p>vélo, luge</p>".encode() and len(renders) == 2
    cache.changed()  # the mediator's settings, a sync: anything the page shows may change
    assert ask() == "<p>vélo, luge</p>".encode() and len(renders) == 3
    cache.changed(("catalogue",))
    assert ask(bucket=1) and len(renders) == 4, "a new time bucket renders it again"


def renderings_of(template, monkeypatch, views=None):
    """The list of the renderings of `template` by the `views` module (the catalogue's by
    default) from now on (another one is rendered for a form's token, say)."""
    if views is None:
        from piratebox.catalogue import views

    renders = []
    original = views.render_template

    def counted(name, **context):
        if name == template:
            renders.append(name)
        return original(name, **context)

    monkeypatch.setattr(views, "render_template", counted)
    return renders


def lists_rendered(app, part, monkeypatch):
    """The list of the renderings of a page's live part `part` (see pagecache.live) from
    now on, its frame kept or not."""
    renders = []
    original = app.jinja_env.get_template

    def counted(name, *args, **kwargs):
        if name == part:
            renders.append(name)
        return original(name, *args, **kwargs)

    monkeypatch.setattr(app.jinja_env, "get_template", counted)
    return renders


def test_a_search_a_new_object_does_not_change_is_not_rendered_again(
        client, app, monkeypatch):
    renders = lists_rendered(app, "catalogue/_list.html", monkeypatch)
    offer(client, title="Parapluie")
    search = "/items/?q=parapluie"
    assert "Parapluie" in text_of(app.test_client().get(search))
    assert len(renders) == 1
    offer(client, title="Luge en bois")
    assert "Parapluie" in text_of(app.test_client().get(search))
    assert len(renders) == 1, "its objects are the same: kept"
    assert "Luge en bois" in text_of(app.test_client().get("/items/")), "the list has it"
    assert "Luge en bois" in text_of(app.test_client().get("/api/v1/items"))
    offer(client, title="Parapluie rouge")
    page = text_of(app.test_client().get(search))
    assert "Parapluie rouge" in page and "2 objets" in page
    item = only_item_titled("Parapluie")
    rename_behind_the_cache(item.id, "Parapluie bleu")
    offer(client, title="Chaise")
    assert "Parapluie bleu" in text_of(app.test_client().get(search)), "a new version shows"


def test_an_objects_page_a_new_object_does_not_change_is_not_rendered_again(
        client, app, monkeypatch):
    renders = renderings_of("catalogue/show.html", monkeypatch)
    client.post("/items/new", data={
        "csrf_token": csrf_from(text_of(client.get("/items/new"))), "kind": "request",
        "mode": "give", "title": "Vélo enfant", "category": "bikes", "place": "home"})
    wanted = only_item_titled("Vélo enfant")
    page = f"/items/{wanted.id}"
    visitor = app.test_client()
    assert "Vélo enfant" in text_of(visitor.get(page))
    assert len(renders) == 1
    offer(client, title="Luge en bois")
    assert "Vélo enfant" in text_of(visitor.get(page))
    assert len(renders) == 1, "the object and its answers are the same: kept"
    offer(app.test_client(), title="Vélo 16 pouces", category="bikes", answers=wanted.id)
    assert "Vélo 16 pouces" in text_of(visitor.get(page)), "a new answer shows"
    rename_behind_the_cache(wanted.id, "Vélo pour enfant de 6 ans")
    offer(client, title="Chaise")
    assert "Vélo pour enfant de 6 ans" in text_of(visitor.get(page)), "a new version shows"
    with db.connection_context():  # a change without a new version (a local flag) shows too
        Item.update(hidden=True).where(Item.id == wanted.id).execute()
    offer(client, title="Table")
    assert visitor.get(page).status_code == 404


def only_item_titled(title):
    with db.connection_context():
        return Item.get(Item.title == title)


def test_a_list_shown_again_renders_only_the_rows_that_changed(client, app):
    offer(client, title="Parapluie")
    item = only_item()
    assert "Parapluie" in text_of(app.test_client().get("/items/"))
    with db.connection_context():  # a row's key is its version: a change without one...
        Item.update(title="Ombrelle").where(Item.id == item.id).execute()
    offer(client, title="Vélo d'enfant")
    page = text_of(app.test_client().get("/items/"))
    assert "Vélo d" in page and "Parapluie" in page, "...shows the row kept from before"
    rename_behind_the_cache(item.id, "Armoire normande")
    offer(client, title="Luge")
    assert "Armoire normande" in text_of(app.test_client().get("/items/"))


def test_the_rows_kept_stay_within_a_routers_means_and_a_row_pushed_out_is_rendered_again(
        client, app):
    """Every write makes new rows (a new version, a new count of downloads) and a busy
    evening makes thousands: what the cache keeps of them, at the size of a real row of the
    catalogue, stays a few hundred kilobytes of a router's 128 MB."""
    offer(client, title="Parapluie", description="Grand, noir, la poignée en bois")
    app.test_client().get("/items/")
    (key, text), = [(key, text) for key, text in app.extensions["page_cache"]._rows.items()
                    if "Parapluie" in text]
    cache = PageCache(60)
    tracing_already = tracemalloc.is_tracing()  # then only read it, leave it on
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(3 * MAX_ROWS):
            cache.keep({(*key, number): f"{text}{number}"})
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        if not tracing_already:
            tracemalloc.stop()
    assert held < 400_000
    assert cache.rows([(*key, 3 * MAX_ROWS - 1)]) != [None], "the newest is kept"
    assert cache.row((*key, 0), lambda: "rendered again") == "rendered again"


def test_a_row_outlives_its_pages_time_bucket_not_its_day_nor_a_change_of_everything(
        client, app):
    offer(client, title="Parapluie")
    item = only_item()
    assert "Parapluie" in text_of(app.test_client().get("/items/"))
    with db.connection_context():  # a change the row's key does not see...
        Item.update(title="Ombrelle").where(Item.id == item.id).execute()
    clock = app.extensions["box"].clock
    clock.correct(clock.now() + APP_CONFIG["PAGE_CACHE_SECONDS"], "admin")  # its bucket is over
    assert "Parapluie" in text_of(app.test_client().get("/items/")), "...the row is kept"
    app.extensions["page_cache"].changed()  # the mediator's settings: the time zone...
    assert "Ombrelle" in text_of(app.test_client().get("/items/"))
    with db.connection_context():
        Item.update(title="Luge").where(Item.id == item.id).execute()
    clock.correct(clock.now() + 86400, "admin")  # a new day: dates are written anew
    assert "Luge" in text_of(app.test_client().get("/items/"))


def test_a_files_row_shows_its_downloads_when_the_list_is_rendered_again(client, app):
    from tests.test_files import fetch, only_file, upload

    upload(client, [("recette.txt", b"farine, oeufs")])
    record = only_file()
    assert "0 téléchargement" in text_of(app.test_client().get("/files/"))
    fetch(app.test_client(), f"/files/{record.id}/recette.txt")
    upload(client, [("plan.txt", b"la salle des fetes")])
    assert "1 téléchargement" in text_of(app.test_client().get("/files/"))


def test_the_home_page_a_write_it_does_not_show_leaves_kept(client, app, monkeypatch):
    from piratebox import pages

    renders = renderings_of("home.html", monkeypatch, pages)
    offer(client, title="Parapluie")
    older = only_item()
    for number in range(6):
        offer(client, title=f"Luge {number}")
    assert "Luge 5" in text_of(app.test_client().get("/"))
    assert len(renders) == 1
    rename_behind_the_cache(older.id, "Ombrelle")  # no longer among the six newest
    app.extensions["page_cache"].changed(("catalogue",))
    assert "Ombrelle" not in text_of(app.test_client().get("/"))
    assert len(renders) == 1, "what it shows is the same: kept"
    offer(client, title="Vélo d'enfant")
    assert "Vélo d" in text_of(app.test_client().get("/")), "a new object shows"
    post_from_page(app.test_client(), "/board/", "/board/", {"text": "Qui a une échelle ?"})
    assert "Qui a une échelle ?" in text_of(app.test_client().get("/")), "a new message too"
    assert len(renders) == 3


def test_the_files_filters_and_form_show_a_new_folder(client, app):
    from tests.test_files import upload

    upload(client, [("recette.txt", b"farine, oeufs")], folder="Cuisine")
    page = text_of(app.test_client().get("/files/"))
    assert '<option value="Cuisine"' in page and "Mairie" not in page
    upload(client, [("compte-rendu.txt", b"le conseil")], folder="Mairie")
    page = text_of(app.test_client().get("/files/"))
    # once in the filter, once in the form's list of folders: both kept as rows
    assert page.count('<option value="Mairie"') == 2


def test_a_list_read_narrow_reads_whole_only_the_records_whose_row_is_not_kept(
        client, app, monkeypatch):
    from piratebox.files import logic
    from tests.test_files import upload

    read_whole = []
    by_ids = logic.by_ids
    monkeypatch.setattr(logic, "by_ids", lambda query, ids: read_whole.append(ids) or by_ids(
        query, ids))
    upload(client, [("recette.txt", b"farine"), ("plan.txt", b"la salle")])
    assert "plan.txt" in text_of(app.test_client().get("/files/"))
    assert sorted(len(ids) for ids in read_whole) == [2]
    upload(client, [("affiche.txt", b"fete du village")])
    read_whole.clear()
    page = text_of(app.test_client().get("/files/"))
    assert "affiche.txt" in page and "recette.txt" in page and "plan.txt" in page
    assert [len(ids) for ids in read_whole] == [1], "the new file only"


def test_a_record_written_between_its_narrow_and_its_whole_read_shows_as_it_is_now(app):
    """...and its row is not kept under the version the narrow read saw (the write renders
    the page again, and the row is kept then)."""
    from flask import g, render_template_string

    from piratebox.board import logic

    cache = app.extensions["page_cache"]
    list_page = '{{ kept_rows("board/_message.html", "message", messages) }}'
    with app.test_request_context("/board/"):
        app.preprocess_request()
        logic.post({"text": "Qui a une échelle ?", "pseudonym": ""}, app.extensions["box"].actor())
        now = app.extensions["box"].clock.now()
        narrow = logic.page(now, 30, 1)[0]
        (message,) = Message.select()
        Message.update(text="Qui prête une échelle ?", version=Message.version + 1).where(
            Message.id == message.id).execute()
        g.kept_rows = (cache, ("board.index",))
        assert "Qui prête une échelle ?" in render_template_string(list_page, messages=narrow)
        assert cache.rows([("board.index", "board/_message.html", *narrow[0])]) == [None]
        narrow = logic.page(now, 30, 1)[0]
        assert "Qui prête une échelle ?" in render_template_string(list_page, messages=narrow)
        (kept,) = cache.rows([("board.index", "board/_message.html", *narrow[0])])
        assert "Qui prête une échelle ?" in kept, "kept under the version written"
        g.kept_rows = None


def test_a_list_read_narrow_must_carry_what_its_rows_show(client, app):
    from flask import g, render_template_string

    from piratebox.files import logic
    from tests.test_files import upload

    upload(client, [("recette.txt", b"farine")])
    with app.test_request_context("/files/"):
        app.preprocess_request()
        files, _total = logic.browse({}, 1, app.extensions["box"].clock.now())
        g.kept_rows = (app.extensions["page_cache"], ("files.index",))
        with pytest.raises(ValueError, match="downloads"):
            render_template_string('{{ kept_rows("files/_row.html", "file", files) }}',
                                   files=files)
        g.kept_rows = None


def test_a_requests_page_shows_an_answer_changed_hidden_or_deleted(client, app):
    client.post("/items/new", data={
        "csrf_token": csrf_from(text_of(client.get("/items/new"))), "kind": "request",
        "mode": "give", "title": "Vélo enfant", "category": "bikes", "place": "home"})
    wanted = only_item_titled("Vélo enfant")
    page = f"/items/{wanted.id}"
    offer(app.test_client(), title="Vélo 16 pouces", category="bikes", answers=wanted.id)
    answer = only_item_titled("Vélo 16 pouces")
    assert "Vélo 16 pouces" in text_of(app.test_client().get(page))
    rename_behind_the_cache(answer.id, "Vélo 20 pouces")
    offer(client, title="Chaise")
    assert "Vélo 20 pouces" in text_of(app.test_client().get(page)), "its new version"
    with db.connection_context():
        Item.update(hidden=True, version=Item.version + 1).where(Item.id == answer.id).execute()
    offer(client, title="Table")
    assert "Vélo 20 pouces" not in text_of(app.test_client().get(page)), "hidden"


def test_the_mediators_lists_read_narrow_keep_their_order(admin, app):
    """The mediator's pages are never kept: their lists are read whole, still newest first."""
    from tests.test_files import upload

    texts = [f"Message numéro {number:02d}" for number in range(12)]
    names = [f"fichier-{number}.txt" for number in range(12)]
    for text, name in zip(texts, names, strict=True):
        post_from_page(admin, "/board/", "/board/", {"text": text})
        upload(admin, [(name, text.encode())])
    board, files = text_of(admin.get("/board/")), text_of(admin.get("/files/"))
    assert [board.index(text) for text in reversed(texts)] == sorted(
        board.index(text) for text in texts)
    assert [files.index(f">{name}<") for name in reversed(names)] == sorted(
        files.index(f">{name}<") for name in names)


def rendered_whole(app, visitor, path, **kwargs):
    """The page as its template renders it whole, for the same visitor: no cache, no
    kept page served ahead."""
    cache = app.extensions["page_cache"]
    seconds, cache.seconds = cache.seconds, 0
    cache.shared_at = lambda environ: None
    try:
        return visitor.get(path, **kwargs).get_data()
    finally:
        cache.seconds = seconds
        del cache.shared_at


@pytest.fixture
def steady_disk(app, monkeypatch):
    """The file share's disk figures as they were: the host's other work may write between
    two pages that are compared."""
    from piratebox import spool

    figures = spool.disk_figures(app.extensions["box"].data_dir, app.config)
    monkeypatch.setattr(spool, "disk_figures", lambda data_dir, config: figures)


@pytest.mark.parametrize(("path", "language"), [
    ("/files/", "fr"), ("/files/?sort=name&folder=Cuisine", "fr"), ("/files/", "en")])
def test_the_file_share_after_an_upload_is_its_kept_frame_around_its_list(
        client, app, monkeypatch, steady_disk, path, language):
    from tests.test_files import upload

    visitor, headers = app.test_client(), {"Accept-Language": language}
    upload(client, [("recette.txt", b"farine, oeufs")], folder="Cuisine")
    assert "recette.txt" in text_of(visitor.get(path, headers=headers))
    upload(client, [("gateau.txt", b"sucre")], folder="Cuisine")
    renders = renderings_of("files/index.html", monkeypatch, pagecache)
    page = visitor.get(path, headers=headers).get_data()
    assert b"gateau.txt" in page
    assert not renders, "the frame is kept: only its list was rendered again"
    assert page == rendered_whole(app, visitor, path, headers=headers)
    renders.clear()
    upload(client, [("plan.txt", b"la salle")], folder="Mairie")  # a new folder...
    page = visitor.get(path, headers=headers).get_data()
    assert renders, "...is in the frame's filters: rendered again"
    assert page == rendered_whole(app, visitor, path, headers=headers)


def test_the_board_after_a_message_is_its_kept_frame_around_its_list(client, app, monkeypatch):
    visitor = app.test_client()
    post_from_page(client, "/board/", "/board/", {"text": "Qui a une échelle ?"})
    assert "Qui a une échelle ?" in text_of(visitor.get("/board/"))
    post_from_page(client, "/board/", "/board/", {"text": "Moi, au lavoir."})
    renders = renderings_of("board/index.html", monkeypatch, pagecache)
    page = visitor.get("/board/").get_data()
    assert b"Moi, au lavoir." in page
    assert not renders, "the frame is kept: only its list was rendered again"
    assert page == rendered_whole(app, visitor, "/board/")


def test_the_agenda_after_a_new_event_is_its_kept_frame_around_its_list(
        admin, app, monkeypatch):
    from tests.test_events import propose

    visitor = app.test_client()
    propose(admin, title="Repair café")  # the mediator's own: published at once
    assert "Repair café" in text_of(visitor.get("/events/"))
    propose(admin, title="Troc de graines", day="2030-04-02")
    renders = renderings_of("events/index.html", monkeypatch, pagecache)
    page = visitor.get("/events/").get_data()
    assert b"Troc de graines" in page
    assert not renders, "the frame is kept: only its list was rendered again"
    assert page == rendered_whole(app, visitor, "/events/")


@pytest.mark.parametrize(("path", "language"), [
    ("/items/", "fr"), ("/items/", "en"), ("/items/?q=etagere", "fr"),
    ("/items/?q=%C3%89tag%C3%A8re+pin&kind=offer&category=furniture_small&place=home", "en"),
    ("/items/?q=etagere&mode=give&status=all", "fr")])
def test_the_catalogue_after_a_new_object_is_its_kept_frame_around_its_list(
        client, app, monkeypatch, path, language):
    visitor, headers = app.test_client(), {"Accept-Language": language}
    offer(client, title="Étagère en pin")
    offer(client, title="Luge en bois", category="toys")
    assert "Étagère en pin" in text_of(visitor.get(path, headers=headers))
    offer(client, title="Étagère en pin, deux planches")
    by_view = renderings_of("catalogue/index.html", monkeypatch)
    by_cache = renderings_of("catalogue/index.html", monkeypatch, pagecache)
    lists = lists_rendered(app, "catalogue/_list.html", monkeypatch)
    page = visitor.get(path, headers=headers).get_data()
    assert "Étagère en pin, deux planches".encode() in page
    assert not by_view + by_cache, "the frame is kept: only its list was rendered again"
    assert lists, "the list was"
    assert page == rendered_whole(app, visitor, path, headers=headers)


def test_the_frames_of_list_pages_are_bounded_by_the_memory_they_hold(client, app, steady_disk):
    import sys

    from piratebox.pagecache import MAX_FRAME_BYTES

    visitor = app.test_client()
    # a visitor making up long query strings, with a character that makes Python hold the
    # whole frame at 4 bytes a character
    junk = quote("🚲" + "x" * 1500)
    for number in range(120):
        assert visitor.get(f"/files/?q={junk}{number}").status_code == 200
    cache = app.extensions["page_cache"]
    held = sum(sys.getsizeof(piece) for frame in cache._frames.values()
               for piece in frame.pieces)
    assert MAX_FRAME_BYTES * 0.8 < held <= MAX_FRAME_BYTES
    assert cache._frames_bytes == held
    assert not any("files/index.html" in key for key in cache._rows), "not among the rows"
    # the newest is kept, and served right
    newest = visitor.get(f"/files/?q={junk}119").get_data()
    assert newest == rendered_whole(app, visitor, f"/files/?q={junk}119")
