"""A phone's view, in Debian's chromium (headless, 360 x 740) driven by Selenium with
the system's chromedriver, against the real server: a villager's journey, the file
share, the mediator's pages; each page fits the screen, has readable text, and works with
JavaScript off. Skipped, with the reason, only where chromium is not installed."""

import re
import shutil
import time

import pytest

from models import db
from piratebox import box
from tests.images import jpeg
from tests.server import Server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="Debian's chromium and chromium-driver are not installed "
           "(apt-get install chromium chromium-driver); the browser tests need them")

PHONE = (360, 740)
MIN_FONT_PX = 12


def browser(downloads, javascript=True, user_agent=None):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--lang=fr-FR", f"--window-size={PHONE[0]},{PHONE[1]}"):
        options.add_argument(flag)
    if user_agent:
        options.add_argument(f"--user-agent={user_agent}")
    options.add_experimental_option("prefs", {
        "intl.accept_languages": "fr-FR,fr",
        "download.default_directory": str(downloads),
        "download.prompt_for_download": False,
        "profile.managed_default_content_settings.javascript": 1 if javascript else 2,
    })
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_window_size(*PHONE)
    driver.implicitly_wait(5)
    return driver


@pytest.fixture
def server(data_dir):
    with Server(data_dir.path, env={"PIRATEBOX_PAGE_CACHE_SECONDS": "0"}) as running:
        yield running


@pytest.fixture(params=[True, False], ids=["javascript", "no-javascript"])
def phone(request, tmp_path):
    driver = browser(tmp_path / "downloads", javascript=request.param)
    driver.javascript = request.param
    driver.get("data:text/html,<title>off</title><script>document.title='on'</script>")
    assert driver.title == ("on" if request.param else "off")  # the setting really holds
    yield driver
    driver.quit()


def check_fits(driver):
    """No horizontal scrolling, and no text smaller than MIN_FONT_PX (measured by the
    browser; with scripts off for the page, the test's own script still runs)."""
    width = driver.execute_script("return document.documentElement.scrollWidth")
    viewport = driver.execute_script("return window.innerWidth")
    assert width <= viewport, f"{driver.current_url}: {width}px wide on a {viewport}px screen"
    smallest = driver.execute_script("""
        let smallest = 100;
        for (const el of document.querySelectorAll('body *')) {
          const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
          if (!own || !el.offsetParent) continue;
          smallest = Math.min(smallest, parseFloat(getComputedStyle(el).fontSize));
        }
        return smallest;""")
    assert smallest >= MIN_FONT_PX, f"{driver.current_url}: text of {smallest}px"


def visit(driver, url):
    driver.get(url)
    check_fits(driver)


def click(driver, css):
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.CSS_SELECTOR, css)
    driver.execute_script("arguments[0].scrollIntoView()", element)
    element.click()


def find(driver, css):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css)


def wait_for(condition, timeout=10, driver=None):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            where = f" on {driver.current_url}: {driver.page_source[:2000]}" if driver else ""
            raise AssertionError("timed out" + where)
        time.sleep(0.1)


def test_a_villager_posts_finds_and_takes_an_object(server, phone, tmp_path):
    photo = tmp_path / "velo.jpg"
    photo.write_bytes(jpeg(width=1200, height=900, color=(30, 120, 200)))
    visit(phone, server.base + "/")
    assert "Saint-Bonnet" in phone.title
    visit(phone, server.base + "/items/deposit")
    find(phone, "#photos").send_keys(str(photo))
    from selenium.webdriver.support.ui import Select

    Select(find(phone, "#category")).select_by_value("bikes")
    find(phone, "#title").send_keys("Vélo d'enfant bleu")
    click(phone, "form.stack button[type=submit]")
    wait_for(lambda: "/manage" in phone.current_url, driver=phone)
    check_fits(phone)
    assert "Vélo d'enfant bleu" in phone.page_source

    other = browser(tmp_path / "other", javascript=phone.javascript)
    try:
        visit(other, server.base + "/items/")
        find(other, "#q").send_keys("velo enfant")  # no accents, lower case
        click(other, "form.filters button[type=submit]")
        wait_for(lambda: "q=velo" in other.current_url, driver=other)
        check_fits(other)
        click(other, "ul.items a")
        wait_for(lambda: re.search(r"/items/[a-z2-7]{26}$", other.current_url), driver=other)
        check_fits(other)
        assert find(other, "img").get_attribute("naturalWidth") not in (None, "0")
        click(other, "input[name=avoided_purchase][value=yes]")
        click(other, "form[action$='/take'] button[type=submit]")
        wait_for(lambda: "noté comme pris" in other.page_source, driver=other)
        check_fits(other)
    finally:
        other.quit()


def test_a_file_is_shared_and_downloaded(server, phone, tmp_path):
    document = tmp_path / "Compte rendu été.pdf"
    document.write_bytes(b"%PDF-1.4 compte rendu du conseil " * 2000)
    visit(phone, server.base + "/files/")
    find(phone, "#files").send_keys(str(document))
    find(phone, "#upload-folder").send_keys("Mairie")
    click(phone, "form[data-upload-form] button[type=submit]")
    wait_for(lambda: "/files/uploaded" in phone.current_url, driver=phone)
    check_fits(phone)
    assert "1 fichier est partagé" in phone.page_source
    visit(phone, server.base + "/files/")
    assert "Compte rendu été.pdf" in phone.page_source
    click(phone, "a.button[download]")
    target = tmp_path / "downloads" / "Compte rendu été.pdf"
    wait_for(lambda: target.exists() and target.stat().st_size == document.stat().st_size)
    assert target.read_bytes() == document.read_bytes()


def test_the_mediator_logs_in_moderates_and_opens_the_sync_page(server, phone, data_dir):
    from piratebox.database import open_existing

    open_existing(data_dir)
    with db.connection_context():
        box.set_password("village-secret", 1000)
    visit(phone, server.base + "/admin/")
    find(phone, "input[type=password]").send_keys("village-secret")
    click(phone, "form[action$='/admin/login'] button[type=submit]")
    wait_for(lambda: "Espace médiateur" in phone.page_source, driver=phone)
    check_fits(phone)
    for path in ("/admin/reports", "/admin/board", "/admin/sync", "/admin/settings",
                 "/admin/tally", "/stats/"):
        visit(phone, server.base + path)
        assert phone.find_elements("css selector", "h1"), path
    assert "Synchronisation avec le centre" in phone.page_source or "Impact" in phone.title


# What Android's CaptivePortalLogin (a WebView) says it is.
ANDROID_SIGN_IN = ("Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) "
                   "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/118.0.0.0 "
                   "Mobile Safari/537.36")


def test_the_wifi_sign_in_window_says_how_to_send_photos_and_still_posts_without(server,
                                                                                 tmp_path):
    window = browser(tmp_path / "downloads", javascript=False, user_agent=ANDROID_SIGN_IN)
    try:
        visit(window, server.base + "/items/new")
        notice = find(window, "aside.real-browser")
        assert notice.is_displayed()
        assert "Ouvrez la boîte dans votre navigateur" in notice.text
        assert f"127.0.0.1:{server.port}/items/new" in notice.text  # the address to type
        code = find(window, "aside.real-browser img")
        assert code.get_attribute("naturalWidth") not in (None, "0")
        from selenium.webdriver.support.ui import Select

        click(window, "input[name=kind][value=offer]")
        find(window, "#title").send_keys("Étagère en pin")
        Select(find(window, "#category")).select_by_value("furniture_small")
        click(window, "input[name=mode][value=give]")
        click(window, "input[name=place][value=home]")
        click(window, "form.stack button[type=submit]")
        wait_for(lambda: "/manage" in window.current_url, driver=window)
        check_fits(window)
        assert "Étagère en pin" in window.page_source

        visit(window, server.base + "/files/")
        assert "ne sait ni envoyer ni enregistrer" in find(window, "aside.real-browser").text
    finally:
        window.quit()
