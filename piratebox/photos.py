"""Photos: refuse what is not an image, re-encode what is, keep nothing of the original.

Each photo becomes a JPEG of at most 1280 px on its longest side and a 320 px thumbnail,
upright (EXIF orientation applied) and without any metadata: no GPS position, no camera,
no date. The uploaded bytes are never stored nor served. Pillow is imported here only,
when a photo arrives: it costs time and memory a router does not spend otherwise.
"""

import io
import warnings

from piratebox.errors import BadInput
from piratebox.i18n import N_

FULL_SIZE = 1280
THUMB_SIZE = 320
JPEG_QUALITY = 82
MAX_PHOTO_BYTES = 10 * 1024 * 1024
# A phone's 50 MP photo is fine (JPEG decodes at a reduced scale); an image claiming more
# pixels than this is a decompression bomb. Other formats decode at full size: lower limit.
MAX_JPEG_PIXELS = 64_000_000
MAX_OTHER_PIXELS = 16_000_000
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "MPO"}


def process(data):
    """Return (full JPEG bytes, thumbnail JPEG bytes) from uploaded bytes, or raise BadInput."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) > MAX_PHOTO_BYTES:
        raise BadInput(N_("This photo is larger than 10 MB: take it again in a smaller size."))
    if not data:
        raise BadInput(N_("The photo is empty."))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise BadInput(N_("This file is not a photo (JPEG, PNG, WebP or GIF)."))
            limit = MAX_JPEG_PIXELS if image.format in ("JPEG", "MPO") else MAX_OTHER_PIXELS
            if image.width * image.height > limit:
                raise BadInput(N_("This image is far too large in pixels."))
            # JPEG can decode at 1/2, 1/4 or 1/8 scale: a 24 MP photo then needs a few MB
            # of memory instead of 72.
            image.draft("RGB", (FULL_SIZE, FULL_SIZE))
            image.load()
            upright = ImageOps.exif_transpose(image)
    except BadInput:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise BadInput(N_("This file is not a photo (JPEG, PNG, WebP or GIF).")) from None
    except (OSError, SyntaxError, ValueError):
        raise BadInput(N_("This photo is damaged or incomplete: try again.")) from None
    return _encode(upright, FULL_SIZE), _encode(upright, THUMB_SIZE)


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
