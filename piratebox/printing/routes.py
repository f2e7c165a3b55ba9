"""The addresses of the QR codes, the printables and the mediator's settings and labels; their
views (views.py) are read at the first request to one of them (see piratebox/lazyviews.py).
"""

from piratebox.lazyviews import LazyBlueprint

bp = LazyBlueprint("printing", __name__, "piratebox.printing.views")
bp.page("/qr/<which>.svg", "code_svg")
bp.page("/qr/<which>.png", "code_png")
bp.page("/qr/items/<item_id>.svg", "item_code")
bp.page("/qr/files/<file_id>.svg", "file_code")
bp.page("/print/poster", "poster_page")
bp.page("/print/poster.pdf", "poster_pdf")
bp.page("/admin/settings", "settings", methods=["GET", "POST"], mediator_only=True)
bp.page("/admin/labels", "labels", methods=["GET", "POST"], mediator_only=True)
