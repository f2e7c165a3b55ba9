"""The impact page, its JSON and its CSV: /stats/, /api/v1/stats, /admin/stats.csv."""

import csv
import io

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup

from models import Tally
from piratebox import bodies, pagecache, rules, typography
from piratebox.admin import village_box_only
from piratebox.catalogue.categories import BY_CODE
from piratebox.errors import BadInput
from piratebox.impact import charts, report
from piratebox.impact import logic as impact
from piratebox.impact.tally import read_tally, record_tally
from piratebox.phone import admin_required
from piratebox.web import actor, photo_uploads
from piratebox.web import gettext as _

bp = Blueprint("stats", __name__)


def current_figures():
    return impact.figures_now(actor().now, current_app.config["TIMEZONE"])


@bp.get("/stats/")
def index():
    return pagecache.render(render_index, ("stats",))


def render_index():
    network = (impact.network_figures(actor().now, current_app.config["TIMEZONE"])
               if current_app.extensions["box"].role == "hub" else None)
    # at a hub, the network's total is this page's figures: computed once
    figures = network.total if network else current_figures()
    lang = g.get("lang", "fr")
    weeks = [(typography.short_day(monday, lang), count) for monday, count in figures.weeks]
    categories = sorted(((_(BY_CODE[code].label) if code in BY_CODE else code, count)
                         for code, count in figures.by_category.items()),
                        key=lambda pair: -pair[1])
    # The charts are SVG drawn by impact/charts.py, which escapes every label it writes.
    return render_template(
        "stats/index.html", figures=figures, factors=impact.factor_rows(lang),
        network=network,
        figure=lambda figures, name: impact.figure_text(figures, name, lang),
        weekly_chart=Markup(  # noqa: S704 - escaped inside
            charts.bar_chart(weeks, _("Exchanges per week"), _("exchanges"))),
        category_chart=Markup(  # noqa: S704 - escaped inside
            charts.category_chart(categories, _("Exchanges by category"))))


@bp.get("/api/v1/stats")
def api():
    def body():
        figures = current_figures()
        fields = {name: getattr(figures, name) for name in impact.CSV_COLUMNS}
        fields["weeks"] = [{"week_of": monday.isoformat(), "exchanges": count}
                           for monday, count in figures.weeks]
        fields["by_category"] = figures.by_category
        return fields

    return pagecache.render_json(body, ("stats",))


@bp.get("/admin/stats.csv")
@admin_required
def csv_download():
    """The figures for a spreadsheet; at a hub, the table per box and commune for the
    report to the département."""
    if current_app.extensions["box"].role == "hub":
        rows = report.network_csv_rows(
            impact.network_figures(actor().now, current_app.config["TIMEZONE"]), True)
    else:
        rows = report.csv_rows(current_figures(), decimal_comma=True)
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
    """The weekly count of the physical box, and its photo, kept by the mediator."""
    values, errors = {"deposited": 0, "taken": 0}, {}
    if request.method == "POST":
        values, errors = read_tally(request.form)
        if not errors:
            try:
                record_tally(values, photo_uploads(), actor())
            except BadInput as error:
                errors["photos"] = error.localized(_)
            else:
                flash(_("The week is counted."), "success")
                return redirect(url_for("stats.tally"))
    recent = Tally.live().order_by(Tally.week_of.desc()).limit(12)
    return render_template("stats/tally.html", values=values, errors=errors, tallies=recent,
                           limits=rules.limits(Tally)), 400 if errors else 200
