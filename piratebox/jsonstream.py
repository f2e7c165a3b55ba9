"""A JSON object from a file nobody vouches for yet, read as a stream.

A backup's manifest lists every blob of a box: hundreds of thousands of entries at a
hub, and on a hostile stick millions of `{}` that json.loads would turn into gigabytes of
objects. Read here a value at a time, it costs a chunk of memory whatever its length:
every field of the top-level object is read whole but bounded in size, and the one
long list is handed over an element at a time, each bounded too, never kept. Any value
over its bound, nested deeper than Python follows, or not JSON, raises ValueError.
"""

import codecs
import hashlib
import json
import re

from piratebox.units import KB

CHUNK = 64 * KB
WHITESPACE = re.compile(r"[ \t\n\r]*")


class Stream:
    """The text of a binary file, decoded and held a chunk at a time; `digest` is the
    SHA-256 of the bytes read so far."""

    def __init__(self, handle):
        self._handle = handle
        self._hasher = hashlib.sha256()
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._json = json.JSONDecoder()
        self.text, self.pos, self.ended = "", 0, False

    @property
    def digest(self):
        return self._hasher.hexdigest()

    def _more(self):
        """Read the next chunk; False at the end of the file."""
        if self.ended:
            return False
        data = self._handle.read(CHUNK)
        self._hasher.update(data)
        self.text = self.text[self.pos:] + self._decoder.decode(data, final=not data)
        self.pos = 0
        self.ended = not data
        return True

    def peek(self):
        """The next character that is not white space ("" at the end)."""
        while True:
            self.pos = WHITESPACE.match(self.text, self.pos).end()
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self._more():
                return ""

    def expect(self, character):
        if self.peek() != character:
            raise ValueError(f"{character} expected")
        self.pos += 1

    def value(self, limit):
        """The next JSON value, at most `limit` characters long."""
        self.peek()
        while True:
            window = self.text[self.pos:self.pos + limit]
            try:
                value, end = self._json.raw_decode(window)
            except json.JSONDecodeError:
                end = None
            except RecursionError:
                raise ValueError("nested too deep") from None
            # a value that reaches the end of what was read may go on in the next chunk
            if end is not None and end < len(window):
                self.pos += end
                return value
            if len(window) < limit and self._more():
                continue
            if end is not None and len(window) < limit:
                self.pos += end
                return value
            raise ValueError("a value too long or damaged")


def read_object(handle, long_list, limit, element_limit):
    """Read a JSON object from `handle`: yields each element of its list `long_list` as it
    is read, and returns (the object's other fields, the SHA-256 of the file). Every other
    value is at most `limit` characters, each element at most `element_limit`."""
    stream = Stream(handle)
    fields = {}
    stream.expect("{")
    while stream.peek() != "}":
        key = stream.value(limit)
        if not isinstance(key, str) or key in fields:
            raise ValueError("a field's name is not valid")
        stream.expect(":")
        if key == long_list:
            fields[key] = None
            stream.expect("[")
            while stream.peek() != "]":
                yield stream.value(element_limit)
                if stream.peek() != ",":
                    break
                stream.pos += 1
            stream.expect("]")
        else:
            fields[key] = stream.value(limit)
        if stream.peek() != ",":
            break
        stream.pos += 1
    stream.expect("}")
    if stream.peek():
        raise ValueError("something after the object")
    return fields, stream.digest
