"""A language without code: the catalogue template made from the code, a language added as a
.po file only (the shipped Occitan start, and one dropped in at run time), French where
it says nothing yet."""

import marshal
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piratebox import i18n
from piratebox.i18n import Translator, parse_po, plural_expression
from tests.server import ROOT


def test_the_catalogue_template_is_up_to_date_and_holds_every_message():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "extract-messages.py"),
                           "--check"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    template = (i18n.CATALOGUES / "messages.pot").read_text(encoding="utf-8")
    for message in i18n.messages_in_tree(ROOT):
        assert f"msgid {i18n.po_quote(message)}\n" in template
    # placeholders are flagged for the translator, and plurals come in pairs
    assert "#, python-brace-format\nmsgid \"The stick could not be read ({error})" in template
    assert ('msgid "{num} phone came to the box today"\n'
            'msgid_plural "{num} phones came to the box today"') in template
    singles, plurals = parse_po(template)
    assert singles == {} and plurals == {}  # nothing translated: nothing taken from it


def test_the_occitan_catalogue_is_offered_and_french_fills_its_gaps(client):
    page = client.get("/", headers={"Accept-Language": "oc, fr;q=0.5"}).get_data(as_text=True)
    assert '<html lang="oc">' in page
    assert "Acuèlh" in page and "Objèctes" in page  # translated in oc.po
    assert "Babillard" in page  # not yet: the French word
    assert 'hreflang="oc"' in client.get("/?", headers={"Accept-Language": "fr"}).get_data(
        as_text=True)


def test_a_catalogues_plural_rule_comes_from_its_header():
    occitan = Translator("oc")
    assert [occitan.ngettext("{num} phone came to the box today",
                             "{num} phones came to the box today", n) .format(num=n)
            for n in (0, 1, 2)] == ["0 telefòn es vengut a la bóstia uèi",
                                    "1 telefòn es vengut a la bóstia uèi",
                                    "2 telefòns son venguts a la bóstia uèi"]
    # a plural the catalogue lacks is French's, with French's rule
    assert occitan.ngettext("{num} box", "{num} boxes", 2) == "{num} boîtes"


ARPITAN = """msgid ""
msgstr ""
"Language: frp\\n"
"Content-Type: text/plain; charset=UTF-8\\n"
"Plural-Forms: nplurals=3; plural=(n==0 ? 0 : n==1 ? 1 : 2);\\n"

msgid "Home"
msgstr "Mêson"

msgid "{num} box"
msgid_plural "{num} boxes"
msgstr[0] "gins de bouèta"
msgstr[1] "{num} bouèta"
msgstr[2] "{num} bouètes"
"""


@pytest.fixture
def catalogues(tmp_path, monkeypatch):
    """The shipped catalogues and one more, dropped in the folder as a translator would."""
    folder = tmp_path / "translations"
    folder.mkdir()
    for path in i18n.CATALOGUES.glob("*.po"):
        (folder / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(i18n, "CATALOGUES", folder)
    caches = (i18n.catalogue, i18n.plural_rule, i18n.available_languages,
              i18n.offered_languages)
    for cached in caches:
        cached.cache_clear()
    yield folder
    for cached in caches:
        cached.cache_clear()


def test_a_po_file_dropped_in_the_folder_is_a_new_language(catalogues, make_app):
    (catalogues / "frp.po").write_text(ARPITAN, encoding="utf-8")
    assert i18n.available_languages() == ("fr", "en", "frp", "oc")
    frp = {"Accept-Language": "frp, fr;q=0.5"}
    page = make_app().test_client().get("/", headers=frp).get_data(as_text=True)
    assert '<html lang="frp">' in page and "Mêson" in page
    assert "Objets" in page  # French, where the catalogue says nothing
    arpitan = Translator("frp")
    assert [arpitan.ngettext("{num} box", "{num} boxes", n) .format(num=n)
            for n in (0, 1, 7)] == ["gins de bouèta", "1 bouèta", "7 bouètes"]
    only_two = make_app(LANGUAGES="fr,en").test_client()
    assert '<html lang="fr">' in only_two.get("/", headers=frp).get_data(as_text=True)


def test_a_catalogue_is_text_never_code(catalogues, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (catalogues / "xx.po").write_text(ARPITAN.replace(
        "(n==0 ? 0 : n==1 ? 1 : 2)", '__import__(\\"os\\").system(\\"touch pwned\\")'),
        encoding="utf-8")
    xx = Translator("xx")
    assert xx.gettext("Home") == "Mêson"  # the messages are read...
    assert xx.ngettext("{num} box", "{num} boxes", 2) == "{num} bouèta"  # ...not that
    assert not (tmp_path / "pwned").exists()
    (catalogues / "yy.po").write_text('"a line of nothing"\nmsgid "Home"\nmsgstr "Maison"\n',
                                      encoding="utf-8")
    assert Translator("yy").gettext("Home") == "Accueil"  # left aside: French
    assert Translator("../../etc/passwd").gettext("Home") == "Accueil"  # no path, French


def test_a_catalogue_read_once_is_kept_in_the_data_directory_while_its_file_is_the_same(
        catalogues, make_app, monkeypatch):
    monkeypatch.setattr(i18n, "_kept_in", None)
    kept = make_app().extensions["box"].data_dir.cache / "translations" / "frp.po.marshal"
    (catalogues / "frp.po").write_text(ARPITAN, encoding="utf-8")
    assert Translator("frp").gettext("Home") == "Mêson"
    assert kept.exists()
    # the next start takes the catalogue from the kept copy, not from the .po file...
    key, (singles, plurals, problems) = marshal.loads(kept.read_bytes())  # noqa: S302 - ours
    kept.write_bytes(marshal.dumps([key, ({**singles, "Home": "Kept"}, plurals, problems)]))
    i18n.catalogue.cache_clear()
    assert Translator("frp").gettext("Home") == "Kept"
    # ...while the file is the same: a translator's edit is read at the next start
    (catalogues / "frp.po").write_text(ARPITAN.replace("Mêson", "Méson"), encoding="utf-8")
    i18n.catalogue.cache_clear()
    assert Translator("frp").gettext("Home") == "Méson"
    # a copy cut short is read again from the file, and replaced
    kept.write_bytes(kept.read_bytes()[:40])
    i18n.catalogue.cache_clear()
    assert Translator("frp").gettext("Home") == "Méson"
    assert marshal.loads(kept.read_bytes())[1][0]["Home"] == "Méson"  # noqa: S302 - ours


def test_the_figures_page_in_occitan_says_in_french_what_it_does_not_translate(app):
    page = app.test_client().get("/stats/", headers={"Accept-Language": "oc"}).get_data(
        as_text=True)
    assert "Çò que càmbia la bóstia de dons" in page and "Frequentacion" in page
    assert "Comment on compte" in page  # not translated yet


def reference_polish(n):
    return 0 if n == 1 else 1 if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14 else 2


@given(st.integers(min_value=0, max_value=10**6))
def test_a_plural_rule_reads_as_gettext_means_it(n):
    assert plural_expression("(n > 1)")(n) == i18n.PLURAL_RULES["fr"](n)
    polish = plural_expression("(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) "
                               "? 1 : 2)")
    assert polish(n) == reference_polish(n)


def test_the_languages_can_be_narrowed_in_the_configuration(make_app):
    assert 'hreflang="oc"' in make_app().test_client().get("/").get_data(as_text=True)
    narrowed = make_app(LANGUAGES="fr,oc").test_client().get("/").get_data(as_text=True)
    assert 'hreflang="oc"' in narrowed and 'hreflang="en"' not in narrowed


TYPO = ARPITAN + """
msgid "({num} taker answered.)"
msgid_plural "({num} takers answered.)"
msgstr[0] "({nombre} at rèpondu.)"
msgstr[1] "({num} ant rèpondu.)"
msgstr[2] "({num} ant rèpondu.)"

msgid "Board"
msgstr "Pàrla {de}"
"""


def check_script(path):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "messages.py"), "--check",
                           str(path)], capture_output=True, text=True, check=False)


def test_a_translation_with_other_placeholders_is_left_out_said_once_and_checked(
        catalogues, make_app, caplog):
    (catalogues / "frp.po").write_text(TYPO, encoding="utf-8")
    phones = make_app().test_client()
    for _ in range(2):
        page = phones.get("/stats/", headers={"Accept-Language": "frp"})
        assert page.status_code == 200
        assert "(0 personne a répondu.)" in page.get_data(as_text=True)  # French instead
    assert Translator("frp").gettext("Board") == "Babillard"
    warned = [record.getMessage() for record in caplog.records
              if "frp.po" in record.getMessage()]
    assert len(warned) == 2  # once each, at load
    assert any("'({num} taker answered.)'" in line for line in warned)
    assert any("'Board'" in line for line in warned)
    checked = check_script(catalogues / "frp.po")
    assert checked.returncode == 1
    assert "({nombre} at rèpondu.)" in checked.stdout and "Pàrla {de}" in checked.stdout
    assert check_script(catalogues / "fr.po").returncode == 0


def test_a_catalogue_that_does_not_parse_is_not_offered_and_the_log_says_why(
        catalogues, make_app, caplog):
    (catalogues / "br.po").write_text(ARPITAN.replace('msgstr "Mêson"', 'msgstr "Mêson'),
                                      encoding="utf-8")
    assert i18n.available_languages() == ("fr", "en", "oc")
    page = make_app().test_client().get("/").get_data(as_text=True)
    assert 'hreflang="br"' not in page and 'hreflang="oc"' in page
    assert any("br.po" in record.getMessage() and "line" in record.getMessage()
               for record in caplog.records)
    checked = check_script(catalogues / "br.po")
    assert checked.returncode == 1 and "line" in checked.stdout
