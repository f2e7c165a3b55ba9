"""Translations with the standard library only: message catalogues are .po files read at start.

Messages in the code are English; French is the default language of the screen. A .po
file is read directly (no compiled .mo, no Babel), so editing a translation needs no
tool. Plural rules are given here for the languages the box ships.
"""

import ast
import re
from functools import cache
from pathlib import Path

CATALOGUES = Path(__file__).parent / "translations"

PLURAL_RULES = {
    "fr": lambda n: 0 if n <= 1 else 1,
    "en": lambda n: 0 if n == 1 else 1,
}


PO_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
PO_ESCAPE = re.compile(r"\\(.)")


def po_string(quoted):
    """The text of a quoted .po string: "a \\"b\\"\\n" -> a "b" and a new line. (What
    ast.literal_eval did, several times faster: the catalogue is read at each start.)"""
    inner = quoted.strip()[1:-1]
    if "\\" not in inner:
        return inner
    return PO_ESCAPE.sub(lambda match: PO_ESCAPES.get(match.group(1), match.group(1)), inner)


def parse_po(text):
    """Return {msgid: msgstr} and {msgid: [plural forms]} from the text of a .po file."""
    singles, plurals = {}, {}
    entry, field = {}, None

    def flush():
        msgid = entry.get("msgid")
        if msgid and "msgid_plural" in entry:
            forms = [entry[key] for key in sorted(entry) if key.startswith("msgstr[")]
            if all(forms):
                plurals[msgid] = forms
        elif msgid and entry.get("msgstr") and "fuzzy" not in entry.get("flags", ""):
            singles[msgid] = entry["msgstr"]

    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#,"):
            if "msgid" in entry:
                flush()
                entry = {}
            entry["flags"] = line
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[field] += po_string(line)
        else:
            keyword, _, rest = line.partition(" ")
            if keyword == "msgid" and "msgid" in entry:
                flush()
                entry = {key: value for key, value in entry.items() if key == "flags"}
            field = keyword
            entry[field] = po_string(rest)
    if entry:
        flush()
    return singles, plurals


@cache
def catalogue(language):
    path = CATALOGUES / f"{language}.po"
    if not path.exists():
        return {}, {}
    return parse_po(path.read_text(encoding="utf-8"))


class Translator:
    def __init__(self, language):
        self.language = language
        self.singles, self.plurals = catalogue(language)
        self.plural_index = PLURAL_RULES.get(language, PLURAL_RULES["en"])

    def gettext(self, message):
        return self.singles.get(message, message)

    def ngettext(self, singular, plural, n):
        forms = self.plurals.get(singular)
        if forms:
            return forms[min(self.plural_index(n), len(forms) - 1)]
        return singular if n == 1 else plural


def N_(message):
    """Mark a module-level string for translation; it is translated where it is shown."""
    return message


def best_language(accept_language, supported, default):
    """The first supported language of an Accept-Language header, by quality."""
    choices = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in supported and quality > 0:
            choices.append((-quality, position, primary))
    return min(choices)[2] if choices else default


# --- finding the messages (for scripts/messages.py and the tests) -------------------------

MARKERS = {"_", "gettext", "N_", "ngettext"}
TEMPLATE_CALL = re.compile(r"""\b(?:_|gettext|ngettext)\(\s*(["'])((?:\\.|(?!\1).)*)\1""", re.S)


def messages_in_python(source):
    """Message ids in Python source: first argument of _(), gettext(), N_(), ngettext()."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        first = node.args[0]
        if name in MARKERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.append(first.value)
    return found


def messages_in_template(source):
    return [match.group(2) for match in TEMPLATE_CALL.finditer(source)]


def messages_in_tree(root):
    root = Path(root)
    found = set()
    for path in [root / "app.py", *sorted((root / "piratebox").rglob("*.py"))]:
        found.update(messages_in_python(path.read_text(encoding="utf-8")))
    for path in sorted((root / "templates").rglob("*.html")):
        found.update(messages_in_template(path.read_text(encoding="utf-8")))
    return found
