"""Real image files for the tests, made with Pillow (and one crafted by hand)."""

import io
import struct
import zlib

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def jpeg(width=640, height=480, color=(200, 80, 40), orientation=None, gps=False,
         comment=None):
    from PIL import Image

    image = Image.new("RGB", (width, height), color)
    # a marker in the top-left corner, to see where "up" went after rotation
    image.paste((0, 0, 255), (0, 0, width // 4, height // 4))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # camera make
    if orientation:
        exif[ORIENTATION] = orientation
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (45.0, 28.0, 30.0), 3: "E", 4: (4.0, 5.0, 6.0)}
    out = io.BytesIO()
    extra = {"comment": comment} if comment else {}
    image.save(out, "JPEG", exif=exif.tobytes(), quality=90, **extra)
    return out.getvalue()


def noisy_jpeg(width=900, height=700, seed=0):
    """A photo that does not compress: grain all over, as a phone's camera gives in a dim
    café (a bundle of them fills a small stick)."""
    from PIL import Image

    image = Image.effect_noise((width, height), 60 + seed).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def png_header_only(width, height):
    """A PNG that claims a huge size in a few bytes: the shape of a decompression bomb."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(
        b"IEND", b"")


def exif_of(data):
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    return dict(image.getexif()), image.info, image.size
