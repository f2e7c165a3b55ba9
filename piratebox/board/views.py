"""The board's pages: read, post, report; the mediator moderates and can close it."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from models import Message
from piratebox import moderation, pagecache, web
from piratebox.board import logic
from piratebox.errors import TooManyRequests
from piratebox.i18n import N_
from piratebox.phone import admin_required, is_admin
from piratebox.web import actor, count_success, within_limit
from piratebox.web import gettext as _

bp = Blueprint("board", __name__)
JUST_POSTED = "board_just_posted"  # app.extensions: logic.JustPosted


@bp.record_once
def keep_who_just_posted(state):
    state.app.extensions[JUST_POSTED] = logic.JustPosted()


def render_board(values, errors):
    config = current_app.config
    number = request.args.get("page", "1")
    messages, total, number = logic.page(actor().now, config["BOARD_DAYS"],
                                         int(number) if number.isdigit() else 1)
    closed, days = logic.is_closed(), config["BOARD_DAYS"]
    return pagecache.render_framed(
        "board/index.html", (closed, days), messages=messages, total=total, page=number,
        pages=max(1, -(-total // logic.PAGE_SIZE)), values=values, errors=errors,
        limits=logic.LIMITS, closed=closed, days=days, admin=is_admin())


@bp.get("/board/")
def index():
    return pagecache.render(lambda: render_board({}, {}), ("board",),
                            same_for=pagecache.EVERY_PHONE)


@bp.post("/board/")
def post():
    if logic.is_closed():
        abort(403)
    values, errors = logic.read_message(request.form)
    if errors:
        return render_board(values, errors), 400
    def admit():
        within_limit("board", current_app.config["MESSAGES_PER_HOUR"],
                     N_("You have written a lot this hour: wait {minutes} minutes."))

    try:
        if logic.post(values, actor(), request.remote_addr,
                      current_app.extensions[JUST_POSTED], admit) is not None:
            count_success("board")
    except TooManyRequests as error:
        return render_board(values, {"limit": error.localized(_)}), 429
    flash(_("Your message is on the board."), "success")
    return redirect(url_for("board.index"))


def get_message(message_id, visible_only=True):
    message = Message.get_or_none(Message.id == message_id)
    if message is None or message.deleted or (visible_only and message.hidden):
        abort(404)
    return message


@bp.post("/board/<message_id>/report")
def report(message_id):
    web.report(get_message(message_id), "message", request.form.get("reason", ""))
    return redirect(url_for("board.index"))


@bp.get("/admin/board")
@admin_required
def review():
    return render_template("board/review.html", rows=moderation.to_review(Message, "message"),
                           closed=logic.is_closed())


@bp.post("/admin/board/messages/<message_id>")
@admin_required
def moderate(message_id):
    decision = request.form.get("decision")
    if decision not in moderation.DECISIONS:
        abort(400)
    moderation.decide(get_message(message_id, visible_only=False), decision, actor())
    flash(_("Done."), "success")
    back_to_board = request.form.get("back") == "board"
    return redirect(url_for("board.index" if back_to_board else "board.review"))


@bp.post("/admin/board/open")
@admin_required
def open_or_close():
    logic.set_closed(request.form.get("closed") == "1")
    flash(_("The board is closed.") if logic.is_closed() else _("The board is open."),
          "success")
    return redirect(url_for("board.review"))
