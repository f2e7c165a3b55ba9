"""The board's rules: short messages, newest first, gone after a while, never a link out."""

from peewee import SQL, fn

from models import Message, Narrow, Prepared, Setting, by_ids, db, id_slots, slot
from piratebox import database, rules

LIMITS = rules.limits(Message)
PAGE_SIZE = 30
DAY = 24 * 3600
# A phone waiting on a busy router is tapped again, or sends the form again when it gets
# its signal back: the same words under the same name from the same phone within this
# time are one message.
SAME_MESSAGE_SECONDS = 120


def read_message(form):
    """Clean values, or errors (message ids) by field; what was typed comes back either way."""
    return rules.read(Message, {"text": form.get("text", ""),
                                "pseudonym": form.get("pseudonym", "")})


class JustPosted:
    """Which phone posted each message of the last SAME_MESSAGE_SECONDS, kept by the
    process that took them (a second tap comes to the same box): the board keeps no
    author, and two villagers may well write the same "Merci !" at once. Changed only
    within post's transaction, one writer at a time."""

    def __init__(self):
        self._posters = {}  # message id: (phone, when)

    def by(self, message_ids, phone):
        return any(self._posters.get(message_id, (None,))[0] == phone
                   for message_id in message_ids)

    def note(self, message_id, phone, now):
        # a phone posts a few messages an hour at most: what is kept is what a busy
        # quarter of an hour brings, and a clock moved back forgets nothing it should keep
        self._posters = {kept: (poster, when) for kept, (poster, when) in self._posters.items()
                         if now - SAME_MESSAGE_SECONDS <= when <= now}
        self._posters[message_id] = (phone, now)


def post(values, actor, phone=None, just_posted=None, admit=lambda: None):
    """Post the message and return it; None if this phone posted the same words under the
    same name a moment ago (it is on the board: a second tap, not a second message).
    `admit` is called only for a message that will be written (the phone's hourly limit),
    within the same transaction, so two taps arriving together write it once. Without
    `just_posted` (a script's message), it is written."""
    with database.exclusive():
        if just_posted is not None:
            same = Message.live().select(Message.id).where(
                (Message.text == values["text"]) & (Message.pseudonym == values["pseudonym"])
                & (Message.created_at.between(actor.now - SAME_MESSAGE_SECONDS, actor.now)))
            if just_posted.by([message_id for message_id, in same.tuples()], phone):
                return None
        admit()
        message = actor.save(Message(**values))
        if just_posted is not None:
            just_posted.note(message.id, phone, actor.now)
        return message


def shown(*columns):
    """Messages visitors see: not deleted, not hidden, younger than the slot `since`."""
    return Message.live().select(*columns).where(
        (Message.hidden == False) & (Message.created_at >= slot("since"))  # noqa: E712
    )


COUNT = Prepared(lambda: shown(fn.COUNT(SQL("*"))))
NEWEST = Prepared(lambda *columns: shown(*columns)
                  .order_by(Message.created_at.desc(), Message.id.desc())
                  .limit(slot("count")).offset(slot("offset")))
# The board's page is read narrow (its rows are kept, see pagecache.kept_rows), and only
# the messages whose row is not kept are read whole.
WHOLE = Prepared(lambda count: Message.select().where(Message.id.in_(id_slots(count))))


def latest(now, days, count):
    return NEWEST.rows(since=now - days * DAY, count=count, offset=0)


def latest_versions(now, days, count):
    """Which messages `latest` gives, each at its version, read without them."""
    return tuple(NEWEST.tuples(*Message.id_and_version(), since=now - days * DAY, count=count,
                               offset=0))


def page(now, days, number):
    """The page `number` of the board: (its messages read narrow, models.Narrow, how many
    messages there are, the page's number within them)."""
    since = now - days * DAY
    total = COUNT.scalar(since=since)
    number = min(max(1, number), max(1, -(-total // PAGE_SIZE)))
    rows = NEWEST.tuples(*Message.id_and_version(), since=since, count=PAGE_SIZE,
                         offset=(number - 1) * PAGE_SIZE)
    return Narrow(rows, ("id", "version"), lambda ids: by_ids(WHOLE, ids)), total, number


def is_closed():
    return Setting.get_value("board_closed") == "1"


def set_closed(closed):
    with db.atomic():
        Setting.put("board_closed", "1" if closed else "0")
