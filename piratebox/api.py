"""The read-only JSON API: public fields only, never a contact, a pseudonym or a token."""

from flask import Blueprint, abort, request, url_for

from models import Item
from piratebox import pagecache
from piratebox.catalogue import logic

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ITEM_FIELDS = ("id", "origin", "kind", "mode", "title", "description", "category",
                      "condition", "place", "status", "created_at", "updated_at", "expires_at",
                      "answers", "ride_at", "ride_from", "ride_to", "seats", "km", "riders")


def public_item(item):
    body = {name: getattr(item, name) for name in PUBLIC_ITEM_FIELDS}
    body["photos"] = [
        {"full": url_for("catalogue.photo", digest=p["full"]),
         "thumb": url_for("catalogue.photo", digest=p["thumb"])}
        for p in item.photo_list()
    ]
    body["url"] = url_for("catalogue.show", item_id=item.id)
    return body


@bp.get("/items")
def items():
    filters = {name: request.args.get(name, "") for name in
               ("q", "kind", "mode", "category", "place", "status")}
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() else 1
    fields = [getattr(Item, name) for name in PUBLIC_ITEM_FIELDS] + [Item.photos, Item.version]

    def body(listing):
        read_rows, total = listing
        return {"items": [public_item(item) for item in read_rows()], "total": total,
                "page": page, "page_size": logic.PAGE_SIZE}

    return pagecache.render_json(body, ("catalogue",),
                                 data=lambda: logic.listing(filters, page, fields),
                                 same_for=pagecache.EVERY_PHONE)


@bp.get("/items/<item_id>")
def item(item_id):
    def body():
        found = Item.listed().where(Item.id == item_id).first()
        if found is None:
            abort(404)
        return public_item(found)

    return pagecache.render_json(body, ("catalogue",))
