"""A short village Saturday in the suite: 30 phones for 10 seconds on the real server, a
mix of pages, board messages and small uploads. No server error, no refused connection.
The full run (100 phones, 60 s, with latency and memory figures) is
`scripts/bench.py --village`; its figures are in docs/benchmarks.md."""

from tests.server import Server, load_script

village_load = load_script("village_load")


def test_thirty_phones_at_once_get_no_error(data_dir):
    from tests.test_sync import add_item

    item = add_item(data_dir, title="Vélo")
    env = {"PIRATEBOX_MESSAGES_PER_HOUR": "1000000", "PIRATEBOX_FILES_PER_HOUR": "1000000"}
    with Server(data_dir.path, env=env) as server:
        pid = server.process.pid
        figures = village_load.run(server.port, lambda: village_load.rss_mb(pid), phones=30,
                                   seconds=10, item_id=item.id, sample_every=2)
    assert figures["requests"] > 100
    assert figures["server_errors"] == 0, figures["statuses"]
    assert figures["errors"] == 0, figures["error_kinds"]
    assert set(figures["statuses"]) <= {200, 303, 302}, figures["statuses"]
