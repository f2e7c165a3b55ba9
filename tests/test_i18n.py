import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from piratebox.i18n import (
    Translator,
    best_language,
    catalogue,
    messages_in_tree,
    parse_po,
    po_string,
)

ROOT = Path(__file__).resolve().parent.parent


def test_every_message_on_screen_has_a_french_translation():
    singles, plurals = catalogue("fr")
    missing = sorted(messages_in_tree(ROOT) - set(singles) - set(plurals))
    assert missing == [], "run scripts/messages.py and translate: " + repr(missing)


def test_french_translations_keep_their_placeholders():
    singles, plurals = catalogue("fr")
    for msgid, msgstr in singles.items():
        for mark in ("%(", "{"):
            assert sorted(_marks(msgid, mark)) == sorted(_marks(msgstr, mark)), msgid
    for msgid, forms in plurals.items():
        for form in forms:
            assert set(_marks(form, "{")) <= set(_marks(msgid, "{")) | {"num"}, msgid


def test_translators_see_one_placeholder_syntax():
    singles, plurals = catalogue("fr")
    texts = [*messages_in_tree(ROOT), *singles.values(),
             *(form for forms in plurals.values() for form in forms)]
    assert [text for text in texts if re.search(r"%\(\w+\)", text)] == []


def _marks(text, opener):
    closer = ")" if opener == "%(" else "}"
    parts = text.split(opener)[1:]
    return [part.split(closer)[0] for part in parts]


def test_po_parsing_handles_continuations_plurals_escapes_and_fuzzy():
    singles, plurals = parse_po(r'''
msgid ""
msgstr "Language: fr\n"

msgid "Long "
"message"
msgstr "Message "
"long \"cité\""

#, fuzzy
msgid "Doubtful"
msgstr "Douteux"

msgid "{num} object"
msgid_plural "{num} objects"
msgstr[0] "{num} objet"
msgstr[1] "{num} objets"
''')
    assert singles == {"Long message": 'Message long "cité"'}
    assert plurals == {"{num} object": ["{num} objet", "{num} objets"]}


def test_french_plural_treats_zero_and_one_alike():
    translator = Translator("fr")
    translator.plurals = {"one": ["un", "plusieurs"]}
    assert [translator.ngettext("one", "many", n) for n in (0, 1, 2)] == [
        "un", "un", "plusieurs"]
    assert Translator("en").ngettext("one", "many", 0) == "many"


def test_the_browser_language_is_chosen_by_quality():
    supported = ["fr", "en"]
    assert best_language("en-US,en;q=0.9,fr;q=0.8", supported, "fr") == "en"
    assert best_language("de-DE,fr;q=0.5,en;q=0.7", supported, "fr") == "en"
    assert best_language("de, es", supported, "fr") == "fr"
    assert best_language("", supported, "fr") == "fr"
    assert best_language("en;q=0", supported, "fr") == "fr"
    assert best_language("en;q=abc", supported, "fr") == "fr"


@given(st.text())
def test_a_po_string_reads_back_as_the_messages_script_writes_it(text):
    import ast
    import importlib.util

    spec = importlib.util.spec_from_file_location("messages", ROOT / "scripts" / "messages.py")
    messages = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(messages)
    quoted = messages.po_quote(text)
    assert po_string(quoted) == text
    if not set(text) & {"\r", "\x00"}:  # what Python's reading of it gives, too
        assert po_string(quoted) == ast.literal_eval(quoted)
