"""The impact page's charts: SVG drawn on the server, so that no script is needed."""

from markupsafe import escape


def bar_chart(bars, title, unit_label, width=340):
    """An SVG bar chart (vertical bars) as markup; bars: [(label, value)]. Escapes labels."""
    height, top, bottom, left = 180, 20, 36, 8
    count = max(len(bars), 1)
    highest = max([value for _label, value in bars] + [1])
    slot = (width - left * 2) / count
    label_every = max(1, count // 6)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{escape(title)}" class="chart">']
    for index, (label, value) in enumerate(bars):
        bar = (height - top - bottom) * value / highest
        x = left + index * slot
        y = height - bottom - bar
        parts.append(f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{slot - 4:.1f}" '
                     f'height="{bar:.1f}" fill="#1f6f50"><title>{escape(label)}: {value} '
                     f'{escape(unit_label)}</title></rect>')
        if value:
            parts.append(f'<text x="{x + slot / 2:.1f}" y="{y - 4:.1f}" font-size="10" '
                         f'text-anchor="middle">{value}</text>')
        if index % label_every == 0:  # every label on a phone's width would run together
            parts.append(f'<text x="{x + slot / 2:.1f}" y="{height - bottom + 14:.1f}" '
                         f'font-size="10" text-anchor="middle">{escape(label)}</text>')
    parts.append(f'<line x1="{left}" y1="{height - bottom}" x2="{width - left}" '
                 f'y2="{height - bottom}" stroke="#55605a"/></svg>')
    return "".join(parts)


def category_chart(bars, title, width=340):
    """Horizontal bars, one line per category (long French names fit on a phone)."""
    line, label_width = 26, 150
    height = max(len(bars), 1) * line + 4
    highest = max([value for _label, value in bars] + [1])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{escape(title)}" class="chart">']
    for index, (label, value) in enumerate(bars):
        y = index * line + 4
        bar = (width - label_width - 40) * value / highest
        parts.append(f'<text x="0" y="{y + 15}" font-size="11">{escape(label)}</text>'
                     f'<rect x="{label_width}" y="{y + 3}" width="{bar:.1f}" height="16" '
                     f'fill="#1f6f50"/><text x="{label_width + bar + 4:.1f}" y="{y + 15}" '
                     f'font-size="11">{value}</text>')
    parts.append("</svg>")
    return "".join(parts)
