"""The board's rules: short messages, newest first, gone after a while, never a link out."""

from peewee import SQL, fn

from models import Message, Prepared, Setting, db, slot
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


def shown(*columns):
    """Messages visitors see: not deleted, not hidden, younger than the slot `since`."""
    return Message.live().select(*columns).where(
        (Message.hidden == False) & (Message.created_at >= slot("since"))  # noqa: E712
    )


COUNT = Prepared(lambda: shown(fn.COUNT(SQL("*"))))
NEWEST = Prepared(lambda: shown().order_by(Message.created_at.desc(), Message.id.desc())
                  .limit(slot("count")).offset(slot("offset")))


def latest(now, days, count):
    return NEWEST.rows(since=now - days * DAY, count=count, offset=0)


def page(now, days, number):
    since = now - days * DAY
    total = COUNT.scalar(since=since)
    number = min(max(1, number), max(1, -(-total // PAGE_SIZE)))
    rows = NEWEST.rows(since=since, count=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    return rows, total, number


def is_closed():
    return Setting.get_value("board_closed") == "1"


def set_closed(closed):
    with db.atomic():
        Setting.put("board_closed", "1" if closed else "0")
