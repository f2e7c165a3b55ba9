"""A few realistic French sample objects, for `piratebox init --demo` and a first look.

Each offer comes with a picture drawn here with Pillow (flat shapes, the project's own):
nothing is downloaded, and the photos go through the same processing as a phone's.
"""

import io

from models import db
from piratebox.blobs import BlobStore
from piratebox.box import Actor, identity
from piratebox.catalogue import logic

SAMPLES = [
    {"kind": "offer", "mode": "give", "place": "box", "category": "books",
     "title": "Romans policiers (lot de 5)",
     "description": "Poches en bon état, Simenon et Vargas.", "picture": "books"},
    {"kind": "offer", "mode": "lend", "place": "home", "category": "tools",
     "title": "Perceuse à percussion",
     "description": "Avec mèches béton et bois. Prêt d’une semaine.",
     "place_detail": "Le bourg, près de la mairie", "pseudonym": "Jean-Paul",
     "condition": "good", "picture": "drill"},
    {"kind": "offer", "mode": "give", "place": "home", "category": "furniture_small",
     "title": "Étagère en pin", "description": "80 × 30 cm, quatre planches.",
     "condition": "fair", "picture": "shelf"},
    {"kind": "offer", "mode": "swap", "place": "home", "category": "garden",
     "title": "Plants de tomates contre courgettes", "description": "Cœur de bœuf, une dizaine.",
     "picture": "tomatoes"},
    {"kind": "offer", "mode": "give", "place": "box", "category": "clothes",
     "title": "Manteau enfant 6 ans", "condition": "good", "picture": "coat"},
    {"kind": "request", "mode": "give", "place": "home", "category": "bikes",
     "title": "Vélo enfant 16 pouces", "description": "Pour ma fille qui apprend à rouler."},
]

DEFAULTS = {"description": "", "condition": "", "place_detail": "", "pseudonym": "",
            "contact": "", "network": False, "answers": None}
SIZE = (800, 600)


def add_samples(data_dir, now):
    """Add the samples to an initialised box; returns how many were added."""
    from piratebox.database import open_existing

    open_existing(data_dir)
    with db.connection_context():
        me = identity()
        actor = Actor(box_id=me["id"], now=now, blobs=BlobStore(data_dir), role=me["role"])
        for sample in SAMPLES:
            fields = {**DEFAULTS, **sample}
            picture = fields.pop("picture", None)
            logic.create(fields, [draw(picture)] if picture else [], actor)
    return len(SAMPLES)


def draw(name):
    """A sample's picture as JPEG bytes, as a phone would send it."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", SIZE, (236, 231, 220))
    pen = ImageDraw.Draw(image)
    pen.rectangle((0, 430, 800, 600), fill=(196, 170, 132))  # a table or the floor
    PICTURES[name](pen)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def books(pen):
    colours = [(170, 48, 40), (34, 90, 140), (214, 160, 40), (40, 120, 80), (90, 60, 120)]
    for index, colour in enumerate(colours):  # a pile of five paperbacks
        top = 400 - index * 52
        left = 250 + (index % 2) * 18 - (index % 3) * 10
        pen.rectangle((left, top, left + 300, top + 46), fill=colour, outline=(40, 30, 20),
                      width=3)
        pen.rectangle((left + 300, top + 4, left + 312, top + 42), fill=(245, 240, 225),
                      outline=(40, 30, 20), width=2)
        pen.line((left + 30, top + 23, left + 170, top + 23), fill=(245, 235, 210), width=5)


def drill(pen):
    body = (30, 90, 170)
    pen.rounded_rectangle((210, 190, 560, 300), radius=40, fill=body, outline=(20, 30, 50),
                          width=4)  # the motor
    pen.polygon([(330, 290), (430, 290), (400, 470), (300, 470)], fill=body,
                outline=(20, 30, 50))  # the grip
    pen.rectangle((280, 460, 430, 520), fill=(40, 40, 45))  # the battery
    pen.rectangle((560, 225, 620, 265), fill=(60, 60, 60))  # the chuck
    pen.polygon([(620, 238), (740, 242), (740, 248), (620, 252)], fill=(180, 180, 185))
    pen.rectangle((355, 310, 380, 350), fill=(230, 190, 40))  # the trigger


def shelf(pen):
    wood, edge = (222, 184, 130), (150, 110, 60)
    pen.rectangle((230, 60, 260, 520), fill=wood, outline=edge, width=3)
    pen.rectangle((540, 60, 570, 520), fill=wood, outline=edge, width=3)
    for top in (60, 180, 300, 420):
        pen.rectangle((230, top, 570, top + 24), fill=wood, outline=edge, width=3)
    pen.rectangle((290, 120, 330, 180), fill=(170, 48, 40))  # a few things on it
    pen.ellipse((420, 250, 480, 300), fill=(60, 120, 90))


def tomatoes(pen):
    for index, left in enumerate((150, 330, 510)):  # three pots of seedlings
        pen.polygon([(left, 360), (left + 140, 360), (left + 120, 500), (left + 20, 500)],
                    fill=(184, 92, 56), outline=(110, 50, 30))
        stem = left + 70
        pen.line((stem, 360, stem, 180 + index * 20), fill=(50, 120, 50), width=8)
        for height in (230, 280, 320):
            pen.ellipse((stem - 60, height - 20, stem, height + 10), fill=(70, 150, 60))
            pen.ellipse((stem, height - 35, stem + 60, height - 5), fill=(70, 150, 60))
        pen.ellipse((stem + 10, 250 + index * 10, stem + 50, 290 + index * 10),
                    fill=(210, 40, 30))


def coat(pen):
    red, dark = (196, 52, 44), (110, 25, 20)
    pen.polygon([(330, 90), (470, 90), (600, 170), (560, 260), (520, 230), (520, 480),
                 (280, 480), (280, 230), (240, 260), (200, 170)], fill=red, outline=dark)
    pen.polygon([(360, 90), (400, 160), (440, 90)], fill=(236, 231, 220))  # the collar
    pen.line((400, 160, 400, 480), fill=dark, width=4)
    for top in (210, 290, 370):
        pen.ellipse((410, top, 430, top + 20), fill=(240, 210, 90))
    pen.rectangle((300, 350, 370, 400), outline=dark, width=4)  # a pocket


PICTURES = {"books": books, "drill": drill, "shelf": shelf, "tomatoes": tomatoes,
            "coat": coat}
