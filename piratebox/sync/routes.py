"""The addresses of the mediator's sync page; its views (views.py) are read at the first
request to one of them (see piratebox/lazyviews.py)."""

from piratebox import bodies
from piratebox.lazyviews import LazyBlueprint
from piratebox.units import MB

bodies.declare("bundle", lambda config: bodies.spooled(
    "bundle", config["SYNC_MAX_BUNDLE_MB"] * MB, 1, mediator_only=True))

bp = LazyBlueprint("sync", __name__, "piratebox.sync.views")
bp.page("/admin/sync", "index", mediator_only=True)
bp.page("/admin/sync/enrolment", "confirm", methods=["POST"], mediator_only=True)
bp.page("/admin/sync/set-aside/<entry_id>/discard", "discard", methods=["POST"], mediator_only=True)
bp.page("/admin/sync/bundle", "download", methods=["POST"], mediator_only=True)
bp.page("/admin/sync/upload", "upload", methods=["POST"], body="bundle", mediator_only=True)
