"""The addresses of the backup's actions on the sync page; its views (views.py) are read at
the first request to one of them (see piratebox/lazyviews.py)."""

from piratebox.lazyviews import LazyBlueprint

bp = LazyBlueprint("backup", __name__, "piratebox.backup.views")
bp.page("/admin/backup", "backup_now", methods=["POST"], mediator_only=True)
bp.page("/admin/backup/passphrase", "backup_passphrase", methods=["POST"], mediator_only=True)
