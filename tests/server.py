"""Run the real box (waitress, as deployed) in a child process on a loopback port."""

import importlib.util
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_script(name):
    """A module of scripts/ (a load generator, a benchmark's attacker) for a test to use."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url, process, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return response.status
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.05)
    raise TimeoutError(url)


class Server:
    """`open_files`: the process's descriptor limit (soft and hard), to serve under it."""

    def __init__(self, data_dir, *args, env=None, open_files=None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, str(ROOT / "app.py"), "--data", str(data_dir), "serve",
                   "--port", str(self.port), *args]

        def limit_open_files():
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

        self.process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=limit_open_files if open_files else None,  # noqa: PLW1509
        )
        wait_until_up(self.base + "/healthz", self.process)

    def stop(self):
        self.process.terminate()
        try:
            out, err = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        return out.decode(), err.decode()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.output = self.stop()  # (stdout, stderr), for the test to read after
