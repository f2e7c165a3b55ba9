"""The impact page's charts: SVG drawn on the server, so that no script is needed.

A chart drawn again after an exchange is mostly the bars it had: each bar's markup is
kept (BARS_KEPT of them, the least recently drawn go first), under everything it shows
and where it stands, and formatted again only when one of those changed."""

from functools import lru_cache

from markupsafe import Markup, escape

HEIGHT, TOP, BOTTOM, LEFT = 180, 20, 36, 8  # a vertical bar chart's box and margins
LINE, LABEL_WIDTH = 26, 150  # a category chart's line and labels
# Four charts of twelve to fourteen bars and a category chart's lines, a few times over
# (two languages, a figure's successive values): about 100 KB.
BARS_KEPT = 256


def bar_chart(bars, title, unit_label, width=340):
    """An SVG bar chart (vertical bars) as markup; bars: [(label, value)]. Escapes labels."""
    count = max(len(bars), 1)
    highest = max([value for _label, value in bars] + [1])
    label_every = max(1, count // 6)  # every label on a phone's width would run together
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {HEIGHT}" '
             f'role="img" aria-label="{escape(title)}" class="chart">']
    # an empty bar is drawn alike whatever the highest (this week's new exchange moves it)
    parts.extend(_bar(index, count, label, value, highest if value else 1,
                      index % label_every == 0, unit_label, width)
                 for index, (label, value) in enumerate(bars))
    parts.append(f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{width - LEFT}" '
                 f'y2="{HEIGHT - BOTTOM}" stroke="#55605a"/></svg>')
    return Markup("".join(parts))  # noqa: S704 - every label escaped


@lru_cache(maxsize=BARS_KEPT, typed=True)  # a Markup label is not escaped again
def _bar(index, count, label, value, highest, labelled, unit_label, width):
    slot = (width - LEFT * 2) / count
    bar = (HEIGHT - TOP - BOTTOM) * value / highest
    x = LEFT + index * slot
    y = HEIGHT - BOTTOM - bar
    parts = [f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{slot - 4:.1f}" '
             f'height="{bar:.1f}" fill="#1f6f50"><title>{escape(label)}: {value} '
             f'{escape(unit_label)}</title></rect>']
    if value:
        parts.append(f'<text x="{x + slot / 2:.1f}" y="{y - 4:.1f}" font-size="10" '
                     f'text-anchor="middle">{value}</text>')
    if labelled:
        parts.append(f'<text x="{x + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 14:.1f}" '
                     f'font-size="10" text-anchor="middle">{escape(label)}</text>')
    return "".join(parts)


def category_chart(bars, title, width=340):
    """Horizontal bars, one line per category (long French names fit on a phone)."""
    height = max(len(bars), 1) * LINE + 4
    highest = max([value for _label, value in bars] + [1])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{escape(title)}" class="chart">']
    parts.extend(_category_bar(index, label, value, highest, width)
                 for index, (label, value) in enumerate(bars))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every label escaped


@lru_cache(maxsize=BARS_KEPT, typed=True)  # a Markup label is not escaped again
def _category_bar(index, label, value, highest, width):
    y = index * LINE + 4
    bar = (width - LABEL_WIDTH - 40) * value / highest
    return (f'<text x="0" y="{y + 15}" font-size="11">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{bar:.1f}" height="16" '
            f'fill="#1f6f50"/><text x="{LABEL_WIDTH + bar + 4:.1f}" y="{y + 15}" '
            f'font-size="11">{value}</text>')
