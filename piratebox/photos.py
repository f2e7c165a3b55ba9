"""Photos: refuse what is not an image, re-encode what is, keep nothing of the original.

Each photo becomes a JPEG of at most 1280 px on its longest side and a 320 px thumbnail,
upright (EXIF orientation applied) and without any metadata: no GPS position, no camera,
no date. The uploaded bytes are never stored nor served. Pillow is imported here only,
when a photo arrives: it costs time and memory a router does not spend otherwise.

A photo of a few hundred bytes can claim sixteen million pixels. Before one is decoded,
the memory its decoding takes is worked out from its header (pixels x the bytes Pillow
keeps per pixel x the copies its decoder makes, and for a JPEG sent in several scans the
coefficients libjpeg keeps for the whole image) and refused past DECODE_BUDGET; a JPEG
is decoded at the smallest scale that still gives the size kept. One photo is decoded
at a time across the server, so photos add at most that budget to its memory, whatever
the number of phones posting them (measured: tests/test_attacks.py, VmHWM).
"""

import io
import math
import threading
import warnings

from piratebox.errors import BadInput
from piratebox.i18n import N_
from piratebox.rules import MAX_PHOTOS
from piratebox.units import MB

FULL_SIZE = 1280
THUMB_SIZE = 320
JPEG_QUALITY = 82
MAX_PHOTO_BYTES = 10 * MB
# What one photo's decoding may take in memory: a 128 MB router runs the server in some
# 30 MB and keeps this much free for the one photo being decoded.
DECODE_BUDGET = 32 * MB
# Copies of the pixels a decoder holds (measured with VmHWM), while it decodes and for as
# long as the image lives: libwebp decodes into two canvases of its own that Pillow copies
# twice, and keeps its canvases; the others decode in place.
DECODER_COPIES = {"WEBP": (4, 3)}
# A palette or a 1-bit image is turned into RGB (4 bytes a pixel) to be resized well.
CONVERTED_MODES = {"P", "PA", "1"}
REDUCIBLE_MODES = {"L", "LA", "RGB", "RGBA", "CMYK", "YCbCr", "I", "F"}  # Image.reduce's
# A header claiming more than this is no photo (a phone's 50 MP photo is fine).
MAX_PIXELS = 64_000_000
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "MPO"}
JPEG_SCALES = (8, 4, 2, 1)  # what libjpeg can decode at: 1/8, 1/4, 1/2, whole
MAX_JPEG_SEGMENTS = 1000  # a real JPEG has a few dozen before its first scan

NOT_A_PHOTO = N_("This file is not a photo (JPEG, PNG, WebP or GIF).")
TOO_MANY_PIXELS = N_("This image has too many pixels for the box: send a photo taken by "
                     "the phone's camera, or a smaller image.")

_decoding = threading.Lock()  # one photo in memory at a time, across the server


def size_of(source):
    """The size of an uploaded photo: bytes, or a file the form parser wrote."""
    if isinstance(source, bytes | bytearray):
        return len(source)
    size = source.seek(0, io.SEEK_END)
    source.seek(0)
    return size


def process(source):
    """Return (full JPEG bytes, thumbnail JPEG bytes) from an uploaded photo (bytes or a
    binary file), or raise BadInput."""
    size = size_of(source)
    if size > MAX_PHOTO_BYTES:
        raise BadInput(N_("This photo is larger than 10 MB: take it again in a smaller size."))
    if not size:
        raise BadInput(N_("The photo is empty."))
    handle = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    with _decoding:
        return _process(handle)


def _process(handle):
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            webp = _webp_size(handle)  # Pillow's WebP reader decodes as it opens
            if webp and webp[0] * webp[1] * 4 * DECODER_COPIES["WEBP"][0] > DECODE_BUDGET:
                raise BadInput(TOO_MANY_PIXELS)
            image = Image.open(handle)
            if image.format not in ACCEPTED_FORMATS:
                raise BadInput(NOT_A_PHOTO)
            if image.width * image.height > MAX_PIXELS:
                raise BadInput(TOO_MANY_PIXELS)
            kept = _decode_reduced(image, handle) if image.format in ("JPEG", "MPO") else 0
            if peak_bytes(image) + kept > DECODE_BUDGET:
                raise BadInput(TOO_MANY_PIXELS)
            image.load()
            # Made smaller before anything else, each step replacing the image before it
            # (so that it is freed): converting, turning upright and encoding cost little.
            if image.mode in CONVERTED_MODES:
                image = image.convert("RGBA" if "transparency" in image.info else "RGB")
            factor = max(image.size) // FULL_SIZE
            if factor >= 2 and image.mode in REDUCIBLE_MODES:
                image = image.reduce(factor)  # allocates only the result
            image.thumbnail((FULL_SIZE, FULL_SIZE), Image.LANCZOS, reducing_gap=None)
            image = ImageOps.exif_transpose(image)
    except BadInput:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise BadInput(NOT_A_PHOTO) from None
    except (OSError, SyntaxError, ValueError, EOFError, ZeroDivisionError):
        raise BadInput(N_("This photo is damaged or incomplete: try again.")) from None
    return _encode(image, FULL_SIZE), _encode(image, THUMB_SIZE)


def _webp_size(handle):
    """A WebP file's canvas (width, height) from its first chunk; None for other files."""
    head = handle.read(30)
    handle.seek(0)
    if len(head) < 30 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    chunk = head[12:16]
    if chunk == b"VP8X":  # extended: the canvas, 24 bits each, less one
        return (int.from_bytes(head[24:27], "little") + 1,
                int.from_bytes(head[27:30], "little") + 1)
    if chunk == b"VP8L":  # lossless: 14 bits each, less one, after a signature byte
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":  # lossy: 14 bits each, after a frame tag and a start code
        return (int.from_bytes(head[26:28], "little") & 0x3FFF,
                int.from_bytes(head[28:30], "little") & 0x3FFF)
    raise ValueError("not a WebP image this box reads")


def peak_bytes(image):
    """The memory handling `image` takes at its peak, from the size its header (and
    draft()) says, as measured: while it is decoded, its pixels as Pillow keeps them
    times the copies its decoder makes; while it is made smaller, the image, its
    conversion to RGB (4 bytes a pixel), the copy Pillow makes of an image with
    transparency to reduce or resize it, and the resizing's own two passes."""
    width, height = image.size
    pixels = width * height
    per_pixel = 1 if image.mode in ("1", "L", "P") else 2 if image.mode.startswith("I;16") \
        else 4
    stored = pixels * per_pixel
    decoding, kept = DECODER_COPIES.get(image.format, (1, 1))
    decoding, working = stored * decoding, stored * kept
    if image.mode in CONVERTED_MODES:
        working += pixels * 4
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        working += pixels * 4
    return max(decoding, working + _resizing_bytes(width, height))


def _resizing_bytes(width, height):
    """The resize to FULL_SIZE: one pass across (the new width, the old height), then the
    result, after a reduction by a whole factor."""
    factor = max(width, height) // FULL_SIZE
    if factor >= 2:
        width, height = math.ceil(width / factor), math.ceil(height / factor)
    scale = FULL_SIZE / max(width, height)
    if scale >= 1:
        return 0
    return (round(width * scale) * height + round(width * scale) * round(height * scale)) * 4


def _decode_reduced(image, handle):
    """Ask libjpeg for the smallest scale that still gives FULL_SIZE on the longest side,
    or a smaller one that fits the budget. Returns the bytes libjpeg keeps besides the
    pixels: for a JPEG in several scans (progressive, or a component a scan), every
    coefficient of the whole image, whatever the scale."""
    width, height = image.size
    kept = _coefficient_bytes(image) if _in_several_scans(image, handle) else 0
    longest = max(width, height)
    scale = next(s for s in JPEG_SCALES if s == 1 or longest // s >= FULL_SIZE)
    while scale < JPEG_SCALES[0] and _reduced_bytes(width, height, scale) + kept > DECODE_BUDGET:
        scale *= 2
    image.draft("RGB", (max(1, width // scale), max(1, height // scale)))
    return kept


def _reduced_bytes(width, height, scale):
    """What a JPEG decoded at 1/`scale` takes (its pixels, then their resizing)."""
    width, height = math.ceil(width / scale), math.ceil(height / scale)
    return width * height * 4 + _resizing_bytes(width, height)


def _coefficient_bytes(image):
    """Every 8x8 block of every component of the whole image, 2 bytes a coefficient."""
    width, height = image.size
    h_max = max(h for _id, h, _v, _table in image.layer)
    v_max = max(v for _id, _h, v, _table in image.layer)
    return sum(math.ceil(width * h / h_max / 8) * math.ceil(height * v / v_max / 8) * 128
               for _id, h, v, _table in image.layer)


def _in_several_scans(image, handle):
    if image.info.get("progressive"):
        return True
    return _first_scan_components(handle) < len(image.layer)


def _first_scan_components(handle):
    """How many components a JPEG's first scan carries: all of them, unless the image
    comes one component a scan (which libjpeg must then keep whole)."""
    position = handle.tell()
    try:
        handle.seek(2)  # after the start of image
        for _segment in range(MAX_JPEG_SEGMENTS):
            if handle.read(1) != b"\xff":
                break
            code = handle.read(1)
            while code == b"\xff":  # fill bytes
                code = handle.read(1)
            if not code:
                break
            if code[0] == 0x01 or 0xD0 <= code[0] <= 0xD8:  # markers without a length
                continue
            length = int.from_bytes(handle.read(2), "big")
            if code[0] == 0xDA:  # start of scan: its first byte counts its components
                return handle.read(1)[0]
            handle.seek(length - 2, io.SEEK_CUR)
    finally:
        handle.seek(position)
    raise ValueError("no scan found")


def _encode(image, size):
    from PIL import Image

    copy = image.convert("RGB") if image.mode != "RGB" else image.copy()
    copy.thumbnail((size, size), Image.LANCZOS)
    # convert() and copy() keep the original's info (EXIF, comment, ICC); some Pillow
    # versions write the comment back on save. Nothing of it may leave the box.
    copy.info.clear()
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


TOO_MANY_FOR_AN_OBJECT = N_("At most 3 photos per object.")


def store(uploads, actor, kept=0, too_many=TOO_MANY_FOR_AN_OBJECT):
    """Re-encode each uploaded photo and store it; refuse them all if one is bad, or if
    they and the `kept` photos the object already shows would be more than MAX_PHOTOS
    (`too_many` says so for what they are of: an object, a week's tally)."""
    uploads = [upload for upload in uploads if size_of(upload)]
    if kept + len(uploads) > MAX_PHOTOS:
        raise BadInput(N_("At most 3 photos per object: untick one you have to make room.")
                       if kept else too_many)
    processed = [process(data) for data in uploads]  # raises before any write
    stored = []
    for full, thumb in processed:
        stored.append({
            "full": actor.blobs.put_bytes(full, "photo", actor.now),
            "thumb": actor.blobs.put_bytes(thumb, "thumb", actor.now),
        })
    return stored
