"""The address of the mediator's page that brings a stick's folder into the file share; its
views (stick_views.py) are read at its first request (see piratebox/lazyviews.py)."""

from piratebox.lazyviews import LazyBlueprint

bp = LazyBlueprint("stick_files", __name__, "piratebox.files.stick_views")
bp.page("/admin/files/stick", "index", mediator_only=True)
bp.page("/admin/files/stick", "start", methods=["POST"], mediator_only=True)
