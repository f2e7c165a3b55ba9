"""The baseline for scripts/bench.py: a bare Flask app on waitress, nothing else.

It serves a page of the same size as the box's home page from a template string, so the
ratio measures what the box adds (database, sessions, i18n, security), not HTML bytes.
    python scripts/bench_baseline.py PORT THREADS PAGE_BYTES
"""

import sys

import waitress
from flask import Flask, jsonify

PAGE = "<!doctype html><html><body><main>{{ text }}</main></body></html>"


def create_app(page_bytes):
    app = Flask(__name__)
    text = "x" * max(0, page_bytes - len(PAGE))
    template = app.jinja_env.from_string(PAGE)  # compiled once, as render_template would

    @app.get("/")
    def page():
        return template.render(text=text)

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    return app


if __name__ == "__main__":
    port, threads, page_bytes = (int(arg) for arg in sys.argv[1:4])
    waitress.serve(create_app(page_bytes), host="127.0.0.1", port=port, threads=threads)
