import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import Setting, db
from tests.conftest import post_from_page


def test_home_is_french_by_default(client):
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="fr">' in html
    assert "Bienvenue sur la boîte Saint-Bonnet" in html


def test_english_follows_the_browser_and_the_switch_wins(client):
    html = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert "Welcome to the Saint-Bonnet box" in html
    response = client.get("/lang/fr?next=/admin/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/")
    html = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Bienvenue" in html


@pytest.mark.parametrize("target", ["http://evil.example/", "//evil.example/", "javascript:x",
                                    "/\\evil.example/", "/\r\nSet-Cookie:x=1"])
def test_the_language_switch_never_sends_a_phone_elsewhere(client, target):
    response = client.get("/lang/en", query_string={"next": target})
    assert response.headers["Location"] in ("/", "http://localhost/")


def test_every_page_carries_the_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_pages_load_no_script_or_style_from_elsewhere(client):
    html = client.get("/").get_data(as_text=True)
    assert "http://" not in html.replace("http://localhost", "")
    assert "https://" not in html


def test_an_unknown_page_is_a_404_in_the_layout(client):
    response = client.get("/nothing-here")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "Cette page n’existe pas." in html and "<nav" in html
    assert "Traceback" not in html


def test_a_wrong_method_is_a_405_page(client):
    response = client.post("/healthz")
    assert response.status_code in (403, 405)  # refused either way, never run


@pytest.mark.parametrize(("path", "size", "says"), [
    ("/admin/login", 64 * 1024 + 1, "64 Ko au plus"),  # a text form
    ("/items/new", 2 * 1024 * 1024 + 1, "2 Mo au plus"),  # a form with photos
])
def test_an_oversized_body_is_a_413_page(make_app, path, size, says):
    client = make_app(MAX_CONTENT_LENGTH=2 * 1024 * 1024).test_client()
    response = client.post(path, data={"password": "x" * size})
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "trop gros" in html and says in html


def test_invalid_utf8_in_a_query_is_a_400_page(client):
    response = client.get("/?q=%ff%fe")
    assert response.status_code == 400
    assert "UTF-8" in response.get_data(as_text=True)


@pytest.mark.parametrize("query", ["q=%00", "q%00=x", "q=%EF%BF%BD", "a=1&q=x%ffy", "q=\ufffd"])
def test_broken_text_in_a_query_key_or_value_is_a_400_page(client, query):
    assert client.get("/items/?" + query).status_code == 400


def test_a_query_of_plain_utf8_text_is_read(client):
    response = client.get("/items/?q=%C3%A9tag%C3%A8re+ch%C3%AAne&kind=offer")
    assert response.status_code == 200
    assert 'value="étagère chêne"' in response.get_data(as_text=True)


def test_invalid_utf8_in_a_form_is_refused_and_nothing_is_written(admin):
    with db.connection_context():
        before = Setting.get_value("clock_offset")
    html = admin.get("/admin/").get_data(as_text=True)
    from tests.conftest import csrf_from

    response = admin.post(
        "/admin/clock",
        data=b"csrf_token=" + csrf_from(html).encode() + b"&typed=2026-01-01T10%ff",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    with db.connection_context():
        assert Setting.get_value("clock_offset") == before


def test_a_malformed_form_is_a_4xx_page(client):
    response = client.post(
        "/admin/login", data=b"--x\r\nnot multipart at all",
        content_type="multipart/form-data; boundary=x",
    )
    assert 400 <= response.status_code < 500


def test_a_post_without_the_csrf_token_is_refused_and_nothing_is_written(admin):
    with db.connection_context():
        before = Setting.get_value("clock_offset")
    response = admin.post("/admin/clock", data={"typed": "2030-01-01T10:00"})
    assert response.status_code == 403
    assert "formulaire" in response.get_data(as_text=True)
    with db.connection_context():
        assert Setting.get_value("clock_offset") == before


def test_a_forged_post_from_another_site_is_refused_even_with_a_token(admin):
    from tests.conftest import csrf_from

    token = csrf_from(admin.get("/admin/").get_data(as_text=True))
    for header in ({"Origin": "http://evil.example"}, {"Referer": "http://evil.example/x"}):
        response = admin.post("/admin/clock", data={"csrf_token": token,
                                                    "typed": "2030-01-01T10:00"},
                              headers=header)
        assert response.status_code == 403


def test_an_old_browser_without_origin_header_can_still_post(admin):
    response = post_from_page(admin, "/admin/", "/admin/clock",
                              {"typed": "2030-01-01T10:00"})
    assert response.status_code == 302


def test_healthz_reports_database_disk_and_version(client):
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["disk_free_bytes"] > 0
    assert body["version"]


def test_an_unexpected_error_is_a_500_page_without_traceback(app):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/boom")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "secret internals" not in html and "problème" in html


def test_compiled_templates_are_kept_for_the_next_start(make_app, data_dir):
    make_app().test_client().get("/")
    kept = {path: path.stat().st_mtime_ns
            for path in (data_dir.cache / "templates").glob("*.jinja")}
    assert len(kept) >= 3  # the home page, the layout, the object cards...
    assert make_app().test_client().get("/").status_code == 200
    assert {path: path.stat().st_mtime_ns for path in kept} == kept, "read, not compiled again"


def test_a_compiled_template_cut_short_by_a_power_cut_is_compiled_again(make_app, data_dir):
    make_app().test_client().get("/")
    for path in (data_dir.cache / "templates").glob("*.jinja"):
        path.write_bytes(path.read_bytes()[:20])
    response = make_app().test_client().get("/")
    assert response.status_code == 200 and "Bienvenue" in response.get_data(as_text=True)
    assert all(path.stat().st_size > 20 for path in (data_dir.cache / "templates").glob("*"))


def test_an_error_a_phone_repeats_is_logged_once_a_minute_with_its_count(app, caplog):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    with caplog.at_level("ERROR", logger="piratebox"):
        statuses = [client.get("/boom").status_code for _ in range(30)]
    logged = [record for record in caplog.records if record.name == "piratebox"]
    assert statuses == [500] * 30
    assert len(logged) == 1 and logged[0].exc_info
    limiter = app.extensions["limiter"]
    limiter.reset("traceback", "RuntimeError on boom")  # a minute later
    with caplog.at_level("ERROR", logger="piratebox"):
        client.get("/boom")
    assert "29 more like it" in caplog.records[-1].getMessage()


def signed_session(app, data):
    return app.session_interface.get_signing_serializer(app).dumps(data)


def test_a_session_cookie_read_again_from_memory_is_the_phones_own_copy(app):
    cookie = signed_session(app, {"owned": {"7": "token"}, "seen": 1, "just_uploaded": ["a"]})
    sessions = app.session_interface
    first = sessions.read(app, cookie)
    first["owned"]["8"] = "another"
    first["just_uploaded"].append("b")
    first["seen"] = 2
    assert sessions.read(app, cookie) == {"owned": {"7": "token"}, "seen": 1,
                                          "just_uploaded": ["a"]}


def test_a_session_cookie_kept_in_memory_expires_as_a_signed_one_does(app, monkeypatch):
    import time
    from datetime import timedelta

    app.permanent_session_lifetime = timedelta(days=1)
    cookie = signed_session(app, {"seen": 1})
    assert app.session_interface.read(app, cookie) == {"seen": 1}
    later = time.time() + 2 * 24 * 3600
    monkeypatch.setattr(time, "time", lambda: later)
    assert app.session_interface.read(app, cookie) == {}


def test_a_session_cookie_changed_by_a_single_character_is_no_session(app):
    phone = app.test_client()
    page = phone.get("/board/")
    cookie = page.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    token = app.session_interface.read(app, cookie)["csrf_token"]
    assert token in page.get_data(as_text=True)
    payload, rest = cookie.split(".", 1)
    forged = payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + rest
    assert app.session_interface.read(app, forged) == {}
    stranger = app.test_client(use_cookies=False)
    form = {"csrf_token": token, "text": "Bonjour", "author": "Jeanne"}
    refused = stranger.post("/board/", data=form, headers={"Cookie": f"cocote={forged}"})
    accepted = stranger.post("/board/", data=form, headers={"Cookie": f"cocote={cookie}"})
    assert refused.status_code == 403 and accepted.status_code == 302


def test_cookies_are_read_anew_when_they_change_and_huge_ones_are_not_kept(client):
    from piratebox import tuning

    english = client.get("/", headers={"Cookie": "lang=en"}).get_data(as_text=True)
    french = client.get("/", headers={"Cookie": "lang=fr"}).get_data(as_text=True)
    assert 'lang="en"' in english and 'lang="fr"' in french
    kept = len(tuning._parsed_cookies)
    for number in range(20):  # a visitor making up large headers
        client.get("/", headers={"Cookie": f"lang=en; junk{number}=" + "x" * 8000})
    assert len(tuning._parsed_cookies) == kept


def test_a_field_no_phone_sent_is_found_missing_without_an_error_raised(app, monkeypatch):
    from flask import request
    from werkzeug import exceptions

    from piratebox import tuning

    def raised(*args, **kwargs):
        raise AssertionError("an HTTP error made to find a field missing (some 3 µs)")

    with app.test_request_context("/files/?page=2&sort=name&sort=size",
                                  headers={"Cookie": "other=1"}):
        # the file share's filters, the language cookie: asked for, never sent
        monkeypatch.setattr(exceptions.BadRequestKeyError, "__init__", raised)
        assert request.args.get("q", "") == "" and request.args.get("q", type=int) is None
        assert tuning.cookies(request.environ).get("lang") is None
        monkeypatch.undo()
        assert request.args.get("page", type=int) == 2 and request.args.get("sort") == "name"
        assert request.args.getlist("sort") == ["name", "size"]
        assert request.args.get("sort", type=int) is None  # Werkzeug's: not a number
        assert tuning.cookies(request.environ).get("other") == "1"


@settings(max_examples=300, deadline=None)
@given(value=st.text(alphabet=st.characters(codec="ascii"), max_size=80),
       options=st.fixed_dictionaries({}, optional={
           "max_age": st.integers(0, 10**8), "path": st.sampled_from(["/", "/files/"]),
           "secure": st.booleans(), "httponly": st.booleans(),
           "samesite": st.sampled_from(["Lax", "Strict"]),
           "expires": st.integers(0, 2**31 - 1)}))
def test_a_cookie_is_written_as_werkzeug_writes_it(value, options):
    from flask import Response

    from piratebox.tuning import PlainCookieResponse

    ours, theirs = PlainCookieResponse(), Response()
    for response in (ours, theirs):
        response.set_cookie("lang", "fr")
        response.set_cookie("cocote", value, **options)
    assert ours.headers.getlist("Set-Cookie") == theirs.headers.getlist("Set-Cookie")


def test_the_box_writes_a_signed_session_without_werkzeugs_quoting(client, monkeypatch):
    from werkzeug import http

    quoted = []
    if hasattr(http, "_cookie_quote"):  # Werkzeug 2 (Debian 12's, OpenWrt's)
        original = http._cookie_quote
        monkeypatch.setattr(http, "_cookie_quote",
                            lambda value: quoted.append(value) or original(value))
    page = client.get("/board/")
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("cocote=") and "HttpOnly" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    assert len(value) > 40 and value.encode() not in quoted


def test_a_session_that_changes_forgets_the_cookie_it_replaces(app):
    from piratebox import tuning

    phone = app.test_client()
    page = phone.get("/board/")
    old = page.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    token = app.session_interface.read(app, old)["csrf_token"]
    header = f"cocote={old}"
    phone.get("/board/", headers={"Cookie": header})  # read once more: kept
    assert (app.secret_key, old) in app.session_interface._verified
    assert header in tuning._parsed_cookies
    posted = phone.post("/board/", data={"csrf_token": token, "text": "Bonjour"},
                        headers={"Cookie": header})
    assert posted.status_code == 302 and "cocote=" in posted.headers["Set-Cookie"]
    assert (app.secret_key, old) not in app.session_interface._verified
    assert header not in tuning._parsed_cookies
    # the cookie itself still opens its session, read again as any new one is
    assert app.session_interface.read(app, old)["csrf_token"] == token
