"""A multipart form's boundary found without compiling it into regular expressions.

Werkzeug's decoder compiles two regular expressions that hold each form's boundary. A
browser draws a new boundary for every form it sends, so Python's cache of patterns never
helps: every upload paid for their compilation (about 300 µs here, a tenth of a small
upload's CPU, and tens of milliseconds on a router). `Decoder` is Werkzeug's own decoder
(the same from 2.2 to 3.1: two patterns, searched with `search`, read with `start`, `end`
and `group(1)`) whose two patterns are replaced by `Delimiter`s, which find what they find:
the delimiter `--boundary` looked up with `bytes.find`, the line break before it by hand,
what follows it by one expression compiled once. tests/test_multipart.py compares them
with Werkzeug's own expressions on random bodies, and whole forms parsed both ways.
"""

import re

from werkzeug import formparser
from werkzeug.sansio import multipart

LINE_BREAKS = b"\r\n"
# what Werkzeug's expressions accept after the delimiter: the last one's "--", spaces, a
# line break (group 1 is what they capture)
AFTER_DELIMITER = re.compile(
    rb"(--[^\S\n\r]*%s?|[^\S\n\r]*%s)" % (multipart.LINE_BREAK, multipart.LINE_BREAK),
    re.MULTILINE)
# the boundary the parent's expressions are built for: always the same, so compiled once
A_BOUNDARY = b"piratebox-boundary"
REPLACED = {"boundary", "preamble_re", "boundary_re"}


class Found:
    """What a `Delimiter` found, read as Werkzeug reads a match."""

    __slots__ = ("_start", "_after")

    def __init__(self, start, after):
        self._start, self._after = start, after

    def start(self):
        return self._start

    def end(self):
        return self._after.end()

    def group(self, number):
        if number != 1:
            raise IndexError("only the text after the delimiter is kept")
        return self._after.group(1)


class Delimiter:
    """Finds what `(?:LB)--boundary(...)` (`line_break_required`) or `(?:LB)?--boundary(...)`
    finds, with the leftmost match's start as `re` gives it: a line break right before
    the delimiter belongs to the match (CR LF as one), never one before `position`."""

    def __init__(self, boundary, line_break_required):
        self.delimiter = b"--" + boundary
        self.line_break_required = line_break_required

    def search(self, data, position=0):
        at = data.find(self.delimiter, position)
        while at != -1:
            after = AFTER_DELIMITER.match(data, at + len(self.delimiter))
            if after is not None:
                if at - 2 >= position and data[at - 2:at] == LINE_BREAKS:
                    return Found(at - 2, after)
                if at - 1 >= position and data[at - 1] in LINE_BREAKS:
                    return Found(at - 1, after)
                if not self.line_break_required:
                    return Found(at, after)
            at = data.find(self.delimiter, at + 1)
        return None


class Decoder(multipart.MultipartDecoder):
    """Werkzeug's decoder, its boundary's expressions replaced by `Delimiter`s."""

    def __init__(self, boundary, *args, **kwargs):
        super().__init__(A_BOUNDARY, *args, **kwargs)
        self.boundary = boundary
        self.preamble_re = Delimiter(boundary, line_break_required=False)
        self.boundary_re = Delimiter(boundary, line_break_required=True)


def holds_the_boundary(decoder_class):
    """The names of what a decoder made for a boundary keeps of it (the boundary itself,
    or an expression that holds it)."""
    boundary = b"aboundarytolookfor"  # nothing re.escape changes
    found = set()
    for name, value in vars(decoder_class(boundary, None)).items():
        text = getattr(value, "pattern", value)
        if isinstance(text, (bytes, bytearray)) and boundary in text:
            found.add(name)
    return found


def install():
    """Werkzeug's form parser decodes with `Decoder` from now on: once per process, and
    only if Werkzeug's decoder keeps its boundary nowhere but where `Decoder` replaces it
    (a later version that keeps it elsewhere is left as it is)."""
    if formparser.MultipartDecoder is multipart.MultipartDecoder \
            and holds_the_boundary(multipart.MultipartDecoder) == REPLACED:
        formparser.MultipartDecoder = Decoder
