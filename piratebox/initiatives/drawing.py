"""The map of initiatives as SVG, drawn by the box from coordinates: no tiles, nothing
fetched. A marker's colour is its theme's, from the page's style sheet (class theme-*).

An equirectangular projection (longitude scaled by the cosine of the middle latitude) of
a fixed frame, the area the rules accept a point in (piratebox.rules.MAP_AREA): no point
moves the frame, so no careless coordinate can stretch or squash the map. Over a
département, the error against a true map projection is under a percent, far less than a
marker's size.
"""

import math

from markupsafe import escape

# 400 units: on a 360 px phone a unit is about a pixel, so texts keep their size
WIDTH, MARGIN, MARKER = 400, 20, 10
SPREAD = 2.4 * MARKER  # markers on the same spot are set around it, this far apart


class Projection:
    """Degrees to the map's pixels, for points within `bounds` (south, west, north, east)."""

    def __init__(self, bounds):
        south, west, north, east = bounds
        self.west, self.north = west, north
        self.squash = math.cos(math.radians((south + north) / 2))
        span_x = max((east - west) * self.squash, 0.01)
        span_y = max(north - south, 0.01)
        self.scale = (WIDTH - 2 * MARGIN) / span_x
        self.height = round(span_y * self.scale + 2 * MARGIN)

    def __call__(self, latitude, longitude):
        return (MARGIN + (longitude - self.west) * self.squash * self.scale,
                MARGIN + (self.north - latitude) * self.scale)


def spread(markers):
    """Markers that fall on one spot (a town's three initiatives), set in a ring round it."""
    by_spot = {}
    for marker in markers:
        by_spot.setdefault((round(marker[0]), round(marker[1])), []).append(marker)
    placed = []
    for group in by_spot.values():
        if len(group) == 1:
            placed.extend(group)
            continue
        radius = SPREAD * len(group) / (2 * math.pi) + MARKER
        for index, (x, y, *rest) in enumerate(group):
            angle = 2 * math.pi * index / len(group)
            placed.append((x + radius * math.cos(angle), y + radius * math.sin(angle), *rest))
    return placed


def draw(markers, communes, title, bounds):
    """The map of `bounds` (south, west, north, east) as SVG markup, every text escaped.

    markers: [(number, latitude, longitude, theme, label)]; communes: [(name, latitude,
    longitude, named)], drawn as dots, with their name when `named`. Every point is within
    `bounds` (the caller leaves out the others).
    """
    if not markers and not communes:
        return ""
    project = Projection(bounds)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {project.height}" '
             f'role="img" aria-label="{escape(title)}" class="map">',
             f'<rect width="{WIDTH}" height="{project.height}" fill="#f4f7f2"/>',
             '<g fill="#9aa59d">']
    labels = []
    # a unit is about a pixel on a phone: whole units are precise enough, and lighter
    for name, lat, lon, named in communes:
        x, y = project(lat, lon)
        parts.append(f'<circle cx="{x:.0f}" cy="{y:.0f}" r="2.5"/>')
        if named:
            labels.append(f'<text x="{x + 5:.0f}" y="{y - 5:.0f}">{escape(name)}</text>')
    # a halo of the background's colour keeps a name readable over the dots it crosses
    parts.append('</g><g font-size="14" fill="#2b332e" stroke="#f4f7f2" stroke-width="3" '
                 'paint-order="stroke">')
    parts.extend(labels)
    parts.append('</g><g font-size="12" font-weight="700" text-anchor="middle" fill="#fff">')
    placed = spread([(*project(lat, lon), number, theme, label)
                     for number, lat, lon, theme, label in markers])
    for x, y, number, theme, label in placed:
        parts.append(f'<g><title>{escape(label)}</title><circle cx="{x:.0f}" cy="{y:.0f}" '
                     f'r="{MARKER}" class="theme-{escape(theme)}" stroke="#fff"/>'
                     f'<text x="{x:.0f}" y="{y + 4:.0f}">{number}</text></g>')
    parts.append("</g></svg>")
    return "".join(parts)
