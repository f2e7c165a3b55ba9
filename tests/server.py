"""Run the real box (waitress, as deployed) in a child process on a loopback port."""

import atexit
import contextlib
import importlib.util
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from piratebox.storage import CACHE_DIR

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
    """`open_files`: the process's descriptor limit (soft and hard), to serve under it;
    `wrapper`: a command the server runs under (tests/clocks.py: another boot);
    `cgroup`: a MemoryCgroup to run it in; `compiled_templates=False`: start as on a box's
    first start, its templates not yet compiled (otherwise they are the ones the session's
    first server compiled, as a box has them from its second start on: compiling them is a
    second of each start)."""

    compiled = None  # the first server's compiled templates, copied for the next ones

    def __init__(self, data_dir, *args, env=None, open_files=None, wrapper=(), cgroup=None,
                 compiled_templates=True):
        templates = Path(data_dir) / CACHE_DIR / "templates"
        if compiled_templates and Server.compiled and not templates.exists():
            shutil.copytree(Server.compiled, templates)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = [*wrapper, sys.executable, str(ROOT / "app.py"), "--data", str(data_dir),
                   "serve", "--port", str(self.port), *args]

        def limit():
            if open_files:
                resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))
            if cgroup:
                cgroup.enter()

        self.process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=limit if open_files or cgroup else None,  # noqa: PLW1509
        )
        wait_until_up(self.base + "/healthz", self.process)
        if compiled_templates and Server.compiled is None and templates.exists():
            Server.compiled = Path(tempfile.mkdtemp(prefix="compiled-templates-")) / "templates"
            shutil.copytree(templates, Server.compiled)
            atexit.register(shutil.rmtree, Server.compiled.parent, True)

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


class MemoryCgroup:
    """A memory cgroup of `limit` bytes (v2, or v1's memory controller), as a router's RAM
    for the process put in it; None when this machine does not let us make one."""

    ROOTS = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/memory"))

    def __init__(self, folder, limit_file):
        self.folder, self.limit_file = folder, limit_file

    @classmethod
    def make(cls, limit):
        for root, limit_file in zip(cls.ROOTS, ("memory.max", "memory.limit_in_bytes"),
                                    strict=True):
            controllers = root / "cgroup.controllers"
            if limit_file == "memory.max" and not (
                    controllers.exists() and "memory" in controllers.read_text().split()):
                continue
            folder = root / f"cocote-test-{os.getpid()}-{time.monotonic_ns()}"
            try:
                folder.mkdir()
                (folder / limit_file).write_text(str(limit))
            except OSError:
                with contextlib.suppress(OSError):
                    folder.rmdir()
                continue
            return cls(folder, limit_file)
        return None

    def enter(self):
        """Put the calling process in it (from a child's preexec_fn)."""
        (self.folder / "cgroup.procs").write_text(str(os.getpid()))

    def killed_for_memory(self):
        """How many times the kernel killed a process of this group for want of memory."""
        for name in ("memory.events", "memory.oom_control"):
            path = self.folder / name
            if path.exists():
                for line in path.read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        return 0

    def remove(self):
        for _attempt in range(100):
            try:
                self.folder.rmdir()
                return
            except OSError:  # its last process is still being reaped
                time.sleep(0.05)
