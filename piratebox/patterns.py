"""The shapes of the box's identifiers, each written once: a record's or a box's id
(models.new_id) and a SHA-256 digest in hex (a blob's name, a bundle's key, a member's
hash). The bare texts compose into the patterns of the names that carry them. And a
pattern compiled at its first use (`deferred`)."""

import re

ID_TEXT = "[a-z2-7]{26}"
SHA256_TEXT = "[0-9a-f]{64}"

ID = re.compile(rf"\A{ID_TEXT}\Z")
SHA256 = re.compile(rf"\A{SHA256_TEXT}\Z")


class deferred:  # noqa: N801 - stands where re.compile stood, and is used as its pattern
    """A regular expression compiled at its first use. Python's regular expression compiler
    is written in Python: the patterns of the forms' rules and of the text's cleaning (long
    character classes) were milliseconds of every start here, and a start's first page uses
    none of them. Once compiled, the pattern's methods are this object's own attributes:
    no cost is added to a use."""

    METHODS = ("search", "match", "fullmatch", "sub", "subn", "split", "findall", "finditer")

    def __init__(self, pattern, flags=0):
        self.pattern, self.flags = pattern, flags

    def __getattr__(self, name):  # only until the first use has set them
        compiled = re.compile(self.pattern, self.flags)
        for method in self.METHODS:
            setattr(self, method, getattr(compiled, method))
        return getattr(compiled, name)
