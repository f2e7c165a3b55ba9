"""The map of the territory's initiatives (CoCoTe's "Cartelier", phase 1 of the method).

A mediator records the local initiatives (an AMAP, a repair café, a library...); they travel
through the hub, so every box shows the département's initiatives offline, on a map the box
draws itself (drawing.py) from their coordinates and those of the communes (communes.py).
logic.py holds the rules and never imports Flask; views.py adapts them.
"""

from piratebox.catalogue.categories import THEMES as CATALOGUE_THEMES
from piratebox.i18n import N_

KINDS = {
    "amap": N_("AMAP (farm produce basket)"),
    "repair_cafe": N_("Repair café"),
    "give_box": N_("Give box"),
    "cuma": N_("CUMA (shared farm machinery)"),
    "coworking": N_("Coworking"),
    "digital_space": N_("Public digital space"),
    "library": N_("Library"),
    "disco_soupe": N_("Disco Soupe"),
    "shared_garden": N_("Shared garden"),
    "tool_library": N_("Tool library"),
    "other": N_("Other"),
}
# The method's five themes: se nourrir, se déplacer, se loger, travailler, bidouiller.
THEMES = {code: label for code, label in CATALOGUE_THEMES.items() if code != "exchange"}
