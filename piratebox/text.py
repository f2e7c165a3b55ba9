"""What free text may contain: one character rule for every text the box stores or writes.

Titles, descriptions, pseudonyms, board messages, event fields, notes, reasons, file
names, settings: whether they come from a form, the command line or a bundle, control
characters, direction overrides and characters shown as nothing are taken out before
anything is stored; a person's name loses every invisible character besides. A lone CR
or a U+2028 would break a calendar line or a log; a right-to-left override makes
"gpj.exe" read as "exe.jpg". Line breaks survive only in multi-line fields, as "\\n".
Text is kept in NFC, so that a title typed on two phones compares and searches alike.
"""

import unicodedata

from piratebox.patterns import deferred

# Bidirectional embeddings, overrides, isolates and marks: invisible, and they reorder
# what is shown around them.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# Controls (C0, DEL, C1), line and paragraph separators, lone surrogates, private use.
UNSAFE = deferred(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029" + BIDI_CONTROLS
    + "\ud800-\udfff\ue000-\uf8ff\U000f0000-\U0010ffff]"
)
# Characters shown as nothing, in any text: zero-width space, word joiner and invisible
# operators, byte-order mark, Mongolian vowel separator, the Hangul fillers, tags. "Médiateur"
# followed by one of them is another name that looks the same.
INVISIBLE = deferred("[\u115f\u1160\u180e\u200b\u2060-\u2064\u3164\ufeff\uffa0"
                     "\U000e0000-\U000e007f]")
# What a person's name may not hold besides, though running text may (an emoji sequence
# needs its joiner, a long word its soft hyphen): every format character, the variation
# selectors, the combining grapheme joiner, the Khmer inherent vowels, the blank Braille
# pattern. A name is shown alone, small, as proof of who wrote: it must be what it looks.
NAME_INVISIBLE = deferred("[\u00ad\u034f\u17b4\u17b5\u180b-\u180d\u180f\u2800"
                          "\ufe00-\ufe0f\U000e0100-\U000e01ef]")
# Whitespace among them (tab, form feed, the separators...) becomes a space, not nothing:
# "a\tb" stays two words.
SPACES = deferred(r"\s")


# Any character _remove_unsafe changes. Most texts hold none, and one search costs less
# than three substitutions: a hub reads every text field of every record its boxes send.
CHANGED = deferred(f"{UNSAFE.pattern}|{INVISIBLE.pattern}|[^\\S ]")


def _remove_unsafe(text):
    if CHANGED.search(text) is None:
        return text
    return INVISIBLE.sub("", UNSAFE.sub("", SPACES.sub(" ", text)))


def _nfc(text):
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def clean_line(value):
    """One line: unsafe characters out, every run of whitespace one space, trimmed."""
    if not value:  # most optional fields of a record a bundle brings
        return ""
    text = _nfc(_remove_unsafe(value))
    return " ".join(text.split())


def clean_block(value):
    """Several lines (a description, a message): every kind of line break becomes "\\n",
    other unsafe characters go, each line loses its trailing spaces, the whole is trimmed."""
    if not value:
        return ""
    if CHANGED.search(value) is None:  # one line with nothing to take out: most descriptions
        return _nfc(value).strip()
    lines = (_nfc(_remove_unsafe(line)).rstrip() for line in value.splitlines())
    return "\n".join(lines).strip()


def clean_name(value):
    """A person's name or pseudonym: one line, and nothing in it shown as nothing."""
    text = NAME_INVISIBLE.sub("", clean_line(value))
    text = "".join(character for character in text
                   if unicodedata.category(character) != "Cf")
    return " ".join(_nfc(text).split())
