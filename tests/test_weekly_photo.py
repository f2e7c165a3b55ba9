"""The weekly photo compared with last week's, on real JPEGs made with Pillow with known
changes, through the box's own photo pipeline (re-encoded as any uploaded photo is)."""

import io
import random

import pytest

from models import Tally, db
from piratebox.impact import weekly_photo
from tests.conftest import csrf_from
from tests.test_quarter_report import text_of

# a shelf of the give box at 1600 x 1200: (left, top, right, bottom) of each object
SHELF = [(80, 120, 380, 420), (480, 150, 700, 430), (820, 100, 1150, 440),
         (1250, 160, 1520, 420), (100, 700, 420, 1050), (560, 720, 820, 1080),
         (960, 680, 1200, 1060), (1300, 740, 1540, 1100)]
COLOURS = [(180, 40, 40), (40, 90, 170), (230, 190, 60), (60, 140, 70), (120, 60, 140),
           (200, 120, 40), (30, 30, 30), (220, 220, 210)]


def scene(objects, light=1.0, seed=1, quality=88):
    """A photo of the shelf holding `objects` ({index: colour}), grain and all, as a phone
    takes it; `light` makes it brighter or darker."""
    from PIL import Image, ImageDraw, ImageEnhance

    rng = random.Random(seed)  # noqa: S311 - a repeatable picture, not a secret
    image = Image.new("RGB", (1600, 1200), (150, 110, 70))  # wood
    draw = ImageDraw.Draw(image)
    for y in range(0, 1200, 24):  # the grain of the wood
        draw.line((0, y, 1600, y + rng.randint(-6, 6)), fill=(135, 98, 62), width=3)
    draw.rectangle((0, 560, 1600, 600), fill=(90, 60, 35))  # the shelf's board
    for index, colour in objects.items():
        left, top, right, bottom = SHELF[index]
        draw.rounded_rectangle((left, top, right, bottom), radius=20, fill=colour)
        draw.rectangle((left + 30, top + 30, left + 90, top + 60), fill=(245, 245, 245))
    noise = Image.effect_noise((1600, 1200), 12).convert("RGB")
    image = Image.blend(image, noise, 0.08)
    image = ImageEnhance.Brightness(image).enhance(light)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


LAST_WEEK = dict(enumerate(COLOURS))


def this_week():
    objects = dict(LAST_WEEK)
    del objects[1]  # the blue object was taken
    objects[6] = (40, 160, 200)  # the black one was swapped for a light blue one
    del objects[4]
    objects[4] = (200, 200, 60)  # and another left in its place
    return objects


def through_the_box(tmp_path, data, name):
    """The photo as the box keeps it: re-encoded, bounded (piratebox/photos.py)."""
    from piratebox import photos

    full, _thumb = photos.process(io.BytesIO(data))
    path = tmp_path / name
    path.write_bytes(full)
    return path


def test_the_changed_areas_are_found_and_outlined(tmp_path):
    older = through_the_box(tmp_path, scene(LAST_WEEK), "older.jpg")
    newer = through_the_box(tmp_path, scene(this_week(), light=1.08, seed=2, quality=80),
                            "newer.jpg")
    comparison = weekly_photo.compare(newer, older)
    assert comparison.count == 3
    assert not comparison.camera_moved
    expected = [SHELF[1], SHELF[6], SHELF[4]]  # outlines come top to bottom
    for box, (left, top, right, bottom) in zip(comparison.boxes, expected, strict=True):
        # each outline is where the change is, to a few pixels of the 1600-wide photo
        assert box[0] * 1600 == pytest.approx(left, abs=40)
        assert box[1] * 1200 == pytest.approx(top, abs=40)
        assert box[2] * 1600 == pytest.approx(right, abs=40)
        assert box[3] * 1200 == pytest.approx(bottom, abs=40)


def test_the_same_box_in_another_light_has_no_difference(tmp_path):
    older = through_the_box(tmp_path, scene(LAST_WEEK), "older.jpg")
    newer = through_the_box(tmp_path, scene(LAST_WEEK, light=0.9, seed=5, quality=75),
                            "newer.jpg")
    assert weekly_photo.compare(newer, older).count == 0


def test_a_moved_camera_is_said_rather_than_counted(tmp_path):
    from PIL import Image

    older = through_the_box(tmp_path, scene(LAST_WEEK), "older.jpg")
    with Image.open(older) as photo:
        shifted = photo.rotate(180)
        out = io.BytesIO()
        shifted.save(out, "JPEG")
    newer = through_the_box(tmp_path, out.getvalue(), "newer.jpg")
    assert weekly_photo.compare(newer, older).camera_moved


def reframed(data, box):
    """The photo `data` cropped to `box` (left, top, right, bottom), as a phone held
    elsewhere or zoomed takes it, at its own size."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as photo:
        out = io.BytesIO()
        photo.crop(box).resize((box[2] - box[0], box[3] - box[1])).save(out, "JPEG")
    return out.getvalue()


def test_the_same_shelf_shifted_and_zoomed_is_a_moved_camera_not_a_difference(tmp_path):
    from PIL import Image

    older = through_the_box(tmp_path, scene(LAST_WEEK), "older.jpg")
    with Image.open(io.BytesIO(reframed(scene(LAST_WEEK, seed=3), (120, 90, 1560, 1170)))) \
            as zoomed:
        out = io.BytesIO()
        zoomed.resize((1600, 1200)).save(out, "JPEG")
    comparison = weekly_photo.compare(through_the_box(tmp_path, out.getvalue(), "newer.jpg"),
                                      older)
    assert comparison.camera_moved and comparison.count == 0


def test_an_upright_photo_against_one_across_is_a_moved_camera(tmp_path):
    older = through_the_box(tmp_path, scene(LAST_WEEK), "older.jpg")
    upright = reframed(scene(LAST_WEEK, seed=3), (400, 0, 1300, 1200))
    comparison = weekly_photo.compare(through_the_box(tmp_path, upright, "newer.jpg"), older)
    assert comparison.camera_moved and comparison.count == 0


def post_tally(admin, week, photo):
    page = admin.get("/admin/tally").get_data(as_text=True)
    response = admin.post("/admin/tally", data={
        "csrf_token": csrf_from(page), "week_of": week, "deposited": "4", "taken": "3",
        "photos": (io.BytesIO(photo), "box.jpg")}, content_type="multipart/form-data")
    assert response.status_code == 302


def test_the_mediator_sees_the_weeks_differences_side_by_side(admin, tmp_path):
    post_tally(admin, "2026-11-09", scene(LAST_WEEK))
    post_tally(admin, "2026-11-16", scene(this_week(), light=1.05, seed=3))
    page = admin.get("/admin/tally").get_data(as_text=True)
    assert "3 différences avec la semaine du lundi 9 novembre" in page
    with db.connection_context():
        first, second = (Tally.get(Tally.week_of == week) for week in ("2026-11-09",
                                                                         "2026-11-16"))
    link = f'href="/admin/tally/{second.id}/compare"'
    assert link in page and f'href="/admin/tally/{first.id}/compare"' not in page
    compared = admin.get(f"/admin/tally/{second.id}/compare").get_data(as_text=True)
    assert compared.count("<img") == 2
    assert compared.count('class="difference"') == 2 * 3  # outlined on both photos
    assert "3 différences avec la semaine du lundi 9 novembre" in compared
    for tally in (first, second):  # each photo shown is the week's own
        assert tally.photo_list()[0]["full"] in compared
    assert admin.get(f"/admin/tally/{first.id}/compare").status_code == 404  # no week before
    assert "différences de la photo semaine du 16/11/2026;3" in admin.get(
        "/admin/stats.csv").get_data(as_text=True)
    report = admin.get("/admin/report.pdf?quarter=2026-Q4")
    path = tmp_path / "report.pdf"
    path.write_bytes(report.data)
    assert "Les différences de la semaine" in text_of(path)


def test_the_comparison_is_the_mediators(admin, app):
    post_tally(admin, "2026-11-09", scene(LAST_WEEK))
    post_tally(admin, "2026-11-16", scene(this_week()))
    with db.connection_context():
        second = Tally.get(Tally.week_of == "2026-11-16")
    assert app.test_client().get(f"/admin/tally/{second.id}/compare").status_code == 302


def test_a_moved_camera_is_said_on_the_page_and_counts_nothing(admin, tmp_path):
    post_tally(admin, "2026-11-09", scene(LAST_WEEK))
    post_tally(admin, "2026-11-16", reframed(scene(this_week(), seed=3), (400, 0, 1300, 1200)))
    page = admin.get("/admin/tally").get_data(as_text=True)
    assert "Pas comparée à la semaine du lundi 9 novembre" in page
    assert "différence" not in page
    with db.connection_context():
        second = Tally.get(Tally.week_of == "2026-11-16")
    compared = admin.get(f"/admin/tally/{second.id}/compare").get_data(as_text=True)
    assert "ne sont pas prises du même endroit" in compared
    assert 'class="difference"' not in compared
    assert "photo differences week of 2026-11-16" not in admin.get(
        "/admin/stats.csv").get_data(as_text=True)


def test_the_page_says_which_week_a_photo_is_compared_with(admin):
    post_tally(admin, "2026-11-02", scene(LAST_WEEK))
    post_tally(admin, "2026-11-16", scene(this_week(), light=1.05, seed=3))
    assert "avec la semaine du lundi 2 novembre" in admin.get(
        "/admin/tally").get_data(as_text=True)
    post_tally(admin, "2026-11-09", scene(LAST_WEEK, seed=4))  # a week added in between
    page = admin.get("/admin/tally").get_data(as_text=True)
    assert "avec la semaine du lundi 9 novembre" in page
    with db.connection_context():
        last = Tally.get(Tally.week_of == "2026-11-16")
    assert "la dernière semaine précédente qui en a une" in admin.get(
        f"/admin/tally/{last.id}/compare").get_data(as_text=True)
