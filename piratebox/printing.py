"""Printables drawn with Pillow: the A4 poster for the café counter and sheets of QR labels.

Pages are drawn at 300 dpi (2480 x 3508 px for A4) and saved as PDF, one image a page.
Pillow is imported here only. Text uses a TrueType font found on the system (DejaVu or
Liberation on Debian and Raspberry Pi OS); where there is none (a bare router), Pillow's
built-in font is enlarged, which prints legibly if plainly.
"""

import io
import textwrap
from functools import lru_cache

from piratebox import qr

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
    canvas.paste(Image.new("RGB", big.size, fill), (int(x), int(y)), big.point(lambda v: 255 - v))


def paste_code(canvas, payload, box, caption=None):
    """Paste the largest QR code of `payload` that fits `box` (x, y, width), centred."""
    x, y, width = box
    modules = qr.image(payload, module_px=1).width
    code = qr.image(payload, module_px=max(1, width // modules)).convert("RGB")
    canvas.paste(code, (x + (width - code.width) // 2, y))
    if caption:  # below the square box, so captions of codes side by side line up
        draw_text(canvas, (x + width // 2, y + width + 30), caption, 64, bold=True,
                  anchor="ma")
    return width


def poster(site, gettext):
    """The A4 poster: village name, the wifi and site codes side by side, three steps."""
    from PIL import Image

    _ = gettext
    page = Image.new("RGB", A4, "white")
    width = A4[0]
    address = site["site_url"].removeprefix("http://")
    draw_text(page, (width // 2, MARGIN), site["box_name"], 150, bold=True, anchor="ma")
    draw_text(page, (width // 2, MARGIN + 220),
              _("Free wifi of the give box — no internet, nothing to pay"), 56, anchor="ma")
    column = (width - 3 * MARGIN) // 2
    top = MARGIN + 420
    wifi = qr.wifi_payload(site["wifi_ssid"], site["wifi_password"])
    height = paste_code(page, wifi, (MARGIN, top, column), "1. " + _("Join the wifi"))
    paste_code(page, site["site_url"] + "/", (2 * MARGIN + column, top, column),
               "2. " + _("Open the box"))
    y = top + height + 220
    steps = [
        _("Scan the first code to join the wifi “%(ssid)s”.") % {"ssid": site["wifi_ssid"]},
        _("Scan the second code, or type the address below."),
        _("Give, lend, swap, find: it is all free."),
    ]
    steps = [f"{number}. {step}" for number, step in enumerate(steps, 1)]
    if site["wifi_password"]:
        steps.insert(1, _("Wifi password: %(password)s") % {"password": site["wifi_password"]})
    for step in steps:
        for line in textwrap.wrap(step, 44):
            draw_text(page, (MARGIN, y), line, 80)
            y += 110
        y += 40
    draw_text(page, (width // 2, A4[1] - MARGIN - 420), _("Address to type:"), 60,
              anchor="ma")
    draw_text(page, (width // 2, A4[1] - MARGIN - 320), address, 200, bold=True, anchor="ma")
    return page


def labels(entries, box_name, progress=None):
    """Sheets of labels, each a QR code of the object's page and its title."""
    from PIL import Image

    per_page = LABEL_COLUMNS * LABEL_ROWS
    cell_w, cell_h = A4[0] // LABEL_COLUMNS, A4[1] // LABEL_ROWS
    pages = []
    for start in range(0, max(len(entries), 1), per_page):
        page = Image.new("RGB", A4, "white")
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
        pages.append(page)
    return pages


def pdf(pages):
    out = io.BytesIO()
    first, *rest = pages
    first.save(out, "PDF", resolution=DPI, save_all=True, append_images=rest)
    return out.getvalue()
