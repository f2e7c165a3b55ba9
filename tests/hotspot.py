"""A wifi hotspot made of real pieces, in network namespaces this test run creates.

A "router" namespace holds a bridge (the wifi), Debian's dnsmasq started the way the
device starts it, and the real app under waitress; each "phone" namespace is plugged into
the bridge by a veth pair, gets its address by DHCP (busybox udhcpc) and resolves names
through that dnsmasq (ip-netns gives it its own /etc/resolv.conf). Nothing leaves the
namespaces: they have no route to anything but each other.
"""

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.server import ROOT

NETNS_ETC = Path("/etc/netns")  # where `ip netns exec` finds a namespace's resolv.conf
PHONE_SCRIPT = Path(__file__).with_name("phone.py")


def missing_pieces(*tools):
    """Why this machine cannot build the hotspot, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    absent = [tool for tool in ("ip", "dnsmasq", "busybox", *tools) if not shutil.which(tool)]
    if absent:
        return (f"{', '.join(absent)} not installed (apt-get install iproute2 dnsmasq-base "
                "busybox nftables; scripts/test installs them as root)")
    probe = f"cocote-probe-{secrets.token_hex(3)}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode:
        return f"cannot create a network namespace here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], check=False)
    return None


def set_resolver(namespace, servers):
    """The name servers of programs run in `namespace` (ip-netns bind-mounts this file)."""
    etc = NETNS_ETC / namespace
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "resolv.conf").write_text("".join(f"nameserver {server}\n" for server in servers))


def run(*command, namespace=None, check=True, **kwargs):
    prefix = ["ip", "netns", "exec", namespace] if namespace else []
    done = subprocess.run([*prefix, *command], capture_output=True, text=True, **kwargs)
    if check and done.returncode:
        raise RuntimeError(f"{' '.join(command)} (in {namespace or 'the host'}) exited with "
                           f"{done.returncode}: {done.stderr.strip()}")
    return done


class Hotspot:
    """The router namespace: `lan` is the bridge phones join, `address` its own address."""

    def __init__(self, tmp_path, address, prefix=24, lan="br-lan"):
        self.token = secrets.token_hex(3)
        self.name = f"cocote-{self.token}-router"
        self.address, self.prefix, self.lan = address, prefix, lan
        self.folder = tmp_path
        self.processes = []
        self.phones = []
        run("ip", "netns", "add", self.name)
        try:
            # The router asks its own dnsmasq, as OpenWrt does, never this machine's
            # resolver (which it could not reach anyway: a lookup would wait for a timeout).
            set_resolver(self.name, ["127.0.0.1"])
            self.ip("link", "set", "lo", "up")
            self.ip("link", "add", lan, "type", "bridge")
            self.ip("addr", "add", f"{address}/{prefix}", "dev", lan)
            self.ip("link", "set", lan, "up")
        except Exception:
            self.close()
            raise

    def ip(self, *args):
        return run("ip", "-n", self.name, *args)

    def run(self, *command, **kwargs):
        return run(*command, namespace=self.name, **kwargs)

    def start(self, *command, env=None):
        """A long-running process inside the router, stopped (by its id) at the end."""
        log_path = self.folder / f"{Path(command[0]).name}-{len(self.processes)}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(["ip", "netns", "exec", self.name, *command],
                                       stdout=log, stderr=subprocess.STDOUT,
                                       env={**os.environ, **(env or {})},
                                       start_new_session=True)
        process.log_path = log_path
        self.processes.append(process)
        return process

    def start_app(self, data_dir, port, env=None):
        app = self.start(sys.executable, str(ROOT / "app.py"), "--data", str(data_dir),
                         "serve", "--host", "0.0.0.0", "--port", str(port),  # noqa: S104
                         env=env)
        self.wait_for_port(self.address, port, app)
        return app

    def wait_for_port(self, host, port, process, timeout=20):
        """Wait, inside the router, until something accepts connections on host:port."""
        waiting = ("import socket, sys, time\n"
                   f"deadline = time.monotonic() + {timeout}\n"
                   "while time.monotonic() < deadline:\n"
                   "    try:\n"
                   f"        socket.create_connection(({host!r}, {port}), timeout=1).close()\n"
                   "        sys.exit(0)\n"
                   "    except OSError:\n"
                   "        time.sleep(0.05)\n"
                   "sys.exit(1)\n")
        if self.run(sys.executable, "-c", waiting, check=False).returncode:
            raise RuntimeError(f"nothing on {host}:{port} (exit {process.poll()}): "
                               + Path(process.log_path).read_text())

    def join_phones(self, count):
        """`count` phones that joined the wifi together: dnsmasq checks that an address is
        free (a ping, a few seconds) before offering it, so they wait side by side."""
        phones = [Phone(self, len(self.phones)) for _ in range(count)]
        with ThreadPoolExecutor(count) as pool:
            list(pool.map(Phone.join, phones))
        return phones

    def close(self):
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        for phone in self.phones:
            phone.close()
        run("ip", "netns", "del", self.name, check=False)
        shutil.rmtree(NETNS_ETC / self.name, ignore_errors=True)


class Phone:
    """A phone that joined the wifi: its own namespace, a veth into the router's bridge."""

    def __init__(self, hotspot, number):
        self.hotspot = hotspot
        self.name = f"cocote-{hotspot.token}-phone{number}"
        self.lease = {}
        run("ip", "netns", "add", self.name)
        hotspot.phones.append(self)  # closed with the hotspot, whatever happens next
        outside, inside = f"ct{hotspot.token}r{number}", f"ct{hotspot.token}p{number}"
        run("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
        run("ip", "link", "set", outside, "netns", hotspot.name)
        run("ip", "link", "set", inside, "netns", self.name)
        hotspot.ip("link", "set", outside, "master", hotspot.lan, "up")
        self.ip("link", "set", "lo", "up")
        self.ip("link", "set", inside, "name", "wlan0")
        self.ip("link", "set", "wlan0", "up")

    def ip(self, *args):
        return run("ip", "-n", self.name, *args)

    def join(self):
        """Ask for an address by DHCP and set it up as the phone's system would."""
        folder = self.hotspot.folder
        answer = folder / f"{self.name}.lease"
        script = folder / "udhcpc-script"
        script.write_text('#!/bin/sh\n[ "$1" = bound ] && env > "$COCOTE_LEASE"\nexit 0\n')
        script.chmod(0o755)
        run("busybox", "udhcpc", "-i", "wlan0", "-f", "-q", "-n", "-t", "10", "-T", "3",
            "-A", "1", "-s", str(script), namespace=self.name, timeout=60,
            env={**os.environ, "COCOTE_LEASE": str(answer)})
        self.lease = dict(line.split("=", 1) for line in answer.read_text().splitlines()
                          if "=" in line)
        self.ip("addr", "add", f"{self.lease['ip']}/{self.lease['mask']}", "dev", "wlan0")
        if self.lease.get("router"):
            self.ip("route", "add", "default", "via", self.lease["router"].split()[0])
        set_resolver(self.name, self.lease["dns"].split())
        return self.lease

    def browse(self, steps):
        """Run phone.py inside the phone: each step a request, answered as JSON."""
        result = run(sys.executable, str(PHONE_SCRIPT), namespace=self.name,
                     input=json.dumps(steps), timeout=60)
        return json.loads(result.stdout)

    def close(self):
        run("ip", "netns", "del", self.name, check=False)
        shutil.rmtree(NETNS_ETC / self.name, ignore_errors=True)
