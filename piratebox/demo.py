"""A few realistic French sample objects, for `piratebox init --demo` and a first look."""

from models import db
from piratebox.blobs import BlobStore
from piratebox.box import Actor, identity
from piratebox.catalogue import logic

SAMPLES = [
    {"kind": "offer", "mode": "give", "place": "box", "category": "books",
     "title": "Romans policiers (lot de 5)",
     "description": "Poches en bon état, Simenon et Vargas."},
    {"kind": "offer", "mode": "lend", "place": "home", "category": "tools",
     "title": "Perceuse à percussion",
     "description": "Avec mèches béton et bois. Prêt d'une semaine.",
     "place_detail": "Le bourg, près de la mairie", "pseudonym": "Jean-Paul",
     "condition": "good"},
    {"kind": "offer", "mode": "give", "place": "home", "category": "furniture_small",
     "title": "Étagère en pin", "description": "80 × 30 cm, quatre planches.", "condition": "fair"},
    {"kind": "offer", "mode": "swap", "place": "home", "category": "garden",
     "title": "Plants de tomates contre courgettes", "description": "Cœur de bœuf, une dizaine."},
    {"kind": "offer", "mode": "give", "place": "box", "category": "clothes",
     "title": "Manteau enfant 6 ans", "condition": "good"},
    {"kind": "request", "mode": "give", "place": "home", "category": "bikes",
     "title": "Vélo enfant 16 pouces", "description": "Pour ma fille qui apprend à rouler."},
]

DEFAULTS = {"description": "", "condition": "", "place_detail": "", "pseudonym": "",
            "contact": "", "network": False, "answers": None}


def add_samples(data_dir, now):
    """Add the samples to an initialised box; returns how many were added."""
    from piratebox.database import open_existing

    open_existing(data_dir)
    with db.connection_context():
        me = identity()
        actor = Actor(box_id=me["id"], now=now, blobs=BlobStore(data_dir), role=me["role"])
        for sample in SAMPLES:
            logic.create({**DEFAULTS, **sample}, [], actor)
    return len(SAMPLES)
