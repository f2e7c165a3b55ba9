"""What the server keeps in memory: its templates are compiled by a child process before
the first visit, so that the heap of the process that serves the village never holds
the compilation's leftovers (figures in docs/benchmarks.md, "Fourth round: memory")."""

import urllib.request

import pytest
from jinja2 import DictLoader, Environment

from piratebox import tuning
from tests.server import ROOT, Server

pytestmark = pytest.mark.slow

TEMPLATES = sorted(path.relative_to(ROOT / "templates").as_posix()
                   for path in (ROOT / "templates").rglob("*.html"))


def compiled_folder(data_dir):
    return data_dir.cache / "templates"


def compiled_files(data_dir):
    return {path.name: path.stat().st_mtime_ns
            for path in compiled_folder(data_dir).glob("*.jinja")}


def test_serve_compiles_every_template_before_the_first_visit(data_dir, app):
    with Server(data_dir.path, compiled_templates=False):
        compiled = compiled_files(data_dir)
        stamp = (compiled_folder(data_dir) / tuning.COMPILED_STAMP).read_text()
    assert len(compiled) == len(TEMPLATES)
    assert stamp == tuning.templates_digest(app.jinja_env)


def test_a_restart_compiles_nothing_again(data_dir):
    with Server(data_dir.path, compiled_templates=False):
        first = compiled_files(data_dir)
    with Server(data_dir.path, compiled_templates=False) as server:
        with urllib.request.urlopen(server.base + "/items/") as response:
            assert response.status == 200
        assert compiled_files(data_dir) == first


def test_templates_changed_since_the_last_start_are_compiled_again(data_dir, app):
    """As after an upgrade: the kept copies no longer match the sources."""
    with Server(data_dir.path, compiled_templates=False):
        pass
    folder = compiled_folder(data_dir)
    (folder / tuning.COMPILED_STAMP).write_text("the digest of older templates")
    for path in folder.glob("*.jinja"):
        path.unlink()
    with Server(data_dir.path, compiled_templates=False):
        assert len(compiled_files(data_dir)) == len(TEMPLATES)
        assert (folder / tuning.COMPILED_STAMP).read_text() == tuning.templates_digest(
            app.jinja_env)


def test_a_box_whose_cache_cannot_be_written_still_serves_its_pages(data_dir):
    data_dir.cache.mkdir(exist_ok=True)
    compiled_folder(data_dir).write_text("a file where the folder should be")
    with Server(data_dir.path, compiled_templates=False) as server, \
            urllib.request.urlopen(server.base + "/") as response:
        assert response.status == 200
        assert "Bienvenue" in response.read().decode()


@pytest.mark.parametrize("change", [
    {"a.html": "A changed", "b.html": "B"},
    {"a.html": "A", "c.html": "B"},
    {"a.html": "A", "b.html": "B", "c.html": ""},
])
def test_the_templates_digest_changes_with_any_template(change):
    def digest(templates):
        return tuning.templates_digest(Environment(loader=DictLoader(templates),
                                                   autoescape=True))

    before = {"a.html": "A", "b.html": "B"}
    assert digest(before) == digest(dict(before))
    assert digest(change) != digest(before)
