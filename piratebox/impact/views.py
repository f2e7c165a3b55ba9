"""The impact page, its JSON and its CSV: /stats/, /api/v1/stats, /admin/stats.csv; the
quarter's report: /admin/report."""

import csv
import io
from functools import partial

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from models import Tally
from piratebox import bodies, pagecache, rules, typography
from piratebox.admin import village_box_only
from piratebox.catalogue.categories import BY_CODE
from piratebox.errors import BadInput
from piratebox.i18n import Translator
from piratebox.impact import tally as tallies
from piratebox.phone import admin_required
from piratebox.web import actor, deletion_confirmed, field_ranges, photo_uploads
from piratebox.web import gettext as _

# The figures, their charts, the report's PDF and the photo comparison are imported by the
# views that use them, not at a router's start-up (seconds there, see docs/benchmarks.md):
# the first page a phone opens is the home page.
bp = Blueprint("stats", __name__)


def current_figures(now):
    from piratebox.impact import logic as impact

    return impact.figures_now(now, current_app.config["TIMEZONE"], running=running_totals())


def current_network_figures(now):
    from piratebox.impact import logic as impact

    return impact.network_figures(now, current_app.config["TIMEZONE"],
                                  running=running_totals())


def running_totals():
    """The exchange totals this process keeps between two renderings of the figures (see
    impact/exchanges.py), made by the first."""
    from piratebox.impact.exchanges import RunningTotals

    running = current_app.extensions.get("running_totals")
    if running is None:
        running = current_app.extensions.setdefault("running_totals", RunningTotals())
    return running


def live_footfall(now):
    """Today's and this week's phones as this process counts them, saved or not."""
    return current_app.extensions["footfall"].current(now)


def current_footfall(now):
    from piratebox.impact import logic as impact

    return impact.footfall_at(now, current_app.config["TIMEZONE"], live_footfall(now))


def figures_made_of():
    """What the figures page says of its data (pagecache.render's `data`): the newest
    change of what its figures are added up from, and the phones counted today and this
    week. A write that leaves them as they were (an object reserved or renamed) keeps the
    page as it is; the figures themselves are read only to render it again."""
    from piratebox.impact import changes

    made_of = changes.latest(), tuple(sorted(live_footfall(actor().now).items()))
    return made_of, made_of


@bp.get("/stats/")
def index():
    return pagecache.render(lambda _made_of: render_index(), ("stats",),
                            data=figures_made_of, same_for=pagecache.EVERY_PHONE)


# What the page's frame shows of the figures (events, rides): with the footfall, the key
# its frame is kept under. The figures an exchange changes are the page's live parts.
FRAMED_FIGURES = ("events_counted", "attendance", "kg_weighed_brought", "kg_weighed_taken",
                  "rides", "ride_passengers", "km_shared", "kg_co2e_rides",
                  "rides_km_estimated", "rides_km_unknown")


def render_index():
    from piratebox.impact import charts, report, rides
    from piratebox.impact import logic as impact

    now = actor().now
    network = current_network_figures(now) if current_app.extensions["box"].role == "hub" \
        else None
    # at a hub, the network's total is this page's figures: computed once
    figures = network.total if network else current_figures(now)
    lang = g.get("lang", "fr")
    days, weeks_of_phones = current_footfall(now)
    categories = sorted(((_(BY_CODE[code].label) if code in BY_CODE else code, count)
                         for code, count in figures.by_category.items()),
                        key=lambda pair: -pair[1])
    frame = (*(getattr(figures, name) for name in FRAMED_FIGURES), *days, *weeks_of_phones)
    # The charts are SVG drawn by impact/charts.py, which escapes every label it writes;
    # the templates draw them (their days by_day), the footfall's only when the frame is
    # rendered, and read the factors only when their kept row is not.
    return pagecache.render_framed(
        "stats/index.html", frame, figures=figures, factors=partial(impact.factor_rows, lang),
        method=report.METHOD, road_factor=rides.ROAD_FACTOR,
        network=network, network_columns=report.NETWORK_COLUMNS,
        weighed_note=report.WEIGHED_NOTE,
        figure=lambda figures, name: impact.figure_text(figures, name, lang),
        bar_chart=charts.bar_chart, category_chart=charts.category_chart,
        weekly_exchanges=figures.weeks,
        categories=categories,
        footfall_today=days[-1][1], footfall_week=weeks_of_phones[-1][1],
        daily_footfall=days, weekly_footfall=weeks_of_phones,
        by_day=lambda counts: [(typography.short_day(day, lang), count) for day, count in counts])


@bp.get("/api/v1/stats")
def api():
    from piratebox.impact import logic as impact

    def body(_made_of):
        now = actor().now
        figures = current_figures(now)
        fields = {name: getattr(figures, name) for name in impact.CSV_COLUMNS}
        fields["weeks"] = [{"week_of": monday.isoformat(), "exchanges": count}
                           for monday, count in figures.weeks]
        fields["by_category"] = figures.by_category
        days, weeks = current_footfall(now)
        fields["footfall"] = {"days": [{"day": day.isoformat(), "phones": phones}
                                       for day, phones in days],
                              "weeks": [{"week_of": monday.isoformat(), "phones": phones}
                                        for monday, phones in weeks]}
        return fields

    return pagecache.render_json(body, ("stats",), data=figures_made_of,
                                 same_for=pagecache.EVERY_PHONE)


@bp.get("/admin/stats.csv")
@admin_required
def csv_download():
    """The figures for a spreadsheet; at a hub, the table per box and commune for the
    report to the département."""
    from piratebox.impact import report, weekly_photo

    now = actor().now
    if current_app.extensions["box"].role == "hub":
        rows = report.network_csv_rows(current_network_figures(now), True)
    else:
        rows = report.csv_rows(current_figures(now), decimal_comma=True)
        rows += report.weekly_csv_rows(*current_footfall(now), weekly_photo.counts(
            actor().box_id, actor().blobs), decimal_comma=True)
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(rows)
    # UTF-8 with a byte-order mark: a French spreadsheet opens it with the accents right
    return current_app.response_class("\ufeff" + out.getvalue(), mimetype="text/csv",
                                      headers={"Content-Disposition":
                                               'attachment; filename="impact.csv"'})


@bp.route("/admin/tally", methods=["GET", "POST"])
@admin_required
@village_box_only
@bodies.accepts("photos")
def tally():
    """The weekly count of the physical box, and its photo, kept by the mediator
    (?correct=<id>: the form filled with that week's tally, to correct it)."""
    from piratebox.impact import weekly_photo

    values, errors = {"deposited": 0, "taken": 0}, {}
    correcting = own_tally(request.args.get("correct", "")) if request.args.get("correct") \
        else None
    if correcting:
        values = tallies.form_values(correcting)
    if request.method == "POST":
        values, errors = tallies.read_tally(request.form, actor().now,
                                            current_app.config["TIMEZONE"])
        if not errors:
            try:
                tallies.record_tally(values, photo_uploads(), actor())
            except BadInput as error:
                errors["photos"] = error.localized(_)
            else:
                flash(_("The week is counted."), "success")
                return redirect(url_for("stats.tally"))
    recent = list(Tally.live().order_by(Tally.week_of.desc()).limit(12))
    blobs = actor().blobs
    compared = {tally.id: weekly_photo.differences(tally, blobs) for tally in recent}
    return render_template("stats/tally.html", values=values, errors=errors, tallies=recent,
                           compared=compared, limits=rules.limits(Tally),
                           ranges=field_ranges(Tally, "week_of", "deposited", "taken"),
                           correcting=correcting, here=actor().box_id), \
        400 if errors else 200


def own_tally(tally_id):
    """One of this box's tallies, or 404: a box corrects and deletes its own only."""
    tally = Tally.live().where((Tally.id == tally_id)
                               & (Tally.origin == actor().box_id)).first()
    if tally is None:
        abort(404)
    return tally


@bp.post("/admin/tally/<tally_id>/delete")
@admin_required
@village_box_only
def delete_tally(tally_id):
    """A tally recorded by mistake (a wrong week, a wrong count) leaves the figures."""
    tally = own_tally(tally_id)
    if deletion_confirmed():
        tallies.delete_tally(tally, actor())
        flash(_("The tally of the week of {day} is deleted.", day=tally.week_of), "success")
    return redirect(url_for("stats.tally"))


@bp.get("/admin/tally/<tally_id>/compare")
@admin_required
def compare(tally_id):
    """The week's photo beside the week before's, what changed outlined on both."""
    from piratebox.impact import weekly_photo

    tally = Tally.live().where(Tally.id == tally_id).first()
    found = weekly_photo.differences(tally, actor().blobs) if tally else None
    if found is None:
        abort(404)
    before, comparison = found
    return render_template("stats/compare.html", tally=tally, before=before,
                           comparison=comparison)


@bp.get("/admin/report")
@admin_required
def report_page():
    """The mediator chooses the quarter (and, at a hub, the commune) of the report."""
    from piratebox.impact import logic as impact
    from piratebox.impact import quarter_report

    zone = current_app.config["TIMEZONE"]
    communes = []
    if current_app.extensions["box"].role == "hub":
        communes = [commune for commune, _count, _figures
                    in impact.network_figures(actor().now, zone).communes]
    return render_template("stats/report.html", communes=communes,
                           quarters=quarter_report.recent_quarters(actor().now, zone))


@bp.get("/admin/report.pdf")
@admin_required
def report_pdf():
    """The quarter's report for the Conseil départemental, in French whatever the page's
    language."""
    from piratebox.impact import quarter_report

    quarter = quarter_report.Quarter.parse(request.args.get("quarter", ""))
    document = quarter_report.make(quarter, current_app.extensions["box"].identity, actor().blobs,
                                   actor().now,
                                   current_app.config["TIMEZONE"], Translator("fr"),
                                   "fr", request.args.get("commune", "").strip())
    out = io.BytesIO()
    document.write(out)
    return current_app.response_class(out.getvalue(), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{quarter.file_name}"'})
