#!/bin/sh
# Turn a Raspberry Pi (Raspberry Pi OS bookworm) into a CoCoTe box. Run as root from the
# project's folder:  sudo deploy/raspberrypi/install.sh [SSID] [BOX NAME]
# Uses Raspberry Pi OS's own packages; nothing is downloaded but those.
set -eu

ssid="${1:-Boite-a-partage}"
name="${2:-CoCoTe}"
here="$(cd "$(dirname "$0")/../.." && pwd)"

# True when this script runs in an SSH session that arrived over the wifi interface.
wifi_ssh_session() {
	[ -n "${SSH_CONNECTION:-}" ] || return 1
	# SSH_CONNECTION: client address, client port, server address, server port
	# shellcheck disable=SC2086
	set -- $SSH_CONNECTION
	[ -n "${3:-}" ] && ip -o addr show dev wlan0 2>/dev/null | grep -q "inet6\{0,1\} $3/"
}

if [ "$(id -u)" != 0 ]; then
	echo "Run as root: sudo $0" >&2
	exit 1
fi

if wifi_ssh_session; then
	echo "Note: you are connected over wifi. The hotspot will take wlan0 over, so it is set"
	echo "up now but started only at the next boot (your SSH session would drop)."
fi

echo "== packages"
# The package lists of a freshly written card are old or empty: refresh them first.
# dnsmasq-base is the dnsmasq NetworkManager runs for the hotspot (DHCP and names).
apt-get update
apt-get install -y --no-install-recommends python3-flask python3-peewee python3-waitress \
	python3-qrcode python3-pil fake-hwclock dnsmasq-base

echo "== the cocote user and its data"
id cocote >/dev/null 2>&1 || adduser --system --group --home /var/lib/cocote cocote
install -d -o cocote -g cocote -m 0750 /var/lib/cocote
install -d -m 0755 /etc/cocote /opt/cocote
[ -f /etc/cocote/piratebox.env ] || install -m 0644 "$here/deploy/raspberrypi/piratebox.env" /etc/cocote/

echo "== the application in /opt/cocote"
for part in app.py models.py piratebox templates static deploy; do
	cp -r "$here/$part" /opt/cocote/
done
find /opt/cocote -name __pycache__ -prune -exec rm -rf {} +
# bytecode for the service's user, who cannot write it in /opt: a start without it is
# about five times slower on a Pi
python3 -m compileall -q -j 0 /opt/cocote
chmod 0755 /opt/cocote/deploy/raspberrypi/cocote-sync

# shellcheck disable=SC1091
. /etc/cocote/piratebox.env
if [ ! -f "$PIRATEBOX_DATA/piratebox.db" ]; then
	runuser -u cocote -- python3 /opt/cocote/app.py --data "$PIRATEBOX_DATA" init --name "$name"
fi

echo "== services"
install -m 0644 "$here/deploy/raspberrypi/piratebox.service" /etc/systemd/system/
install -m 0644 "$here/deploy/raspberrypi/cocote-sync@.service" /etc/systemd/system/
install -m 0644 "$here/deploy/raspberrypi/99-cocote-stick.rules" /etc/udev/rules.d/
systemctl daemon-reload
udevadm control --reload
systemctl enable --now piratebox.service

echo "== the wifi hotspot (NetworkManager) and its captive-portal DNS"
install -d /etc/NetworkManager/dnsmasq-shared.d
install -m 0644 "$here/deploy/raspberrypi/dnsmasq-cocote.conf" \
	/etc/NetworkManager/dnsmasq-shared.d/cocote.conf
if ! nmcli -t -f NAME connection show | grep -qx cocote-hotspot; then
	nmcli connection add type wifi ifname wlan0 con-name cocote-hotspot autoconnect yes \
		ssid "$ssid" 802-11-wireless.mode ap 802-11-wireless.band bg \
		ipv4.method shared ipv4.addresses 10.42.0.1/24 ipv6.method disabled
fi
# Above every other wifi profile (the one used for the installation included), so that
# at each boot wlan0 becomes the hotspot rather than joining a known network.
nmcli connection modify cocote-hotspot connection.autoconnect yes \
	connection.autoconnect-priority 100

if wifi_ssh_session; then
	echo
	echo "WARNING: you are connected over wifi. Starting the hotspot turns wlan0 into the"
	echo "box's access point: this SSH session will drop. The hotspot starts at the next"
	echo "boot; reboot when you are done (sudo reboot), then join the wifi \"$ssid\"."
	echo "To start it now anyway: sudo nmcli connection up cocote-hotspot"
else
	nmcli connection up cocote-hotspot || echo "The hotspot will start at the next boot."
fi

echo
echo "Done. Set the mediator's password:"
echo "  sudo -u cocote python3 /opt/cocote/app.py --data $PIRATEBOX_DATA set-password"
echo "Then join the wifi \"$ssid\" and open http://boite.lan/"
