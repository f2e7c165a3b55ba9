"""The mediator's sync, backup and stick pages and the printables are read at their first
request (piratebox/lazyviews.py): a server that has served the village's pages holds none
of their code, yet links to them resolve on every page and they are guarded as before."""

import json
import sys
import urllib.request

import pytest
from flask import url_for

from piratebox.lazyviews import LazyBlueprint
from tests.conftest import csrf_from
from tests.server import Server
from tests.test_files import only_file, upload

# Runs `python app.py ... serve` in this process and writes, as it exits, the modules it
# had imported.
RECORD_MODULES = """
import atexit, json, runpy, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = sys.argv[3:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""
LAZY_MODULES = {"piratebox.printing.views", "piratebox.printing.qr", "piratebox.sync.views",
                "piratebox.backup.views", "piratebox.files.stick_views",
                "piratebox.files.from_stick", "subprocess"}
VILLAGE_PAGES = ["/", "/items/", "/items/?q=velo", "/files/", "/board/", "/events/",
                 "/stats/", "/api/v1/items", "/initiatives/", "/healthz"]


def modules_after(data_dir, tmp_path, paths):
    """The modules a fresh server had imported once it had answered `paths`, in order."""
    out = tmp_path / "modules.json"
    with Server(data_dir.path, wrapper=(sys.executable, "-c", RECORD_MODULES, str(out))) as server:
        pages = {}
        for path in paths:
            with urllib.request.urlopen(server.base + path) as response:
                pages[path] = response.read().decode()
    return set(json.loads(out.read_text())), pages


@pytest.fixture
def shared(app, client):
    """A file in the share: its page shows its QR code, drawn by the printables' views."""
    assert upload(client, [("notes.txt", b"Compte rendu du conseil")]).status_code == 303
    return f"/files/{only_file().id}"


@pytest.mark.slow
def test_a_server_that_served_the_village_has_not_read_the_mediators_pages(
        data_dir, tmp_path, shared):
    modules, pages = modules_after(data_dir, tmp_path, [*VILLAGE_PAGES, shared])
    assert "piratebox.files.views" in modules  # what was served is what it records
    assert modules & LAZY_MODULES == set()
    # links to them were built all the same, on the pages that show them
    assert f'src="/qr/files/{shared.rsplit("/", 1)[1]}.svg"' in pages[shared]
    assert 'href="/admin/"' in pages["/"]


@pytest.mark.slow
def test_a_lazy_page_is_read_at_its_first_request_and_a_mediators_after_the_login(
        data_dir, tmp_path):
    modules, pages = modules_after(data_dir, tmp_path,
                                   ["/qr/site.svg", "/admin/sync", "/admin/files/stick"])
    assert {"piratebox.printing.views", "piratebox.printing.qr"} <= modules
    assert pages["/qr/site.svg"].startswith("<svg")
    # a stranger asking for the mediator's pages was sent to the mediator's area (here a
    # box with no password yet), and loaded none of them
    assert "set-password" in pages["/admin/sync"] and "set-password" in pages["/admin/files/stick"]
    assert modules & {"piratebox.sync.views", "piratebox.files.stick_views",
                      "piratebox.backup.views"} == set()


def lazy_rules(app):
    return [rule for rule in app.url_map.iter_rules()
            if isinstance(app.blueprints.get(rule.endpoint.split(".")[0]), LazyBlueprint)]


def test_the_lazy_blueprints_are_the_printables_sync_backup_and_stick(app):
    assert {rule.endpoint.split(".")[0] for rule in lazy_rules(app)} == {
        "printing", "sync", "backup", "stick_files"}


def test_every_lazy_address_is_built_by_url_for(app):
    with app.test_request_context():
        for rule in lazy_rules(app):
            values = {name: "x" for name in rule.arguments}
            built = url_for(rule.endpoint, **values)
            method = min(rule.methods - {"HEAD", "OPTIONS"})
            assert app.url_map.bind("box").match(built, method=method)[0] == rule.endpoint


@pytest.mark.parametrize("path", ["/admin/sync", "/admin/files/stick", "/admin/settings",
                                  "/admin/labels"])
def test_a_lazy_mediators_page_sends_a_stranger_to_the_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/")


def test_every_lazy_post_is_refused_without_its_form_token(app, admin):
    posts = [rule for rule in lazy_rules(app) if "POST" in rule.methods]
    assert len(posts) >= 7
    for rule in posts:
        path = rule.rule.replace("<entry_id>", "x")
        assert admin.post(path, data={}).status_code == 403, path
        # and the token a page gives lets it through to the view (which may refuse the form)
        token = csrf_from(admin.get("/admin/sync").get_data(as_text=True))
        assert admin.post(path, data={"csrf_token": token}).status_code != 403, path


def test_a_lazy_view_keeps_the_body_it_accepts_for_the_servers_guard(app):
    from piratebox import bodies

    upload_rule = bodies.rule_for(app, "sync.upload")
    assert upload_rule.kind == "bundle" and upload_rule.mediator_only
    assert bodies.rule_for(app, "sync.download").kind == "form"
    assert bodies.largest(app.config) >= upload_rule.max_bytes
