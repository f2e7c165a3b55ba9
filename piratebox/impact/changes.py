"""How recent what the figures are made of is: the figures page is kept while it has no
newer change (pagecache.render's `data`), as the figures themselves take a dozen queries."""

from peewee import SQL, NodeList, Select, fn

from models import Event, Exchange, Initiative, Item, Prepared, Tally, WaitingEntry


def _latest():
    # written out: SQLite reads a partial index only for the very words of its condition,
    # and peewee writes is_null(False) with a parameter
    rides = Item.select().where(NodeList((Item.ride_at, SQL("IS NOT NULL"))))
    return Select(columns=[
        *(model.select(fn.MAX(model.seq)) for model in (Exchange, Tally, Event, WaitingEntry,
                                                        Initiative)),
        rides.select(fn.MAX(Item.seq)), rides.select(fn.COUNT(SQL("*")))])


LATEST = Prepared(_latest)


def latest():
    """The newest change of what the figures are made of, in a few index look-ups: every
    change made here takes the next number of the box's change sequence (`seq`), so a
    change to an exchange, a tally, an event, a ride, a seat taken or an initiative (the
    communes a ride's distance is estimated from) moves this row on; the rides are counted
    too, as one that becomes an object leaves them with no newer change among them. A
    write changing none of these (a reservation, an object's new title, a word on the
    board) changes no figure. What a sync brings may keep its sender's numbers: a sync
    renders every page again anyway."""
    return LATEST.tuples()[0]
