import pytest

from piratebox.portal import APPLE_SUCCESS, FIREFOX_CANONICAL, is_mini_browser

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


# The sign-in window of each system, and real browsers that must not be taken for one.
SIGN_IN_WINDOWS = [
    # iOS Captive Network Assistant (a bare WKWebView: WebKit, no "Safari/")
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148",
    # macOS Captive Network Assistant
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    # Android's CaptivePortalLogin (a WebView: "; wv)")
    "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/118.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; SM-A105FN Build/QP1A.190711.020; wv) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/88.0.4324.181 Mobile "
    "Safari/537.36",
]
REAL_BROWSERS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",  # Safari
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/119.0.6045.169 Mobile/15E148 Safari/604.1",  # Chrome, iOS
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) FxiOS/120.0 Mobile/15E148 Safari/605.1.15",  # Firefox, iOS
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Mobile Safari/537.36",  # Chrome, Android
    "Mozilla/5.0 (Android 13; Mobile; rv:120.0) Gecko/120.0 Firefox/120.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Safari/605.1.15",  # Safari, macOS
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36 Edg/119.0.0.0",
    "CaptiveNetworkSupport-443.0.2 wispr",  # the probe itself, not a window
    "",
    None,
]


@pytest.mark.parametrize("agent", SIGN_IN_WINDOWS)
def test_the_sign_in_windows_of_phones_are_recognised(agent):
    assert is_mini_browser(agent)


@pytest.mark.parametrize("agent", REAL_BROWSERS)
def test_real_browsers_are_not_taken_for_a_sign_in_window(agent):
    assert not is_mini_browser(agent)


NOTICE = "Ouvrez la boîte dans votre navigateur"


@pytest.mark.parametrize(("page", "says"), [
    ("/files/", "ne sait ni envoyer ni enregistrer de fichiers"),
    ("/items/new", "ne sait pas envoyer de photos"),
    ("/items/deposit", "ne sait pas envoyer de photos"),
])
def test_pages_it_cannot_use_tell_the_sign_in_window_how_to_open_the_browser(client, page,
                                                                            says):
    inside = client.get(page, headers={"User-Agent": SIGN_IN_WINDOWS[0]}).get_data(as_text=True)
    assert NOTICE in inside and says in inside
    assert "localhost" + page in inside  # the address to type
    assert "/qr/site.svg" in inside
    outside = client.get(page, headers={"User-Agent": REAL_BROWSERS[0]}).get_data(as_text=True)
    assert NOTICE not in outside  # the same page, from the cache, for a real browser


def test_pages_it_can_use_say_nothing(client):
    for page in ("/", "/items/", "/board/", "/events/"):
        html = client.get(page, headers={"User-Agent": SIGN_IN_WINDOWS[3]}).get_data(as_text=True)
        assert NOTICE not in html, page
