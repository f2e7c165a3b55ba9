"""The local agenda: repair cafés, swaps, Disco Soupe, meetings, markets."""

from piratebox.i18n import N_

KINDS = {
    "repair_cafe": N_("Repair café"),
    "swap": N_("Swap, free market"),
    "disco_soupe": N_("Disco Soupe"),
    "meeting": N_("Meeting"),
    "market": N_("Market"),
    "free_zone": N_("Free zone day"),
    "other": N_("Other"),
}
# The kinds where what changes hands is weighed at the door: brought and taken, in kilos.
WEIGHED = ("free_zone", "swap")
STATUSES = ("proposed", "published", "rejected")
