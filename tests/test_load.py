"""A short village Saturday in the suite: 30 phones for 10 seconds on the real server, a
mix of pages, board messages and small uploads. No server error, no refused connection.
The full run (100 phones, 60 s, with latency and memory figures) is
`scripts/bench.py --village`; its figures are in docs/benchmarks.md."""

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from tests.server import Server, load_script

village_load = load_script("village_load")


def test_thirty_phones_at_once_get_no_error(data_dir):
    from tests.test_sync import add_item

    item = add_item(data_dir, title="Vélo")
    env = {"PIRATEBOX_MESSAGES_PER_HOUR": "1000000", "PIRATEBOX_FILES_PER_HOUR": "1000000"}
    with Server(data_dir.path, env=env) as server:
        pid = server.process.pid
        figures = village_load.run(server.port, lambda: village_load.rss_mb(pid), phones=30,
                                   seconds=10, item_id=item.id, sample_every=2,
                                   cpu=lambda: village_load.cpu_of(pid))
    assert figures["requests"] > 100
    assert figures["server_errors"] == 0, figures["statuses"]
    assert figures["errors"] == 0, figures["error_kinds"]
    assert set(figures["statuses"]) <= {200, 303, 302}, figures["statuses"]
    assert 0 < figures["cpu_ms"] < 10_000 / figures["requests"] * 2, \
        "the server's CPU a request: some, and at most its share of two cores for 10 s"


def test_a_process_cpu_time_is_read_past_a_name_holding_spaces_and_parentheses():
    stat = "4242 (python3 (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 130 0 0 20 0 5"
    assert village_load.cpu_seconds(stat) == 3.8


def test_a_phone_draws_a_new_boundary_for_every_form_it_sends():
    """As browsers do: a parser that compiles something per boundary pays it every time."""
    sent = []

    class Recording(village_load.Phone):
        def request(self, method, path, body=None, headers=None):
            sent.append((headers["Content-Type"], body))
            return 303, b""

    phone = Recording(None, 7, "")
    phone.write_files()
    phone.write_files()
    boundaries = [content_type.split("boundary=")[1] for content_type, _body in sent]
    assert boundaries[0] != boundaries[1]
    for content_type, body in sent:
        with Request(EnvironBuilder(method="POST", data=body,
                                    content_type=content_type).get_environ()) as request:
            assert len(request.files["files"].read()) == 10_000
