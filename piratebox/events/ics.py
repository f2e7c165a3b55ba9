"""iCalendar (RFC 5545) files, so an event lands in a phone's calendar.

Written by hand, it is short: CRLF line ends, lines folded at 75 octets, TEXT values
escaped, times in UTC (no VTIMEZONE needed). Every text goes through the shared character
rule first, whatever the database holds: a raw CR, a U+2028 or a control character in a
content line would end it early or break the calendar app's parser.
"""

from datetime import UTC, datetime

from piratebox import __version__
from piratebox.events.logic import end_of
from piratebox.text import clean_block, clean_line


def escape(text, multiline=False):
    text = clean_block(text) if multiline else clean_line(text)
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\n", "\\n"))


def fold(line):
    """Split a content line into pieces of at most 75 octets, never inside a character."""
    pieces, current = [], ""
    for char in line:
        limit = 75 if not pieces else 74  # continuation lines start with a space
        if len((current + char).encode("utf-8")) > limit:
            pieces.append(current)
            current = ""
        current += char
    pieces.append(current)
    return "\r\n ".join(pieces)


def utc(timestamp):
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar(events, name, now, site_url):
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:-//CoCoTe//piratebox {__version__}//FR",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape(name)}",
    ]
    for event in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{event.id}@cocote",
            f"DTSTAMP:{utc(now)}",
            f"DTSTART:{utc(event.starts_at)}",
            f"DTEND:{utc(end_of(event))}",
            f"SUMMARY:{escape(event.title)}",
        ]
        if event.place:
            lines.append(f"LOCATION:{escape(event.place)}")
        if event.description:
            lines.append(f"DESCRIPTION:{escape(event.description, multiline=True)}")
        lines += [f"URL:{site_url}/events/{event.id}", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
