"""Translations with the standard library only: message catalogues are .po files read at start.

Messages in the code are English; French is the default language of the screen. A .po
file is read directly (no compiled .mo, no Babel), so editing a translation needs no
tool. Plural rules are given here for the languages the box ships.

Translators see one placeholder syntax, `{name}` (str.format), in every message: the
pages', the command line's and the domain's (`Message`) alike.
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


ENGLISH = Translator("en")
VERBATIM = "{text}"  # a text kept as it was written (no message id to translate)


class Message:
    """A sentence said now and shown later, in the reader's language: a message id with
    {name} placeholders and their values (a value may be a Message too); with `plural` and
    `count`, the form that agrees with the count ({count} in the text). It keeps as JSON,
    so a sync's summary is shown translated on the page long after the command ran."""

    def __init__(self, text, plural=None, count=None, **values):
        self.text, self.plural, self.count, self.values = text, plural, count, values

    def localized(self, translator=ENGLISH):
        text = (translator.ngettext(self.text, self.plural, self.count) if self.plural
                else translator.gettext(self.text))
        values = {name: value.localized(translator) if isinstance(value, Message) else value
                  for name, value in self.values.items()}
        return text.format(count=self.count, **values)

    def __str__(self):
        return self.localized()

    def __repr__(self):
        return f"Message({self.localized()!r})"

    def to_json(self):
        return {"text": self.text, "plural": self.plural, "count": self.count,
                "values": {name: _kept(value) for name, value in self.values.items()}}

    @classmethod
    def from_json(cls, data):
        """A message kept earlier; a plain text (what older versions kept) as it is."""
        if isinstance(data, str):
            return cls(VERBATIM, text=data)
        values = {name: cls.from_json(value) if isinstance(value, dict) else value
                  for name, value in data.get("values", {}).items()}
        return cls(data["text"], data.get("plural"), data.get("count"), **values)


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


def _kept(value):
    """A message's value as JSON keeps it: a message as one, a number or a text as it is,
    anything else (a path, an error) as its text."""
    if isinstance(value, Message):
        return value.to_json()
    return value if isinstance(value, str | int | float | None) else str(value)


# --- finding the messages (for scripts/messages.py and the tests) -------------------------

MARKERS = {"_", "gettext", "N_", "ngettext", "Message"}
TEMPLATE_CALL = re.compile(r"""\b(?:_|gettext|ngettext)\(\s*(["'])((?:\\.|(?!\1).)*)\1""", re.S)


def messages_in_python(source):
    """Message ids in Python source: first argument of _(), gettext(), N_(), ngettext(),
    and the docstrings of command-line commands (their --help)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and any(map(is_command_decorator,
                                                         node.decorator_list)):
            found.append(ast.get_docstring(node, clean=True))
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        first = node.args[0]
        if name in MARKERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.append(first.value)
        if name == "plural" and len(node.args) > 1 and isinstance(first, ast.Constant):
            found.append(first.value)  # Voice.plural(singular, plural, n)
    return [message for message in found if message]


def is_command_decorator(node):
    """@cli.command(...), @something.group(...), @click.group(...)."""
    target = node.func if isinstance(node, ast.Call) else node
    return isinstance(target, ast.Attribute) and target.attr in ("command", "group")


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


class Voice:
    """The language the command line speaks: French by default, like the screen; English
    with PIRATEBOX_LANG=en or `piratebox --lang en`. The same catalogue as the pages."""

    def __init__(self, language="fr"):
        self.use(language)

    def use(self, language):
        self.translator = Translator(language if language in PLURAL_RULES else "fr")

    @property
    def language(self):
        return self.translator.language

    def __call__(self, message, /, **params):
        text = self.translator.gettext(message)
        return text.format(**params) if params else text

    def plural(self, singular, plural, n, **params):
        return self.translator.ngettext(singular, plural, n).format(**{"num": n, **params})


def english(message, /, **params):
    """The message as written in the code: what a library function says when its caller
    gives it no translation (tests, the web's own summaries)."""
    return message.format(**params) if params else message


def print_progress(message, /, **params):
    """Progress in the code's own words, when no terminal language was chosen."""
    print(english(message, **params))  # noqa: T201 - the command line's progress


def say_nothing(message, /, **params):
    """For progress nobody reads (a page waits for the whole answer)."""
