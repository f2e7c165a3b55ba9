"""The local agenda: repair cafés, swaps, Disco Soupe, meetings, markets."""

from piratebox.i18n import N_

KINDS = {
    "repair_cafe": N_("Repair café"),
    "swap": N_("Swap, free market"),
    "disco_soupe": N_("Disco Soupe"),
    "meeting": N_("Meeting"),
    "market": N_("Market"),
    "other": N_("Other"),
}
STATUSES = ("proposed", "published", "rejected")
