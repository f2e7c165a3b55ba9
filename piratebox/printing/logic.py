"""Printables drawn with Pillow: the A4 poster for the café counter and sheets of QR labels.

Pages are drawn at 300 dpi (2480 x 3508 px for A4) in shades of grey (8.7 MB a page
rather than RGB's 26 MB) and saved as PDF, one image a page. Pillow is imported here only.
The server never draws them itself: it runs the `print` command in a child process
(piratebox/printing/views.py), so its own memory never holds a page. Text uses a TrueType
font found on the system (DejaVu or Liberation on Debian and Raspberry Pi OS); where
there is none (a bare router), Pillow's built-in font is enlarged, which prints legibly
if plainly.
"""

import textwrap
import zlib
from functools import lru_cache

from models import Item
from piratebox.printing import qr
from piratebox.site import address as site_address

DPI = 300
A4 = (2480, 3508)
MARGIN = 150
FONT_PATHS = {
    False: ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
            "/usr/share/fonts/truetype/freefont/FreeSans.ttf"),
    True: ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
           "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
           "/usr/share/fonts/truetype/freefont/FreeSansBold.ttf"),
}
PAGE_MODE = "L"  # black, white and greys: all a poster or a label sheet needs
LABEL_COLUMNS, LABEL_ROWS = 3, 8  # the common 70 x 37 mm sheet of 24


@lru_cache(maxsize=32)
def font(size, bold=False):
    from PIL import ImageFont

    for path in FONT_PATHS[bold]:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)  # Pillow 10.1 and later
    except TypeError:
        return None  # Pillow 9: only a small bitmap font; see draw_text


def draw_text(canvas, position, text, size, bold=False, fill="#000", anchor="la"):
    """Draw text; without a scalable font, draw it small and enlarge it."""
    from PIL import Image, ImageDraw

    chosen = font(size, bold)
    if chosen is not None:
        ImageDraw.Draw(canvas).text(position, text, font=chosen, fill=fill, anchor=anchor)
        return
    small = Image.new("L", (len(text) * 6 + 4, 14), 255)
    ImageDraw.Draw(small).text((2, 1), text, fill=0)
    scale = max(1, size // 11)
    big = small.resize((small.width * scale, small.height * scale), Image.NEAREST)
    x, y = position
    if anchor[0] == "m":
        x -= big.width // 2
    canvas.paste(Image.new(canvas.mode, big.size, fill), (int(x), int(y)),
                 big.point(lambda v: 255 - v))


def paste_code(canvas, payload, box, caption=None):
    """Paste the largest QR code of `payload` that fits `box` (x, y, width), centred."""
    x, y, width = box
    modules = qr.image(payload, module_px=1).width
    code = qr.image(payload, module_px=max(1, width // modules)).convert(PAGE_MODE)
    canvas.paste(code, (x + (width - code.width) // 2, y))
    if caption:  # below the square box, so captions of codes side by side line up
        draw_text(canvas, (x + width // 2, y + width + 30), caption, 64, bold=True,
                  anchor="ma")
    return width


def poster(site, gettext):
    """The A4 poster: village name, the wifi and site codes side by side, three steps."""
    from PIL import Image

    _ = gettext
    page = Image.new(PAGE_MODE, A4, "white")
    width = A4[0]
    url = site_address(site)
    address = url.removeprefix("http://")
    draw_text(page, (width // 2, MARGIN), site["box_name"], 150, bold=True, anchor="ma")
    draw_text(page, (width // 2, MARGIN + 220),
              _("Free wifi of the give box — no internet, nothing to pay"), 56, anchor="ma")
    column = (width - 3 * MARGIN) // 2
    top = MARGIN + 420
    wifi = qr.wifi_payload(site["wifi_ssid"], site["wifi_password"])
    height = paste_code(page, wifi, (MARGIN, top, column), "1. " + _("Join the wifi"))
    paste_code(page, url + "/", (2 * MARGIN + column, top, column),
               "2. " + _("Open the box"))
    y = top + height + 220
    steps = [
        _("Scan the first code to join the wifi “{ssid}”.").format(ssid=site["wifi_ssid"]),
        _("Scan the second code, or type the address below."),
        _("Give, lend, swap, find: it is all free."),
    ]
    steps = [f"{number}. {step}" for number, step in enumerate(steps, 1)]
    if site["wifi_password"]:
        steps.insert(1, _("Wifi password: {password}").format(password=site["wifi_password"]))
    for step in steps:
        for line in textwrap.wrap(step, 44):
            draw_text(page, (MARGIN, y), line, 80)
            y += 110
        y += 40
    draw_text(page, (width // 2, A4[1] - MARGIN - 420), _("Address to type:"), 60,
              anchor="ma")
    draw_text(page, (width // 2, A4[1] - MARGIN - 320), address, 200, bold=True, anchor="ma")
    return page


def label_entries(settings, item_ids=()):
    """(title, address on paper) of the objects to label: those of this box named, else
    every object in the café's give box."""
    query = Item.of_this_box().where(Item.id.in_(item_ids)) if item_ids else Item.in_cafe_box()
    return [(item.title, item_address(settings, item.id)) for item in query]


def item_address(settings, item_id):
    """An object's page on paper: the box's own address, never a Host a phone sent; the
    path is the catalogue's, one of the URLs fixed for good."""
    return f"{site_address(settings)}/items/{item_id}"


def labels(entries, box_name, progress=None):
    """Sheets of labels, each a QR code of the object's page and its title: drawn one
    sheet at a time, as the PDF writer asks for them."""
    from PIL import Image

    per_page = LABEL_COLUMNS * LABEL_ROWS
    cell_w, cell_h = A4[0] // LABEL_COLUMNS, A4[1] // LABEL_ROWS
    for start in range(0, max(len(entries), 1), per_page):
        page = Image.new(PAGE_MODE, A4, "white")
        for index, (title, url) in enumerate(entries[start:start + per_page]):
            x = (index % LABEL_COLUMNS) * cell_w
            y = (index // LABEL_COLUMNS) * cell_h
            code_size = cell_h - 60
            paste_code(page, url, (x + 30, y + 30, code_size))
            text_x = x + 60 + code_size
            for row, line in enumerate(textwrap.wrap(title, 14)[:4]):
                draw_text(page, (text_x, y + 60 + row * 60), line, 44, bold=row == 0)
            draw_text(page, (text_x, y + cell_h - 90), box_name[:16], 32, fill="#555")
            if progress:
                progress(1)
        yield page


def write_pdf(pages, handle, band_rows=256):
    """Write greyscale pages to `handle` as a PDF, one full-page image each; returns the
    number of pages.

    One page is in memory at a time (Pillow's own PDF writer wants them all at once),
    and each is compressed without loss (Flate), a band of rows at a time: QR codes keep
    their sharp edges and a mostly white page takes a few hundred kilobytes.
    """
    offsets = []  # where each object starts, for the cross-reference table

    def write_object(dictionary, stream=None):
        offsets.append(handle.tell())
        handle.write(b"%d 0 obj\n" % len(offsets))
        if stream is None:
            handle.write(dictionary + b"\nendobj\n")
        else:
            # the length goes last in the dictionary, before its closing ">>"
            handle.write(dictionary[:-2] + b"/Length %d >>\nstream\n" % len(stream))
            handle.write(stream + b"\nendstream\nendobj\n")
        return len(offsets)

    handle.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    catalog = write_object(b"<< /Type /Catalog /Pages 2 0 R >>")
    offsets.append(None)  # 2: the page tree, written once every page is known
    page_ids = []
    for page in pages:
        width, height = page.size
        packer = zlib.compressobj(6)
        pixels = b"".join(
            [packer.compress(page.crop((0, top, width, min(top + band_rows, height)))
                             .tobytes()) for top in range(0, height, band_rows)]
            + [packer.flush()])
        image = write_object(
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray"
            b" /BitsPerComponent 8 /Filter /FlateDecode >>" % (width, height), pixels)
        points = (width * 72 / DPI, height * 72 / DPI)
        contents = write_object(b"<< >>", b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % points)
        page_ids.append(write_object(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << "
            b"/XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>" % (*points, image, contents)))
    offsets[1] = handle.tell()
    handle.write(b"2 0 obj\n<< /Type /Pages /Kids [%s] /Count %d >>\nendobj\n" % (
        b" ".join(b"%d 0 R" % number for number in page_ids), len(page_ids)))
    table = handle.tell()
    handle.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
    handle.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    handle.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
                 % (len(offsets) + 1, catalog, table))
    return len(page_ids)
