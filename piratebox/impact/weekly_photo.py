"""The weekly photo of the give box compared with the week before: CoCoTe's "look for the
seven differences", counted by the box.

Both photos are decoded small (libjpeg scales while it decodes: a router decodes a
1280-pixel photo at a sixteenth of the work), their contrast evened out (the café's light
changes from week to week) and blurred a little (JPEG's own noise), then subtracted.
Where a colour differs by more than THRESHOLD, a pixel has changed; isolated specks are dropped,
neighbours joined, and each connected region large enough is one difference, outlined by
its box. It assumes the photo is taken from the same spot each week, as the method asks:
a moved camera changes everything, and the page says so, counting nothing, when much of
the photo changed, when the outlines cover most of it (a shift or a zoom leaves the flat
wood alike and outlines the whole shelf as one "difference"), or when the two photos are
not of the same shape (one upright, one across).
"""

from collections import deque
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from models import Tally

WIDTH = 240  # pixels across the compared images; the height follows the newer photo
THRESHOLD = 48  # of 255 grey levels, after the contrast is evened out
MIN_AREA = 0.003  # of the photo: smaller regions are noise, a reflection, a price tag
JOIN = 7  # pixels: parts of one object closer than this are one difference
GRID = 2  # pixels a side of the cells connected regions are followed on
MOVED_CAMERA = 0.3  # of the photo changed: more likely a moved camera than the box
OUTLINED = 0.5  # of the photo inside the outlines: a whole shelf changed is a moved camera
SAME_SHAPE = 0.1  # the widest gap between the two photos' width-to-height ratios


@dataclass(frozen=True)
class Comparison:
    boxes: tuple  # ((left, top, right, bottom) as fractions of the photo's width and height)
    changed: float  # the share of the photo that differs
    same_shape: bool = True  # both upright or both across, framed alike

    @property
    def count(self):
        """The differences, none when the photos cannot be compared."""
        return 0 if self.camera_moved else len(self.boxes)

    @property
    def outlined(self):
        """The share of the photo inside the outlines (they never overlap: _merged)."""
        return sum((right - left) * (bottom - top) for left, top, right, bottom in self.boxes)

    @property
    def camera_moved(self):
        return (not self.same_shape or self.changed >= MOVED_CAMERA
                or self.outlined >= OUTLINED)


def _ratio(path):
    from PIL import Image

    with Image.open(path) as image:
        width, height = image.size
    return width / height


def _prepared(path, size=None):
    from PIL import Image, ImageFilter, ImageOps

    with Image.open(path) as image:
        width, height = image.size
        if size is None:
            size = (WIDTH, max(1, round(WIDTH * height / width)))
        image.draft("RGB", (size[0] * 2, size[1] * 2))
        small = image.convert("RGB").resize(size, Image.BILINEAR)
    return ImageOps.autocontrast(small, cutoff=1).filter(ImageFilter.GaussianBlur(1.5))


def compare(newer_path, older_path):
    """The regions of the newer photo that are not as they were in the older one."""
    from PIL import ImageChops, ImageFilter

    newer_ratio, older_ratio = _ratio(newer_path), _ratio(older_path)
    if abs(newer_ratio - older_ratio) > SAME_SHAPE * max(newer_ratio, older_ratio):
        return Comparison((), 1.0, same_shape=False)
    newer = _prepared(newer_path)
    older = _prepared(older_path, newer.size)
    # a blue object taken off brown wood is plain in colour, faint in grey
    red, green, blue = ImageChops.difference(newer, older).split()
    changed = ImageChops.lighter(ImageChops.lighter(red, green), blue).point(
        lambda level: 255 if level > THRESHOLD else 0)
    # an opening drops specks of a pixel or two; the dilation joins the parts of one object;
    # regions are then followed on a grid of 2 x 2 pixels (a quarter of the work)
    mask = changed.filter(ImageFilter.MinFilter(3)).filter(ImageFilter.MaxFilter(JOIN))
    mask = mask.reduce(GRID)
    width, height = mask.size
    regions = _regions(mask.tobytes(), width, height, MIN_AREA * width * height)
    changed_share = changed.histogram()[255] / (changed.width * changed.height)
    return Comparison(tuple((left / width, top / height, (right + 1) / width,
                             (bottom + 1) / height)
                            for left, top, right, bottom in _merged(regions)), changed_share)


def _regions(pixels, width, height, min_area):
    """Bounding boxes of the 4-connected regions of non-zero pixels of at least min_area."""
    seen = bytearray(len(pixels))
    boxes = []
    for start, level in enumerate(pixels):
        if not level or seen[start]:
            continue
        seen[start] = 1
        queue, area = deque([start]), 0
        left, top, right, bottom = width, height, 0, 0
        while queue:
            index = queue.popleft()
            area += 1
            y, x = divmod(index, width)
            left, right, top, bottom = min(left, x), max(right, x), min(top, y), max(bottom, y)
            for neighbour, inside in ((index - 1, x > 0), (index + 1, x < width - 1),
                                      (index - width, y > 0), (index + width, y < height - 1)):
                if inside and pixels[neighbour] and not seen[neighbour]:
                    seen[neighbour] = 1
                    queue.append(neighbour)
        if area >= min_area:
            boxes.append((left, top, right, bottom))
    return boxes


def _merged(boxes):
    """Boxes that overlap become one: an outline never sits inside another."""
    boxes = list(boxes)
    merged = True
    while merged:
        merged = False
        for i, first in enumerate(boxes):
            for j in range(i + 1, len(boxes)):
                second = boxes[j]
                if (first[0] <= second[2] and second[0] <= first[2]
                        and first[1] <= second[3] and second[1] <= first[3]):
                    boxes[i] = (min(first[0], second[0]), min(first[1], second[1]),
                                max(first[2], second[2]), max(first[3], second[3]))
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return sorted(boxes, key=lambda box: (box[1], box[0]))


@lru_cache(maxsize=64)
def _compare_files(newer_path, older_path):
    """Photos are content-addressed: a pair's comparison never changes, so it is made once.
    None for a photo that cannot be read (damaged on the card): the page shows the photos."""
    try:
        return compare(newer_path, older_path)
    except (OSError, ValueError):
        return None


def week_before(tally):
    """The latest earlier tally of the same box that has a photo, or None."""
    return (Tally.live().where((Tally.origin == tally.origin) & (Tally.week_of < tally.week_of)
                               & (Tally.photos != "[]"))
            .order_by(Tally.week_of.desc()).first())


def differences(tally, blobs):
    """(the week before's tally, the Comparison of their first photos), or None when either
    week has no photo or a photo is missing from the store."""
    photos = tally.photo_list()
    before = week_before(tally) if photos else None
    if before is None:
        return None
    newer, older = blobs.path(photos[0]["full"]), blobs.path(before.photo_list()[0]["full"])
    comparison = _compare_files(str(newer), str(older))
    return (before, comparison) if comparison else None


def counts(origin, blobs, first=None, end=None):
    """[(the week's Monday, differences)] of a box's tallies that have a week before to
    compare with, oldest first; those whose Monday is from `first` to before `end` (ISO
    days), when given."""
    query = Tally.live().where((Tally.origin == origin) & (Tally.photos != "[]"))
    if first:
        query = query.where((Tally.week_of >= first) & (Tally.week_of < end))
    found = []
    for tally in query.order_by(Tally.week_of):
        compared = differences(tally, blobs)
        if compared and not compared[1].camera_moved:  # a moved camera counts nothing
            found.append((date.fromisoformat(tally.week_of), compared[1].count))
    return found
