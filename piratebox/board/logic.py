"""The board's rules: short messages, newest first, gone after a while, never a link out."""

from models import Message, Setting, db
from piratebox.i18n import N_

MAX_LENGTH = 500
MAX_PSEUDONYM = 60
PAGE_SIZE = 30
DAY = 24 * 3600


def read_message(form):
    """Clean values, or errors (message ids) by field; what was typed comes back either way."""
    text = form.get("text", "").strip().replace("\r\n", "\n")
    values = {"text": text, "pseudonym": " ".join(form.get("pseudonym", "").split())}
    errors = {}
    if not text:
        errors["text"] = N_("Write a message first.")
    elif len(text) > MAX_LENGTH:
        errors["text"] = N_("Too long: at most %(limit)d characters.")
    if len(values["pseudonym"]) > MAX_PSEUDONYM:
        errors["pseudonym"] = N_("Too long: at most %(limit)d characters.")
    return values, errors


def post(values, actor):
    return Message(**values).save_change(actor.box_id, actor.now)


def shown(now, days):
    """Messages visitors see: not deleted, not hidden, younger than `days`."""
    return Message.live().where(
        (Message.hidden == False) & (Message.created_at >= now - days * DAY)  # noqa: E712
    ).order_by(Message.created_at.desc(), Message.id.desc())


def page(now, days, number):
    query = shown(now, days)
    total = query.count()
    number = min(max(1, number), max(1, -(-total // PAGE_SIZE)))
    return list(query.paginate(number, PAGE_SIZE)), total, number


def is_closed():
    return Setting.get_value("board_closed") == "1"


def set_closed(closed):
    with db.atomic():
        Setting.put("board_closed", "1" if closed else "0")
