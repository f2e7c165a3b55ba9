"""What turns a device into a box: the USB hotplug scripts run as the device runs them,
with the real `piratebox` command, and the installed configuration files checked."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from models import Setting
from tests.server import ROOT
from tests.test_sync import network, opened  # noqa: F401 - a fixture

OPENWRT = ROOT / "deploy" / "openwrt" / "files"
PI = ROOT / "deploy" / "raspberrypi"
PIRATEBOX = Path(sys.executable).parent / "piratebox"  # the installed console script


def bundles(folder):
    return sorted(path.name for path in (folder / "cocote").glob("*.cocote"))


def last_sync(data_dir):
    with opened(data_dir):
        return json.loads(Setting.get_value("last_sync"))


def run_hotplug(tmp_path, data_dir, **env):
    """/etc/hotplug.d/mount/50-piratebox as block-mount calls it: ACTION, DEVICE."""
    return subprocess.run(["sh", str(OPENWRT / "piratebox.hotplug")], capture_output=True,
                          text=True, env={"PATH": os.environ["PATH"], "ACTION": "add",
                                          "DEVICE": "sda1", "PIRATEBOX_MOUNT_ROOT": str(tmp_path),
                                          "PIRATEBOX_BIN": str(PIRATEBOX),
                                          "PIRATEBOX_DATA": str(data_dir.path), **env})


@pytest.fixture
def mounted(tmp_path, network):  # noqa: F811
    """/mnt/sda1: the mediator's stick as block-mount mounts it, with its cocote/ folder."""
    hub, village = network
    sda1 = tmp_path / "sda1"
    shutil.copytree(tmp_path / "stick", sda1)
    return hub, village, sda1


def test_openwrt_hotplug_syncs_a_stick_carrying_cocote(mounted, tmp_path):
    hub, village, sda1 = mounted
    leds = tmp_path / "leds"
    (leds / "green:wlan").mkdir(parents=True)
    (leds / "green:wlan" / "trigger").write_text("none")
    result = run_hotplug(tmp_path, village, PIRATEBOX_LED_ROOT=str(leds),
                         PIRATEBOX_SYNC_LED="green:wlan")
    assert result.returncode == 0, result.stderr
    assert len(bundles(sda1)) == 1 and bundles(sda1)[0].endswith(".cocote")
    assert last_sync(village)["summary"].startswith("sent")
    assert (leds / "green:wlan" / "trigger").read_text().strip() == "timer"
    # and the hub reads what the router wrote
    assert run_hotplug(tmp_path, hub).returncode == 0
    assert "received from Saint-Bonnet" in last_sync(hub)["summary"]


def test_openwrt_hotplug_leaves_other_sticks_and_events_alone(mounted, tmp_path):
    _hub, village, sda1 = mounted
    assert run_hotplug(tmp_path, village, ACTION="remove").returncode == 0
    assert bundles(sda1) == []
    shutil.rmtree(sda1 / "cocote")
    assert run_hotplug(tmp_path, village).returncode == 0
    assert not (sda1 / "cocote").exists()
    assert run_hotplug(tmp_path, village, DEVICE="../etc").returncode == 0


def test_openwrt_hotplug_signals_a_refusal(mounted, tmp_path):
    _hub, village, sda1 = mounted
    leds = tmp_path / "leds"
    (leds / "led").mkdir(parents=True)
    (leds / "led" / "trigger").write_text("none")
    (sda1 / "cocote" / f"{'a' * 26}-to-{village_id(village)}.cocote").write_bytes(b"junk")
    result = run_hotplug(tmp_path, village, PIRATEBOX_LED_ROOT=str(leds),
                         PIRATEBOX_SYNC_LED="led")
    assert result.returncode == 0  # hotplug scripts never fail the event
    assert (leds / "led" / "trigger").read_text().strip() == "heartbeat"
    assert "REFUSED" in last_sync(village)["summary"]


def village_id(data_dir):
    from piratebox import box

    with opened(data_dir):
        return box.identity()["id"]


def test_pi_sync_service_script_syncs_the_mounted_stick(mounted):
    _hub, village, sda1 = mounted
    result = subprocess.run(
        [str(PI / "cocote-sync"), "sda1"], capture_output=True, text=True,
        env={"PATH": os.environ["PATH"], "COCOTE_STICK_DIR": str(sda1),
             "PIRATEBOX_DATA": str(village.path), "PIRATEBOX_APP": str(ROOT / "app.py"),
             "PIRATEBOX_PYTHON": sys.executable, "PIRATEBOX_USER": "root"})
    assert result.returncode == 0, result.stderr
    assert len(bundles(sda1)) == 1
    assert "sync: sent" in result.stdout


def test_pi_sync_script_refuses_a_bad_device_name():
    result = subprocess.run([str(PI / "cocote-sync"), "../sda1"], capture_output=True,
                            text=True)
    assert result.returncode == 2 and "bad device name" in result.stderr


# --- the installed configuration ----------------------------------------------------------

def uci_options(text):
    return dict(re.findall(r"^\s*option (\w+) '([^']*)'", text, re.MULTILINE))


def test_uci_config_keeps_data_off_the_router_flash():
    options = uci_options((OPENWRT / "piratebox.config").read_text())
    assert options["data_dir"].startswith("/mnt/")
    assert options["port"] == "8080"  # LuCI keeps port 80
    assert options["role"] == "box"
    assert {"ssid", "box_name", "site_name", "hotspot_network", "sync_led"} <= set(options)


def test_procd_service_respawns_and_reloads_on_config_change():
    text = (OPENWRT / "piratebox.init").read_text()
    assert "USE_PROCD=1" in text
    assert "procd_set_param respawn" in text
    assert "procd_add_reload_trigger piratebox" in text
    assert "procd_set_param file /etc/config/piratebox" in text
    assert re.search(r"config_get data_dir main data_dir", text)


def test_uci_defaults_set_up_the_captive_portal(tmp_path):
    """Run the script with a stand-in `uci` that records what it is told (OpenWrt's uci
    does not run here) and answers the box's settings."""
    fake = tmp_path / "bin"
    fake.mkdir()
    log = tmp_path / "uci.log"
    (fake / "uci").write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{log}"\n'
        'case "$*" in\n'
        '  "-q get piratebox.main.port") echo 8080 ;;\n'
        '  "-q get network.lan.ipaddr") echo 192.168.8.1/24 ;;\n'
        '  *" get "*) exit 1 ;;\n'
        "esac\n")
    (fake / "uci").chmod(0o755)
    result = subprocess.run(["sh", str(OPENWRT / "piratebox.uci-defaults")],
                            env={"PATH": f"{fake}:{os.environ['PATH']}"},
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    said = log.read_text()
    assert "add_list dhcp.@dnsmasq[0].address=/#/192.168.8.1" in said
    assert "add_list dhcp.@dnsmasq[0].address=/boite.lan/192.168.8.1" in said
    assert "set firewall.piratebox_http.src_dport=80" in said
    assert "set firewall.piratebox_http.dest_port=8080" in said
    assert "set firewall.piratebox_http.src_dip=!192.168.8.1" in said  # LuCI stays reachable
    assert "set firewall.piratebox_https.dest_port=443" in said
    assert "set firewall.piratebox_https.target=REJECT" in said
    assert "set fstab.@global[0].anon_mount=1" in said
    for config in ("dhcp", "firewall", "fstab"):
        assert f"commit {config}" in said


def test_systemd_unit_is_hardened_and_verifies():
    text = (PI / "piratebox.service").read_text()
    for line in ("User=cocote", "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "AmbientCapabilities=CAP_NET_BIND_SERVICE", "ReadWritePaths=/var/lib/cocote",
                 "Restart=on-failure", "PrivateTmp=yes", "MemoryDenyWriteExecute=yes"):
        assert line in text.splitlines(), line
    assert "--port 80" in text
    if shutil.which("systemd-analyze"):
        result = subprocess.run(["systemd-analyze", "verify", "--man=no",
                                 str(PI / "piratebox.service")], capture_output=True,
                                text=True)
        assert result.returncode == 0 and "piratebox.service" not in result.stderr, \
            result.stderr


def test_udev_rule_starts_the_sync_service_through_systemd():
    rule = (PI / "99-cocote-stick.rules").read_text()
    assert 'ENV{SYSTEMD_WANTS}+="cocote-sync@%k.service"' in rule
    assert 'ENV{ID_BUS}=="usb"' in rule and "RUN+=" not in rule  # no mount from udev
    service = (PI / "cocote-sync@.service").read_text()
    assert "ExecStart=/opt/cocote/deploy/raspberrypi/cocote-sync %i" in service
    assert "systemd-mount" in (PI / "cocote-sync").read_text()


def test_hotspot_dnsmasq_lines_answer_every_name_with_the_box():
    lines = (PI / "dnsmasq-cocote.conf").read_text().splitlines()
    assert "address=/#/10.42.0.1" in lines and "address=/boite.lan/10.42.0.1" in lines
    install = (PI / "install.sh").read_text()
    assert "/etc/NetworkManager/dnsmasq-shared.d/cocote.conf" in install
    assert "ipv4.method shared" in install
    for package in ("python3-flask", "python3-peewee", "python3-waitress", "python3-qrcode",
                    "python3-pil"):
        assert package in install
