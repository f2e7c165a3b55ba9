"""Real browsers at a phone's size for the browser tests, behind one small interface.

- Chromium: Debian's chromium and chromedriver, driven by Selenium.
- Firefox ESR: Debian's firefox-esr, driven through its built-in Marionette protocol by
  the `marionette_driver` client (no geckodriver: Debian 12 does not package it).

Both run headless at 360 x 740, with JavaScript on or off, and never reach the network:
Chromium with its background services off, Firefox with every request but loopback sent
to a closed local port and its update, telemetry and remote-settings services off.
A journey switches between phones by keeping each phone's cookies aside.
"""

import contextlib
import gc
import shutil
import time
import warnings
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox")
PHONE = (360, 740)

SKIP_REASONS = {
    "chromium": "Debian's chromium and chromium-driver are not installed (apt-get install "
                "chromium chromium-driver); scripts/test installs them",
    "firefox": "Debian's firefox-esr is not installed (apt-get install firefox-esr), or the "
               "marionette_driver client is missing; scripts/test installs both",
}


def available(name):
    if name == "chromium":
        return bool(CHROMIUM and CHROMEDRIVER)
    try:
        with warnings.catch_warnings():  # mozinfo calls a deprecated function of distro
            warnings.simplefilter("ignore", DeprecationWarning)
            import marionette_driver.marionette  # noqa: F401
    except ImportError:
        return False
    return bool(FIREFOX)


# Words, and numbers with their unit, that a line break cut inside, as "word in tag.class".
# A word is what lies between breakable spaces, hyphens and slashes (a no-break space joins
# "2,7 Ko"). Allowed: hyphenation where the browser has dictionaries (Firefox; Debian's
# Chromium has none, so it measures a layout that fits without), a word longer than its
# whole line, and what the stylesheet lets be cut anywhere (an address, a link, a code).
CUT_WORDS = r"""
const probe = document.createElement('div');
probe.lang = 'fr';
probe.style.cssText = 'position:absolute;visibility:hidden;width:3em;hyphens:auto;' +
  '-webkit-hyphens:auto;overflow-wrap:normal';
probe.textContent = 'anticonstitutionnellement';
document.body.appendChild(probe);
const hyphenates = probe.scrollWidth <= probe.clientWidth + 1;
probe.remove();
const cut = [], range = document.createRange();
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const node = walker.currentNode, el = node.parentElement;
  if (!el.getClientRects().length || el.closest('code, pre, svg, .address, .link')) continue;
  const hyphenated = hyphenates && getComputedStyle(el).hyphens === 'auto';
  for (const m of node.textContent.matchAll(/[^ \t\n\r\u2009\u200b\/-]+[\/-]?/g)) {
    range.setStart(node, m.index);
    range.setEnd(node, m.index + m[0].length);
    const lines = new Set([...range.getClientRects()].filter(r => r.width > 0)
                          .map(r => Math.round(r.top)));
    if (lines.size < 2 || (hyphenated && /^[(«"]?[\p{L}’']+[\/-]?[,.;:!?)»]*$/u.test(m[0])))
      continue;
    let box = el;  // a word longer than its whole line cannot but be cut
    while (getComputedStyle(box).display === 'inline') box = box.parentElement;
    const wide = [...range.getClientRects()].reduce((sum, r) => sum + r.width, 0);
    if (wide > box.clientWidth) continue;
    cut.push(m[0] + ' in ' + el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''));
  }
}
return cut;"""


class Phone:
    """What a test does with a browser, the same in both."""

    name = ""

    def __init__(self, javascript):
        self.javascript = javascript
        self._jars, self._current = {}, "first"

    # -- each browser implements these
    def get(self, url):
        raise NotImplementedError

    def find_all(self, css):
        raise NotImplementedError

    def script(self, source, *args):
        raise NotImplementedError

    def cookies(self):
        raise NotImplementedError

    def set_cookies(self, cookies):
        raise NotImplementedError

    def quit(self):
        raise NotImplementedError

    # -- shared
    @property
    def url(self):
        return self.script("return document.location.href")

    @property
    def html(self):
        return self.script("return document.documentElement.outerHTML")

    @property
    def text(self):
        return self.script("return document.body ? document.body.innerText : ''")

    def find(self, css, timeout=5):
        deadline = time.monotonic() + timeout
        while True:
            found = self.find_all(css)
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no {css} on {self.url}: {self.text[:1500]}")
            time.sleep(0.05)

    def click(self, css):
        element = self.find(css)
        self.script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def type(self, css, text):
        self.find(css).send_keys(text)

    def choose(self, css, value):
        """Pick an option of a <select> as a person would: click it, then the option."""
        self.click(f"{css} option[value='{value}']")

    def submit(self, form_css):
        """Press the form's submit button (the main one, when it has several)."""
        self.click(f"{form_css} button[type=submit]")

    def wait_for(self, condition, what, timeout=10):
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what} on {self.url}: "
                                     f"{self.text[:1500]}")
            time.sleep(0.05)

    # Between two pages (a form sent, a page that reloads itself) a browser may have no
    # address or body for a moment: that is "not yet", not a failure.
    def wait_for_url(self, fragment):
        self.wait_for(lambda: fragment in (self.url or ""), f"an address with {fragment}")

    def wait_for_text(self, text):
        self.wait_for(lambda: text in (self.text or ""), repr(text))

    def as_phone(self, name):
        """Become another phone (its own cookies), or come back to one seen before."""
        if name == self._current:
            return
        self._jars[self._current] = self.cookies()
        self.set_cookies(self._jars.get(name, []))
        self._current = name

    def check_fits(self, min_font_px=12):
        """No horizontal scrolling, no text smaller than `min_font_px` and no word or number
        cut inside by a line break (measured by the browser; the test's own script runs even
        when the page's scripts are off)."""
        width, viewport, smallest = self.script("""
            let smallest = 100;
            for (const el of document.querySelectorAll('body *')) {
              const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
              if (!own || !el.offsetParent) continue;
              smallest = Math.min(smallest, parseFloat(getComputedStyle(el).fontSize));
            }
            return [document.documentElement.scrollWidth, window.innerWidth, smallest];""")
        assert viewport == PHONE[0], f"{self.name}: a {viewport}px window, not a phone's"
        assert width <= viewport, f"{self.url}: {width}px wide on a {viewport}px screen"
        assert smallest >= min_font_px, f"{self.url}: text of {smallest}px"
        cut = self.script(CUT_WORDS)
        assert cut == [], f"{self.name} at {self.url}: cut inside by a line break: {cut}"

    def visit(self, url):
        self.get(url)
        self.check_fits()


class ChromiumPhone(Phone):
    name = "chromium"

    def __init__(self, javascript, downloads, user_agent=None):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        super().__init__(javascript)
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--disable-background-networking",
                     "--disable-component-update", "--no-first-run", "--lang=fr-FR",
                     f"--window-size={PHONE[0]},{PHONE[1]}"):
            options.add_argument(flag)
        if user_agent:
            options.add_argument(f"--user-agent={user_agent}")
        options.add_experimental_option("prefs", {
            "intl.accept_languages": "fr-FR,fr",
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "profile.managed_default_content_settings.javascript": 1 if javascript else 2,
        })
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_window_size(*PHONE)

    def get(self, url):
        self.driver.get(url)

    def find_all(self, css):
        return self.driver.find_elements("css selector", css)

    def script(self, source, *args):
        return self.driver.execute_script(source, *args)

    def cookies(self):
        return self.driver.get_cookies()

    def set_cookies(self, cookies):
        self.driver.delete_all_cookies()
        for cookie in cookies:
            self.driver.add_cookie(cookie)

    def alert_text(self):
        from selenium.common.exceptions import NoAlertPresentException

        try:
            return self.driver.switch_to.alert.text
        except NoAlertPresentException:
            return ""

    def accept_alert(self):
        self.driver.switch_to.alert.accept()

    def quit(self):
        self.driver.quit()


# Firefox talks to Mozilla's services at start and in the background: every request that
# is not for this machine goes to a closed local port, and the services are off.
FIREFOX_PREFS = {
    "intl.accept_languages": "fr-FR,fr",
    "network.proxy.type": 1,
    "network.proxy.http": "127.0.0.1", "network.proxy.http_port": 9,
    "network.proxy.ssl": "127.0.0.1", "network.proxy.ssl_port": 9,
    "network.proxy.socks": "127.0.0.1", "network.proxy.socks_port": 9,
    "network.proxy.socks_remote_dns": True,
    "network.proxy.no_proxies_on": "127.0.0.1,localhost",
    "network.proxy.allow_hijacking_localhost": False,
    "network.trr.mode": 5,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "services.settings.server": "http://127.0.0.1:9/",
    "messaging-system.rsexperimentloader.enabled": False,
    "app.normandy.enabled": False,
    "app.update.disabledForTesting": True,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "extensions.update.enabled": False,
    "browser.download.folderList": 2,
    "browser.download.useDownloadDir": True,
    "browser.download.always_ask_before_handling_new_types": False,
    # userChrome.css lifts the window's minimum width (500 px) to a phone's 360
    "toolkit.legacyUserProfileCustomizations.stylesheets": True,
}
NO_MINIMUM_WIDTH = (":root, #main-window, #navigator-toolbox, #nav-bar, #TabsToolbar, "
                    "toolbar, #browser, #urlbar-container { min-width: 0 !important; }\n")


class FirefoxPhone(Phone):
    name = "firefox"

    def __init__(self, javascript, downloads, profile):
        with warnings.catch_warnings():  # mozinfo calls a deprecated function of distro
            warnings.simplefilter("ignore", DeprecationWarning)
            from marionette_driver.marionette import Marionette

        super().__init__(javascript)
        (Path(profile) / "chrome").mkdir(parents=True, exist_ok=True)
        (Path(profile) / "chrome" / "userChrome.css").write_text(NO_MINIMUM_WIDTH)
        prefs = {**FIREFOX_PREFS, "javascript.enabled": javascript,
                 "browser.download.dir": str(downloads)}
        with quiet_client():
            self.client = Marionette(bin=FIREFOX, headless=True, prefs=prefs,
                                     profile=str(profile), port=free_port(),
                                     gecko_log=str(Path(profile).parent / "gecko.log"),
                                     app_args=["--width=360", "--height=740"])
            self.client.start_session()
        self.client.set_window_rect(width=PHONE[0], height=PHONE[1])

    def get(self, url):
        self.client.navigate(url)

    def find_all(self, css):
        return self.client.find_elements("css selector", css)

    def script(self, source, *args):
        return self.client.execute_script(source, script_args=list(args),
                                          sandbox=None, new_sandbox=False)

    def cookies(self):
        return self.client.get_cookies()

    def set_cookies(self, cookies):
        self.client.delete_all_cookies()
        for cookie in cookies:
            self.client.add_cookie(cookie)

    def alert_text(self):
        from marionette_driver.errors import NoAlertPresentException

        try:
            return self.client.switch_to_alert().text
        except NoAlertPresentException:
            return ""

    def accept_alert(self):
        self.client.switch_to_alert().accept()

    def quit(self):
        with quiet_client():
            self.client.cleanup()


@contextlib.contextmanager
def quiet_client():
    """marionette_driver leaves the sockets it probes the port with to the garbage collector,
    and its profile library warns on the way: collected here, not in a later test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield
        gc.collect()


def free_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def open_phone(name, javascript, folder, user_agent=None):
    downloads = folder / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    if name == "chromium":
        phone = ChromiumPhone(javascript, downloads, user_agent)
    else:
        phone = FirefoxPhone(javascript, downloads, folder / "profile")
    phone.downloads = downloads
    return phone
