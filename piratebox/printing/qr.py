"""QR codes: the wifi payload, SVG for pages (no Pillow needed), PNG where a file is wanted.

qrcode (and Pillow for PNG) are imported here only, when a code is drawn: a router
serving the catalogue never pays for them.
"""

import io

WIFI_SPECIAL = '\\;,:"'


def escape_wifi(text):
    """Escape a value of the WIFI: payload: backslash, semicolon, comma, colon and quote."""
    return "".join("\\" + char if char in WIFI_SPECIAL else char for char in text)


def wifi_payload(ssid, password="", hidden=False):
    """The payload phones read to join a network: `WIFI:T:WPA;S:name;P:secret;;`.

    An open network has `T:nopass` and no password field. Every special character of the
    SSID and password is escaped, so "Café; le «bar»" joins the right network.
    """
    if password:
        fields = f"T:WPA;S:{escape_wifi(ssid)};P:{escape_wifi(password)};"
    else:
        fields = f"T:nopass;S:{escape_wifi(ssid)};"
    if hidden:
        fields += "H:true;"
    return f"WIFI:{fields};"


def _matrix(payload, border):
    import qrcode

    code = qrcode.QRCode(border=border, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(payload)
    code.make(fit=True)
    return code.get_matrix()


def svg(payload, border=4):
    """An SVG with one path of unit squares: small, sharp at any size, no Pillow."""
    matrix = _matrix(payload, border)
    size = len(matrix)
    squares = "".join(f"M{x},{y}h1v1h-1z" for y, row in enumerate(matrix)
                      for x, dark in enumerate(row) if dark)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path d="{squares}" fill="#000"/></svg>'
    ).encode("ascii")


def image(payload, module_px=10, border=4):
    """A Pillow image of the code, `module_px` pixels per module (for PNG and print)."""
    from PIL import Image

    matrix = _matrix(payload, border)
    size = len(matrix)
    small = Image.new("1", (size, size), 1)
    small.putdata([0 if dark else 1 for row in matrix for dark in row])
    return small.resize((size * module_px, size * module_px), Image.NEAREST)


def png(payload, module_px=10, border=4):
    out = io.BytesIO()
    image(payload, module_px, border).save(out, "PNG", optimize=True)
    return out.getvalue()
