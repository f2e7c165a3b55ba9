"""The baseline for the benchmarks: a bare Flask app on waitress, nothing else.

It answers every path with a page of the same size as the box's home page, from a compiled
template, and takes the village's posts (a form, a small upload) with a redirect, as any
form handler would, but keeps nothing. The ratio measures what the box adds (database,
sessions, i18n, security), not HTML bytes. Its page carries a form with a token, so a
load generator posts to it exactly as it posts to the box.
    python scripts/bench_baseline.py PORT THREADS PAGE_BYTES [HOST]
"""

import sys

import waitress
from flask import Flask, jsonify, redirect, request

PAGE = ('<!doctype html><html><body><main><form method="post"><input type="hidden" '
        'name="csrf_token" value="baseline"></form>{{ text }}</main></body></html>')


def create_app(page_bytes):
    app = Flask(__name__)
    text = "x" * max(0, page_bytes - len(PAGE))
    template = app.jinja_env.from_string(PAGE)  # compiled once, as render_template would

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
    @app.route("/<path:path>", methods=["GET", "POST"])
    def page(path):
        if request.method == "POST":
            request.form  # noqa: B018 - parse what was sent, as a form handler does
            return redirect("/", code=303)
        return template.render(text=text)

    return app


if __name__ == "__main__":
    port, threads, page_bytes = (int(arg) for arg in sys.argv[1:4])
    host = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"
    waitress.serve(create_app(page_bytes), host=host, port=port, threads=threads)
