"""A small PDF writer for text, tables and vector charts, with the standard library only.

Text is set in the two standard Type 1 fonts every PDF reader carries (Helvetica and
Helvetica-Bold) with WinAnsiEncoding, which covers French; nothing is embedded, so a
report of a few pages weighs a few kilobytes and prints sharp at any size. Widths come
from the fonts' published metrics (Adobe's AFM files), for wrapping lines.
"""

import unicodedata
import zlib

A4 = (595.28, 841.89)  # points

# Widths of the printable ASCII characters (32 to 126), in thousandths of the font size.
_ASCII_WIDTHS = {
    False: (278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
            556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
            1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
            667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
            333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
            556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584),
    True: (278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
           556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
           975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
           667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
           333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
           611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584),
}
_OTHER_WIDTHS = {"’": 222, "‘": 222, "«": 556, "»": 556, "—": 1000, "–": 556, "…": 1000,
                 "·": 278, "\u00a0": 278, "€": 556, "œ": 944, "Œ": 1000, "°": 400}
# What WinAnsiEncoding lacks, said with what it has.
_PLAIN = str.maketrans({"\u202f": "\u00a0", "\u2009": " ", "₂": "2", "\u2011": "-",
                        "≈": "~", "→": "->"})


# Letters NFKD does not take apart, with the Latin letter a reader recognises in them.
_LETTERS = {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i",
            "Ŧ": "T", "ŧ": "t", "ĸ": "k", "Ŀ": "L", "ŀ": "l"}


def plain(text):
    """The text in what WinAnsiEncoding can say: a letter it lacks as its base letter
    (Ł -> L, ă -> a), and what has no letter in it (an emoji) left out."""
    text = str(text).translate(_PLAIN)
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return "".join(map(_winansi, text))
    return text


def _winansi(char):
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        if char in _LETTERS:
            return _LETTERS[char]
        parts = unicodedata.normalize("NFKD", char)
        return "".join(part for part in parts if part.isprintable()
                       and not unicodedata.combining(part)
                       and part.encode("cp1252", errors="ignore"))
    return char


def char_width(char, bold):
    if " " <= char <= "~":
        return _ASCII_WIDTHS[bold][ord(char) - 32]
    if char in _OTHER_WIDTHS:
        return _OTHER_WIDTHS[char]
    base = unicodedata.normalize("NFD", char)[0]  # é is as wide as e
    return _ASCII_WIDTHS[bold][ord(base) - 32] if " " <= base <= "~" else 556


def text_width(text, size, bold=False):
    return sum(char_width(char, bold) for char in plain(text)) * size / 1000


def wrap(text, size, width, bold=False):
    """The lines `text` takes in `width` points; a word longer than a line is cut."""
    lines, line = [], ""
    for word in plain(text).split(" "):
        candidate = f"{line} {word}" if line else word
        if text_width(candidate, size, bold) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while text_width(word, size, bold) > width:
            cut = len(word)
            while cut > 1 and text_width(word[:cut], size, bold) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    lines.append(line)
    return lines


def _string(text):
    """A PDF string in WinAnsiEncoding (plain() has said the rest with its letters)."""
    raw = plain(text).encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") \
        .replace(b"\r", b"\\r").replace(b"\n", b"\\n") + b")"


def _info_string(text):
    """A text string of the document's information (title, author): UTF-16 with its mark."""
    return b"<" + ("\ufeff" + str(text)).encode("utf-16-be").hex().encode() + b">"


def _colour(hex_colour):
    value = hex_colour.lstrip("#")
    return " ".join(f"{int(value[i:i + 2], 16) / 255:.3f}" for i in (0, 2, 4))


class Page:
    """Drawing operations in points, the origin at the top left (y grows downwards, as a
    reader of the page counts lines)."""

    def __init__(self, size=A4):
        self.width, self.height = size
        self.ops = []

    def text(self, x, y, text, size, bold=False, colour="#000000", align="left"):
        """Text whose baseline is at `y`; align "right" or "center" on `x`."""
        if align != "left":
            shift = text_width(text, size, bold)
            x -= shift if align == "right" else shift / 2
        font = b"/F2" if bold else b"/F1"
        self.ops.append(b"BT %s %.2f Tf %s rg %.2f %.2f Td %s Tj ET" % (
            font, size, _colour(colour).encode(), x, self.height - y, _string(text)))

    def rect(self, x, y, width, height, fill="#000000"):
        self.ops.append(b"%s rg %.2f %.2f %.2f %.2f re f" % (
            _colour(fill).encode(), x, self.height - y - height, width, height))

    def line(self, x1, y1, x2, y2, colour="#000000", thickness=0.5):
        self.ops.append(b"%s RG %.2f w %.2f %.2f m %.2f %.2f l S" % (
            _colour(colour).encode(), thickness, x1, self.height - y1, x2, self.height - y2))

    def content(self):
        return b"\n".join(self.ops)


class Document:
    def __init__(self, title, author="", lang="fr-FR"):
        self.title, self.author, self.lang = title, author, lang
        self.pages = []

    def new_page(self, size=A4):
        page = Page(size)
        self.pages.append(page)
        return page

    def write(self, handle):
        """Write the whole file to a binary handle (storage.atomic_write's, say)."""
        objects = []  # bodies; object n is objects[n - 1]

        def add(body):
            objects.append(body)
            return len(objects)

        fonts = [add(b"<< /Type /Font /Subtype /Type1 /BaseFont /%s "
                     b"/Encoding /WinAnsiEncoding >>" % name)
                 for name in (b"Helvetica", b"Helvetica-Bold")]
        pages_id = len(fonts) + 1
        objects.append(None)  # the page tree, once its kids are known
        kids = []
        for page in self.pages:
            data = zlib.compress(page.content())
            stream = add(b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream"
                         % (len(data), data))
            kids.append(add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Contents %d 0 R "
                b"/Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> >> >>"
                % (pages_id, page.width, page.height, stream, *fonts)))
        objects[pages_id - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
            b" ".join(b"%d 0 R" % kid for kid in kids), len(kids))
        catalogue = add(b"<< /Type /Catalog /Pages %d 0 R /Lang %s >>"
                        % (pages_id, _string(self.lang)))
        info = add(b"<< /Title %s /Author %s /Producer (CoCoTe) >>"
                   % (_info_string(self.title), _info_string(self.author)))
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(objects, start=1):
            offsets.append(len(out))
            out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
            len(objects) + 1, catalogue, info, xref)
        handle.write(bytes(out))
