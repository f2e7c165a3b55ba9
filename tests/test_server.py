"""The box as deployed: the CLI starts waitress on loopback, a real HTTP client talks to it."""

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import threading
import urllib.request

import pytest

from tests.server import ROOT, Server, free_port, wait_until_up

pytestmark = pytest.mark.slow


def test_serve_answers_in_french_over_real_http(data_dir):
    with Server(data_dir.path) as server:
        with urllib.request.urlopen(server.base + "/") as response:
            html = response.read().decode()
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "Bienvenue" in html
        connection = http.client.HTTPConnection("127.0.0.1", server.port)
        connection.request("GET", "/generate_204",
                           headers={"Host": "connectivitycheck.gstatic.com"})
        assert connection.getresponse().status in (204, 302)


def test_an_oversized_header_is_refused_by_the_server(data_dir):
    with Server(data_dir.path) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port)
        connection.request("GET", "/", headers={"X-Big": "a" * 100_000})
        assert connection.getresponse().status == 431
        # and the box is still there for the next phone
        with urllib.request.urlopen(server.base + "/healthz") as response:
            assert response.status == 200


def test_python_app_py_serves_the_box_in_the_data_directory(data_dir):
    port = free_port()
    env = {**os.environ, "PIRATEBOX_DATA": str(data_dir.path)}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "serve", "--port", str(port)],
        cwd=data_dir.path.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert wait_until_up(f"http://127.0.0.1:{port}/healthz", process) == 200
    finally:
        process.terminate()
        _out, err = process.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/" in err.decode()


def test_serving_a_missing_box_fails_with_one_clear_line(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--data", str(tmp_path / "none"), "serve"],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 1
    assert "init" in result.stderr and "Traceback" not in result.stderr


def test_the_loop_leaves_alone_an_answer_its_task_is_still_writing(app):
    """While a task holds its answer's buffer, the server's loop can send nothing of it: the
    connection must not count as writable then, or the loop turns on it without a pause
    and takes the interpreter from the threads that answer. Once the task lets go of the
    buffer, or is done, what it wrote is sent."""
    from piratebox import serving

    server = serving.make_server(app, "127.0.0.1", 0, 1)
    client = socket.create_connection(server.socket.getsockname()[:2])
    try:
        server.handle_accept()
        (channel,) = [dispatcher for dispatcher in server._map.values()
                      if isinstance(dispatcher, serving.GuardedChannel)]
        words = b"HTTP/1.1 200 OK\r\n"  # a task's first, not sent yet (a full socket)
        channel.outbufs[-1].append(words)
        channel.total_outbufs_len += len(words)
        channel.requests.append(object())  # the task, still running
        with task_holding(channel.outbuf_lock):
            assert not channel.writable()
        assert channel.writable()
        channel.requests.clear()  # done
        with task_holding(channel.outbuf_lock):
            assert channel.writable(), "the loop sends what a finished task left"
    finally:
        client.close()
        for dispatcher in list(server._map.values()):
            dispatcher.close()
        server.task_dispatcher.shutdown()


@contextlib.contextmanager
def task_holding(lock):
    """`lock` held by another thread (a task's), as long as the block runs."""
    taken, done = threading.Event(), threading.Event()

    def task():
        with lock:
            taken.set()
            done.wait(10)

    thread = threading.Thread(target=task)
    thread.start()
    taken.wait(10)
    try:
        yield
    finally:
        done.set()
        thread.join()
