"""The shapes of the box's identifiers, each written once: a record's or a box's id
(models.new_id) and a SHA-256 digest in hex (a blob's name, a bundle's key, a member's
hash). The bare texts compose into the patterns of the names that carry them."""

import re

ID_TEXT = "[a-z2-7]{26}"
SHA256_TEXT = "[0-9a-f]{64}"

ID = re.compile(rf"\A{ID_TEXT}\Z")
SHA256 = re.compile(rf"\A{SHA256_TEXT}\Z")
