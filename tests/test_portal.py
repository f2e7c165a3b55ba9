import pytest

from piratebox.portal import APPLE_SUCCESS, FIREFOX_CANONICAL

# (Host, path, user agent, status once welcomed, body once welcomed), as the systems send them
PROBES = [
    ("connectivitycheck.gstatic.com", "/generate_204", "Dalvik/2.1.0 (Linux; U; Android 13)",
     204, ""),
    ("clients3.google.com", "/generate_204", "Dalvik/2.1.0", 204, ""),
    ("www.google.com", "/gen_204", "Mozilla/5.0 (X11; CrOS x86_64)", 204, ""),
    ("captive.apple.com", "/hotspot-detect.html", "CaptiveNetworkSupport-407.0.1 wispr",
     200, APPLE_SUCCESS),
    ("www.apple.com", "/library/test/success.html", "CaptiveNetworkSupport-355.200.27 wispr",
     200, APPLE_SUCCESS),
    ("www.msftconnecttest.com", "/connecttest.txt", "Microsoft NCSI", 200,
     "Microsoft Connect Test"),
    ("www.msftncsi.com", "/ncsi.txt", "Microsoft NCSI", 200, "Microsoft NCSI"),
    ("detectportal.firefox.com", "/canonical.html", "Mozilla/5.0 Firefox/128.0", 200,
     FIREFOX_CANONICAL),
    ("detectportal.firefox.com", "/success.txt", "Mozilla/5.0 Firefox/128.0", 200, "success\n"),
]


@pytest.mark.parametrize(("host", "path", "agent", "status", "body"), PROBES)
def test_a_probe_opens_the_portal_until_the_phone_has_seen_the_box(client, host, path, agent,
                                                                    status, body):
    headers = {"Host": host, "User-Agent": agent}
    before = client.get(path, headers=headers)
    assert before.status_code == 302
    assert before.headers["Location"] == "http://boite.lan/"
    assert before.headers["Cache-Control"] == "no-store"

    welcome = client.get("/", headers={"Host": "boite.lan"})
    assert welcome.status_code == 200

    after = client.get(path, headers=headers)
    assert after.status_code == status
    assert after.get_data(as_text=True) == body


def test_windows_redirect_page_and_any_other_site_lead_to_the_box(client):
    client.get("/", headers={"Host": "boite.lan"})
    for host, path in [("www.msftconnecttest.com", "/redirect"), ("example.org", "/news")]:
        response = client.get(path, headers={"Host": host})
        assert response.status_code == 302
        assert response.headers["Location"] == "http://boite.lan/"


def test_each_phone_is_remembered_separately(client):
    probe = {"Host": "captive.apple.com"}
    client.get("/", environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert client.get("/hotspot-detect.html", headers=probe,
                      environ_base={"REMOTE_ADDR": "10.0.0.5"}).status_code == 200
    assert client.get("/hotspot-detect.html", headers=probe,
                      environ_base={"REMOTE_ADDR": "10.0.0.6"}).status_code == 302


@pytest.mark.parametrize("host", ["boite.lan", "boite.lan:8080", "192.168.8.1", "[fe80::1]:80",
                                  "localhost:8080"])
def test_the_box_itself_is_never_redirected(client, host):
    assert client.get("/", headers={"Host": host}).status_code == 200


def test_the_welcome_is_forgotten_after_a_day(app, client):
    portal = app.extensions["portal"]
    now = [0.0]
    portal._monotonic = lambda: now[0]
    client.get("/")
    now[0] += app.config["PORTAL_MEMORY_SECONDS"] + 1
    assert client.get("/generate_204", headers={"Host": "clients3.google.com"}).status_code == 302
