"""Translations with the standard library only: message catalogues are .po files read at start.

Messages in the code are English; French is the default language of the screen. A .po
file is read directly (no compiled .mo, no Babel), so editing a translation needs no
tool. Any other language is a .po file dropped in piratebox/translations/ (LANG.po, made
from messages.pot, see docs/languages.md): the box offers it with no change to the code,
takes its plural rule from its Plural-Forms header, and says in French what it does not
translate yet.

Translators see one placeholder syntax, `{name}` (str.format), in every message: the
pages', the command line's and the domain's (`Message`) alike.
"""

import ast
import hashlib
import logging
import marshal
import re
import string
from functools import cache
from pathlib import Path

from piratebox.patterns import deferred
from piratebox.storage import atomic_write

CATALOGUES = Path(__file__).parent / "translations"

PLURAL_RULES = {
    "fr": lambda n: 0 if n <= 1 else 1,
    "en": lambda n: 0 if n == 1 else 1,
}
FALLBACK = "fr"  # what a language's catalogue does not say yet is said in French
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$")
PLURAL_FORMS = deferred(r"^Plural-Forms:.*?\bplural\s*=\s*([^;\n]+)", re.M)


PO_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
PO_ESCAPE = deferred(r"\\(.)")


PO_QUOTED = deferred(r'"(?:[^"\\]|\\.)*"')
PO_KEYWORD = deferred(r"^(?:msgctxt|msgid|msgid_plural|msgstr|msgstr\[\d+\])$")


def po_string(quoted):
    """The text of a quoted .po string: "a \\"b\\"\\n" -> a "b" and a new line. (What
    ast.literal_eval did, several times faster: the catalogue is read at each start.)
    ValueError when it is not one whole quoted string (a quote left open)."""
    quoted = quoted.strip()
    if not PO_QUOTED.fullmatch(quoted):
        raise ValueError(f"not a closed quoted string: {quoted[:40]}")
    inner = quoted[1:-1]
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

    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        try:
            if not line or line.startswith("#") and not line.startswith("#,"):
                continue
            if line.startswith("#,"):
                if "msgid" in entry:
                    flush()
                    entry = {}
                entry["flags"] = line
            elif line.startswith('"'):
                if field is None:
                    raise ValueError("a text with no msgid or msgstr before it")
                entry[field] += po_string(line)
            else:
                keyword, _, rest = line.partition(" ")
                if not PO_KEYWORD.match(keyword):
                    raise ValueError(f"unknown keyword {keyword[:20]}")
                if keyword == "msgid" and "msgid" in entry:
                    flush()
                    entry = {key: value for key, value in entry.items() if key == "flags"}
                field = keyword
                entry[field] = po_string(rest)
        except ValueError as error:
            raise ValueError(f"line {number}: {error}") from None
    if entry:
        flush()
    return singles, plurals


def placeholders(text):
    """The {name} fields of a message (attribute and index included), or None when it is
    not a valid format string (a brace left open)."""
    try:
        return {name for _text, name, _spec, _conversion in string.Formatter().parse(text)
                if name is not None}
    except ValueError:
        return None


def mismatched(singles, plurals, plural_ids=None):
    """The message ids whose translation has other placeholders than the message: a
    translation must keep a single message's placeholders, and a plural form may leave
    some out ("aucune boîte") but never bring one of its own (the page would fail)."""
    wrong = [msgid for msgid, msgstr in singles.items()
             if placeholders(msgstr) != placeholders(msgid)]
    for msgid, forms in plurals.items():
        allowed = (placeholders(msgid) or set()) | (
            placeholders((plural_ids or {}).get(msgid, "")) or set())
        if any(placeholders(form) is None or not placeholders(form) <= allowed
               for form in forms):
            wrong.append(msgid)
    return wrong


UNREADABLE = ({}, {})  # what catalogue() gives for a file that is not a catalogue


def read_catalogue(text):
    """(singles, plurals, problems) of a catalogue's text: the translations the box can
    use, and a sentence for each it cannot; ValueError when the text is not a catalogue.
    The box at start and `scripts/messages.py --check` both judge a catalogue here."""
    singles, plurals = parse_po(text)
    plural_ids = _plural_ids(text)
    problems = []
    for msgid in mismatched(singles, plurals, plural_ids):
        translated = singles.pop(msgid, None) or " | ".join(plurals.pop(msgid))
        problems.append(f"{msgid!r} not used: the translation {translated!r} has other "
                        f"placeholders than the message")
    return singles, plurals, problems


def _plural_ids(text):
    ids, last = {}, None
    for line in text.splitlines():
        if line.startswith("msgid "):
            last = line
        elif line.startswith("msgid_plural ") and last:
            ids[po_string(last[6:])] = po_string(line[13:])
    return ids


@cache
def catalogue(language):
    """A language's messages; a catalogue that cannot be read is said in the log and left
    aside (its language is not offered, and speaks French), never a page that fails; a
    translation whose placeholders are not the message's is said in the log, once, and
    left out (French is shown)."""
    path = CATALOGUES / f"{language}.po"
    if not LANGUAGE_CODE.match(language) or not path.exists():
        return {}, {}
    log = logging.getLogger("piratebox")
    try:
        singles, plurals, problems = read_kept_catalogue(path)
    except (ValueError, UnicodeDecodeError) as error:
        log.warning("translations %s left aside, its language not offered: %s", path.name,
                    error)
        return UNREADABLE
    for problem in problems:
        log.warning("translations %s: %s", path.name, problem)
    return singles, plurals


# Where catalogues, once read and checked, are kept for the next start (the data
# directory's cache; see keep_catalogues_in). None: read from the .po file every time.
_kept_in = None
KEPT_FORMAT = 1  # changes when what read_catalogue gives changes


def keep_catalogues_in(folder):
    """Keep each catalogue, once read and checked, in `folder`, and take it from there at
    the next start while its .po file is the same: reading and checking fr.po takes three
    seconds on a router's CPU, unmarshalling it a few hundredths. Set before a catalogue
    is read (Box.open), as templates are kept compiled (piratebox/tuning.py)."""
    global _kept_in
    _kept_in = folder


def read_kept_catalogue(path):
    """read_catalogue() of a .po file, from the copy kept in the cache when the file's
    content is what was read then; a copy missing, damaged or out of date is read again
    and replaced, and a disk that refuses it only costs the reading at the next start."""
    data = path.read_bytes()
    folder = _kept_in
    if folder is None:
        return read_catalogue(data.decode("utf-8"))
    key = [KEPT_FORMAT, hashlib.blake2b(data, digest_size=16).hexdigest()]
    kept = folder / f"{path.name}.marshal"
    try:
        # our own file, in the data directory beside the database and the secret key
        found_key, found = marshal.loads(kept.read_bytes())  # noqa: S302
        if found_key == key and _is_read_catalogue(found):
            return found
    except (OSError, EOFError, ValueError, TypeError):
        pass  # none yet, or cut short: read the .po file
    found = read_catalogue(data.decode("utf-8"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(kept, marshal.dumps([key, found]))
    except OSError as error:
        logging.getLogger("piratebox").warning("cannot keep the catalogue read: %s", error)
    return found


def _is_read_catalogue(found):
    singles, plurals, problems = found
    return (isinstance(singles, dict) and isinstance(plurals, dict)
            and isinstance(problems, list))


def readable(language):
    """Whether the language's catalogue could be read at all (it is offered then)."""
    return catalogue(language) is not UNREADABLE


@cache
def plural_rule(language):
    """The language's rule: the box's own for French and English, else the catalogue's
    Plural-Forms header (a C expression of n), else English's."""
    if language in PLURAL_RULES:
        return PLURAL_RULES[language]
    path = CATALOGUES / f"{language}.po"
    if not LANGUAGE_CODE.match(language) or not path.exists():
        return PLURAL_RULES["en"]
    found = PLURAL_FORMS.search(po_header(path.read_text(encoding="utf-8")))
    try:
        return plural_expression(found.group(1)) if found else PLURAL_RULES["en"]
    except ValueError:
        return PLURAL_RULES["en"]


def po_header(text):
    """The header entry's text (msgstr of msgid ""), its lines joined."""
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#") or line.startswith("msgid") or line.startswith('msgstr ""'):
            if lines:
                break
            continue
        if not line.startswith('"'):
            break
        lines.append(po_string(line))
    return "".join(lines)


PLURAL_TOKEN = deferred(r"\s*(?:(\d+)|(n)|(\|\||&&|==|!=|<=|>=|[-+*/%<>!?:()]))")
BINARY = [("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">="), ("+", "-"), ("*", "/", "%")]


def plural_expression(source):
    """A plural rule from gettext's C expression of n ("(n > 1)", "n%10==1 && n%100!=11 ? 0
    : ..."), parsed here rather than evaluated: a catalogue is text, never code."""
    tokens, position = [], 0
    source = source.strip()
    while position < len(source):
        match = PLURAL_TOKEN.match(source, position)
        if not match or match.end() == position:
            raise ValueError(f"not a plural rule: {source!r}")
        tokens.append(match.group(1) or match.group(2) or match.group(3))
        position = match.end()
    tokens.append(None)
    index = 0

    def peek():
        return tokens[index]

    def take(expected=None):
        nonlocal index
        token = tokens[index]
        if token is None or (expected and token != expected):
            raise ValueError(f"not a plural rule: {source!r}")
        index += 1
        return token

    def ternary():
        condition = binary(0)
        if peek() != "?":
            return condition
        take("?")
        yes = ternary()
        take(":")
        no = ternary()
        return lambda n: yes(n) if condition(n) else no(n)

    def binary(level):
        if level == len(BINARY):
            return unary()
        left = binary(level + 1)
        while peek() in BINARY[level]:
            left = _operation(take(), left, binary(level + 1))
        return left

    def unary():
        symbol = take()
        if symbol == "!":
            operand = unary()
            return lambda n: int(not operand(n))
        if symbol == "(":
            inner = ternary()
            take(")")
            return inner
        if symbol == "n":
            return lambda n: n
        if symbol.isdigit():
            return lambda _n, value=int(symbol): value
        raise ValueError(f"not a plural rule: {source!r}")

    rule = ternary()
    if peek() is not None:
        raise ValueError(f"not a plural rule: {source!r}")
    return lambda n: int(rule(int(n)))


def _operation(operator, left, right):
    operations = {
        "||": lambda a, b: int(bool(a) or bool(b)), "&&": lambda a, b: int(bool(a) and bool(b)),
        "==": lambda a, b: int(a == b), "!=": lambda a, b: int(a != b),
        "<": lambda a, b: int(a < b), "<=": lambda a, b: int(a <= b),
        ">": lambda a, b: int(a > b), ">=": lambda a, b: int(a >= b),
        "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
        "/": lambda a, b: a // b if b else 0, "%": lambda a, b: a % b if b else 0,
    }
    apply = operations[operator]
    return lambda n: apply(left(n), right(n))


@cache
def available_languages():
    """French, English, then every catalogue in piratebox/translations/, by code: looked
    for once a process (a catalogue dropped in is offered from the next start)."""
    found = sorted(path.stem for path in CATALOGUES.glob("*.po")
                   if LANGUAGE_CODE.match(path.stem) and path.stem not in ("fr", "en")
                   and readable(path.stem))
    return ("fr", "en", *found)


@cache
def offered_languages(configured):
    """The languages the pages offer: LANGUAGES from the configuration (comma-separated)
    among those available, or every one available when it is empty."""
    wanted = [code.strip() for code in (configured or "").split(",") if code.strip()]
    available = available_languages()
    return tuple(code for code in wanted if code in available) if wanted else available


class Translator:
    def __init__(self, language):
        self.language = language
        self.singles, self.plurals = catalogue(language)
        self.plural_index = plural_rule(language)
        # French says what another language does not say yet (English is the code's own);
        # its sentences are in `singles` too, which the templates read directly
        self.fallback = Translator(FALLBACK) if language not in (FALLBACK, "en") else None
        if self.fallback is not None:
            self.singles = {**self.fallback.singles, **self.singles}

    def gettext(self, message):
        return self.singles.get(message, message)

    def ngettext(self, singular, plural, n):
        forms = self.plurals.get(singular)
        if forms:
            return forms[min(self.plural_index(n), len(forms) - 1)]
        if self.fallback is not None:
            return self.fallback.ngettext(singular, plural, n)
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


# --- finding the messages (scripts/messages.py, scripts/extract-messages, the tests) -------

MARKERS = {"_", "gettext", "N_", "ngettext", "Message"}
STRING = r"""(["'])((?:\\.|(?!\{n}).)*)\{n}"""
TEMPLATE_CALL = deferred(r"\b(?:_|gettext|ngettext)\(\s*" + STRING.format(n=1), re.S)
TEMPLATE_PLURAL = deferred(r"\bngettext\(\s*" + STRING.format(n=1) + r"\s*,\s*"
                           + STRING.format(n=3), re.S)


def entries_in_python(source, where="<python>"):
    """(message id, plural id or None, "file:line") in Python source: the first argument of
    _(), gettext(), N_(), ngettext() and Message() (with the plural of ngettext(), of
    Message(text, plural) and of Voice.plural()), and the docstrings of command-line
    commands (their --help)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and any(map(is_command_decorator,
                                                         node.decorator_list)):
            found.append((ast.get_docstring(node, clean=True), None, node.lineno))
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name not in MARKERS and name != "plural":
            continue
        texts = [_text(argument) for argument in node.args[:2]]
        texts += [_text(keyword.value) for keyword in node.keywords if keyword.arg == "plural"]
        if texts[0] is None or (name == "plural" and len(texts) < 2):
            continue
        plural = texts[1] if name in ("ngettext", "Message", "plural") and len(texts) > 1 \
            else None
        found.append((texts[0], plural, node.lineno))
    return [(message, plural, f"{where}:{line}") for message, plural, line in found if message]


def _text(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) \
        else None


def messages_in_python(source):
    return [message for message, _plural, _where in entries_in_python(source)]


def is_command_decorator(node):
    """@cli.command(...), @something.group(...), @click.group(...)."""
    target = node.func if isinstance(node, ast.Call) else node
    return isinstance(target, ast.Attribute) and target.attr in ("command", "group")


def entries_in_template(source, where="<template>"):
    """The same from a Jinja template: _("..."), gettext("..."), ngettext("...", "...")."""
    found = []
    for match in TEMPLATE_CALL.finditer(source):
        plural = TEMPLATE_PLURAL.match(source, match.start())
        found.append((match.group(2), plural.group(4) if plural else None,
                      f"{where}:{source.count(chr(10), 0, match.start()) + 1}"))
    return found


def messages_in_template(source):
    return [message for message, _plural, _where in entries_in_template(source)]


def entries_in_tree(root):
    """{message id: (plural id or None, ["file:line", ...])} of the code and templates."""
    root = Path(root)
    found = {}
    code = [root / "app.py", *sorted((root / "piratebox").rglob("*.py"))]
    sources = [(path, entries_in_python) for path in code]
    sources += [(path, entries_in_template)
                for path in sorted((root / "templates").rglob("*.html"))]
    for path, finder in sources:
        where = path.relative_to(root).as_posix()
        for message, plural, place in finder(path.read_text(encoding="utf-8"), where):
            known_plural, places = found.get(message, (None, []))
            found[message] = (known_plural or plural, [*places, place])
    return found


def messages_in_tree(root):
    return set(entries_in_tree(root))


def po_quote(text):
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


class Voice:
    """The language the command line speaks: French by default, like the screen; English
    with PIRATEBOX_LANG=en or `piratebox --lang en`. The same catalogue as the pages."""

    def __init__(self, language="fr"):
        self.use(language)

    def use(self, language):
        """Speak `language` from now on; its catalogue is read at the first sentence said,
        not before (a command that says nothing before it opens its box reads it from the
        data directory's cache, see keep_catalogues_in)."""
        self._language = language if language in PLURAL_RULES else "fr"
        self._translator = None

    @property
    def translator(self):
        if self._translator is None:
            self._translator = Translator(self._language)
        return self._translator

    @property
    def language(self):
        return self._language

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
