"""What turns a device into a box: the USB hotplug scripts run as the device runs them,
with the real `piratebox` command, and the installed configuration files checked."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server import ROOT
from tests.test_sync import network, opened  # noqa: F401 - a fixture

OPENWRT = ROOT / "deploy" / "openwrt" / "files"
PI = ROOT / "deploy" / "raspberrypi"
PIRATEBOX = Path(sys.executable).parent / "piratebox"  # the installed console script


def bundles(folder):
    return sorted(path.name for path in (folder / "cocote").glob("*.cocote"))


def last_sync(data_dir):
    """What the sync page says of the last sync, in French as the mediator reads it: its
    lines, then what needs the mediator."""
    from piratebox.i18n import Translator
    from piratebox.sync import stick

    french = Translator("fr")
    with opened(data_dir):
        last = stick.last_sync()
    return {name: "; ".join(line.localized(french) for line in last[name])
            for name in ("lines", "troubles")}


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
    assert "envoyé à hub" in last_sync(village)["lines"]
    assert (leds / "green:wlan" / "trigger").read_text().strip() == "timer"
    # and the hub reads what the router wrote
    assert run_hotplug(tmp_path, hub).returncode == 0
    assert "reçu de Saint-Bonnet" in last_sync(hub)["lines"]


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
    assert "n’est pas un paquet" in last_sync(village)["troubles"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own files as another user")
def test_openwrt_hotplug_gives_the_synced_files_to_the_boxs_own_user(mounted, tmp_path):
    """The server runs as an unprivileged user; the sync, as root, must not leave it files
    it cannot write."""
    hub, village, _sda1 = mounted
    assert run_hotplug(tmp_path, village).returncode == 0
    assert run_hotplug(tmp_path, hub).returncode == 0  # the stick now carries the hub's reply
    nobody = 65534
    for path in [village.path, *village.path.rglob("*")]:
        os.chown(path, nobody, nobody)
    shutil.rmtree(village.path / "tmp", ignore_errors=True)  # the sync's scratch space
    assert run_hotplug(tmp_path, village).returncode == 0
    assert "reçu de hub" in last_sync(village)["lines"]
    assert {path.stat().st_uid for path in village.path.rglob("*")} == {nobody}


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
    assert "synchronisation : " in result.stdout and "envoyé à hub" in result.stdout


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
    assert {"ssid", "box_name", "sync_led", "jail"} <= set(options)
    # the app's port is also the one the firewall file redirects port 80 to
    assert "redirect to :8080" in (OPENWRT / "nftables" / "dstnat.nft").read_text()


def test_procd_service_runs_unprivileged_and_waits_for_its_data_disk():
    text = (OPENWRT / "piratebox.init").read_text()
    assert "USE_PROCD=1" in text
    assert "procd_set_param respawn" in text
    assert "procd_add_reload_trigger piratebox" in text
    assert "procd_set_param file /etc/config/piratebox" in text
    assert 'procd_set_param user "$USER"' in text and "USER=cocote" in text
    assert "procd_add_jail piratebox" in text
    assert 'procd_add_jail_mount_rw "$data_dir"' in text
    assert 'procd_add_restart_mount_trigger "$data_dir"' in text
    # the disk check comes before anything can write into the data directory
    assert text.index('if ! mounted "$disk"') < text.index("init --role")
    makefile = (ROOT / "deploy" / "openwrt" / "Makefile").read_text()
    assert "USERID:=cocote=" in makefile


@pytest.mark.parametrize(("folder", "is_mounted"), [("/proc", True), ("/", True),
                                                     ("/mnt/sda1-never-mounted", False),
                                                     ("/pro", False)])
def test_procd_service_reads_mount_points_from_proc_mounts(folder, is_mounted):
    check = shell_function(OPENWRT / "piratebox.init", "mounted") + f'mounted "{folder}"'
    assert (subprocess.run(["sh", "-c", check]).returncode == 0) == is_mounted


def test_openwrt_package_builds_without_the_wheel_recipe_and_ships_bytecode():
    makefile = (ROOT / "deploy" / "openwrt" / "Makefile").read_text()
    # the feed's switch must come before python3-package.mk reads it
    assert makefile.index("PYTHON3_PKG_BUILD:=0") < makefile.index("include $(TOPDIR)/feeds")
    assert "$(call Python3/CompileAll,$(PKG_BUILD_DIR))" in makefile
    assert "$(call Python3/DeleteSourceFiles,$(1)/usr/share/piratebox)" in makefile
    assert "+python3-openssl" in makefile
    # installed where fw4 looks for them, from the files the hotspot test loads
    installed = " ".join(makefile.replace("\\\n", " ").split())
    for where, name in (("chain-pre/dstnat", "dstnat.nft"), ("chain-pre/forward", "forward.nft"),
                        ("chain-pre/input", "input.nft"), ("table-post", "sets.nft")):
        assert (f"./files/nftables/{name} $(1)/usr/share/nftables.d/{where}/"
                "30-cocote-box.nft") in installed
    shipped = {path.name for path in (ROOT / "deploy" / "openwrt" / "files" / "nftables")
               .iterdir()}
    assert shipped == {"dstnat.nft", "forward.nft", "input.nft", "sets.nft"}
    assert "./files/dnsmasq-hotspot.conf $(1)/usr/share/piratebox/" in makefile


def test_the_password_hash_is_openssls_which_openwrt_ships_in_python3_openssl():
    """OpenWrt's python3-light has no _hashlib: without python3-openssl the PBKDF2 of the
    admin password is missing (Python 3.12+) or a slow pure-Python fallback (3.11)."""
    import hashlib

    from piratebox import box

    assert hashlib.pbkdf2_hmac.__module__ == "_hashlib"
    stored = box.hash_password("village-secret", 1000)
    assert stored.startswith("pbkdf2_sha256$1000$")


def uci_defaults_addresses(folder, earlier=()):
    """Run 90-piratebox with a `uci` that records what it is told (OpenWrt's uci does not
    run on Debian) and answers `earlier` as the router's dnsmasq `list address`; return
    the list the router ends up with, and the rest of what the script said."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    log = folder / "uci.log"
    listed = " ".join(earlier)
    (bin_dir / "uci").write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{log}"\n'
        'case "$*" in\n'
        f'  "-q get dhcp.@dnsmasq[0].address") echo "{listed}" ;;\n'
        '  *" get "*) exit 1 ;;\n'
        "esac\n")
    (bin_dir / "uci").chmod(0o755)
    subprocess.run(["sh", str(OPENWRT / "piratebox.uci-defaults")], check=True,
                   env={"PATH": f"{bin_dir}:{os.environ['PATH']}",
                        "PIRATEBOX_DNSMASQ_CONF": str(OPENWRT / "dnsmasq-hotspot.conf")})
    entries, said = list(earlier), log.read_text().splitlines()
    for line in said:
        verb, _, value = line.removeprefix("-q ").partition(" ")
        if value.startswith("dhcp.@dnsmasq[0].address="):
            entry = value.split("=", 1)[1]
            if verb == "add_list":
                entries.append(entry)
            elif verb == "del_list":
                entries.remove(entry)
    return entries, said


def test_uci_defaults_give_dnsmasq_the_shipped_names_and_drop_the_old_ones(tmp_path):
    shipped = [line.removeprefix("address=") for line in
               (OPENWRT / "dnsmasq-hotspot.conf").read_text().splitlines()
               if line.startswith("address=")]
    earlier = ["/#/192.168.1.1", "/boite.lan/192.168.1.1", "/imprimante.lan/192.168.1.20"]
    entries, said = uci_defaults_addresses(tmp_path, earlier)
    assert entries == ["/imprimante.lan/192.168.1.20", *shipped]  # the owner's own kept
    assert "-q delete firewall.piratebox_http" in said  # the redirect that missed the app
    assert "-q set fstab.@global[0].anon_mount=1" in said
    assert {"commit dhcp", "commit firewall", "commit fstab"} <= set(said)


def shipped_dnsmasq_files():
    return sorted(ROOT.glob("deploy/**/*dnsmasq*.conf"))


@pytest.mark.skipif(not shutil.which("dnsmasq"), reason="dnsmasq is not installed "
                    "(apt-get install dnsmasq-base; scripts/test installs it as root)")
@pytest.mark.parametrize("path", shipped_dnsmasq_files(), ids=lambda path: path.name)
def test_debian_dnsmasq_accepts_every_shipped_file(path):
    result = subprocess.run(["dnsmasq", "--test", f"--conf-file={path}"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "syntax check OK" in result.stderr


def test_every_shipped_dnsmasq_file_is_found():
    assert {path.name for path in shipped_dnsmasq_files()} == {
        "dnsmasq-hotspot.conf", "dnsmasq-cocote.conf"}


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


def test_pi_installer_sets_up_the_hotspot_from_the_shipped_files():
    install = (PI / "install.sh").read_text()
    assert "/etc/NetworkManager/dnsmasq-shared.d/cocote.conf" in install
    assert "ipv4.method shared" in install
    for package in ("python3-flask", "python3-peewee", "python3-waitress", "python3-qrcode",
                    "python3-pil", "dnsmasq-base"):
        assert package in install


def shell_function(script, name):
    """The text of one shell function of a shipped script, to run it on its own."""
    text = script.read_text()
    start = text.index(f"{name}() {{")
    return text[start:text.index("\n}\n", start) + 3]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a network namespace")
@pytest.mark.parametrize(("ssh_connection", "over_wifi"), [
    ("10.42.0.50 50022 10.42.0.1 22", True),  # through the Pi's wifi address
    ("192.168.1.20 50022 192.168.1.2 22", False),  # through its Ethernet
    ("", False),  # at the Pi's own keyboard
])
def test_pi_installer_knows_when_its_ssh_session_comes_over_the_wifi(ssh_connection,
                                                                     over_wifi):
    namespace = f"cocote-install-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        for command in (["link", "add", "wlan0", "type", "veth", "peer", "name", "eth0"],
                        ["addr", "add", "10.42.0.1/24", "dev", "wlan0"],
                        ["addr", "add", "192.168.1.2/24", "dev", "eth0"]):
            subprocess.run(["ip", "-n", namespace, *command], check=True)
        check = shell_function(PI / "install.sh", "wifi_ssh_session") + "wifi_ssh_session"
        result = subprocess.run(["ip", "netns", "exec", namespace, "sh", "-c", check],
                                env={"PATH": os.environ["PATH"],
                                     "SSH_CONNECTION": ssh_connection})
        assert (result.returncode == 0) == over_wifi
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False)


def test_pi_installer_refreshes_packages_and_puts_the_hotspot_first():
    install = (PI / "install.sh").read_text()
    assert install.index("apt-get update") < install.index("apt-get install")
    assert "connection.autoconnect-priority 100" in install
    assert "SSH session will drop" in install
