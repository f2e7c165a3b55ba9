"""The board's rules: short messages, newest first, gone after a while, never a link out."""

from models import Message, Setting, db
from piratebox import rules

LIMITS = rules.limits(Message)
PAGE_SIZE = 30
DAY = 24 * 3600


def read_message(form):
    """Clean values, or errors (message ids) by field; what was typed comes back either way."""
    return rules.read(Message, {"text": form.get("text", ""),
                                "pseudonym": form.get("pseudonym", "")})


def post(values, actor):
    return actor.save(Message(**values))


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
