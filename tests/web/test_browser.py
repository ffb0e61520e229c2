"""Browser tests in headless Chromium (Debian's, driven by Playwright) against `station serve` with the real models.

A technician's session on one full-body photo (CCP, from ../shared) ends with a stored record; a supervisor logs
in, filters, opens the record, overrides it and exports CSV; the kiosk is refused at supervisor URLs. With
STATION_SCREENSHOTS=DIR set, the review pages are saved there (docs/ holds the README's copies; the kiosk's come
from test_screens.py, whose frames are synthetic: the CCP photos stay out of the repository).
"""
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from factories import submit

from station.store import Store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory, shared_eval, browser):
    tmp = tmp_path_factory.mktemp("serve")
    (tmp / "station.toml").write_text('[log]\ndatabase = "log.db"\nevidence_dir = "evidence"\n')
    store = Store(tmp / "log.db", tmp / "evidence")
    store.migrate()
    store.add_user("wang", "correct horse")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    photo = shared_eval / "ccp-public/images/ccp_0702.jpg"  # full body, facing the camera, closed shoes
    proc = subprocess.Popen([sys.executable, "-m", "station.cli", "serve", "--source", str(photo), "--port",
                             str(port), "--config", str(tmp / "station.toml")])
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/kiosk/state", timeout=2)
            break
        except OSError:
            time.sleep(0.3)
    yield base, store
    proc.terminate()
    proc.wait(timeout=20)


def test_technician_session_ends_with_a_record(served, browser):
    from playwright.sync_api import expect

    base, store = served
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(base + "/")
    page.fill("#number", "T1024")
    page.click("#number-ok")
    # waits by locator: the pages' Content-Security-Policy forbids the eval that wait_for_function needs
    expect(page.locator("#verdict")).not_to_be_empty(timeout=60_000)
    assert page.inner_text("#verdict") in ("通过", "未通过", "无法判断")
    assert page.locator("#cards li").count() >= 8  # one card per rule
    page.click("#lang-en")  # the English switch
    assert page.get_attribute("#kiosk", "data-lang") == "en"
    assert page.inner_text("#verdict") in ("PASS", "FAIL", "NOT JUDGED")
    page.click("#lang-zh")
    records = store.find()
    assert records and records[0].technician == "T1024" and records[0].evidence_path


def test_supervisor_reviews_overrides_exports_and_the_kiosk_is_refused(served, browser, tmp_path):
    base, store = served
    kiosk = browser.new_context().new_page()
    kiosk.goto(base + "/review")
    assert "/login" in kiosk.url  # the kiosk, with no login, is sent to the login page
    assert kiosk.goto(base + "/api/records").status == 401

    page = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900}).new_page()
    page.goto(base + "/login")
    page.fill("input[name=username]", "wang")
    page.fill("input[name=password]", "correct horse")
    submit(page, "#login")
    page.wait_for_url(base + "/review")
    page.fill("input[name=technician]", "T1024")
    submit(page, "#filter")
    assert page.locator("#records tbody tr").count() >= 1 and "T1024" in page.inner_text("#records")
    submit(page, "#records tbody tr:first-child a")
    page.select_option("form.override select[name=verdict]", "pass")
    page.fill("form.override input[name=reason]", "复核：现场确认 / checked in person")
    submit(page, "#override")
    assert "wang" in page.inner_text("#overrides") and "checked in person" in page.inner_text("#overrides")
    page.goto(base + "/review")
    with page.expect_download() as download:
        page.click("#export")
    csv_text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert csv_text.startswith("id,time,zone,station,technician,name") and "checked in person" in csv_text
    assert store.find()[0].final_verdict == "pass"


def test_the_kiosk_renews_a_refused_token_and_says_when_a_number_is_not_taken(browser, tmp_path):
    """The kiosk page stays open for days: after a restart or an hour its CSRF token is refused. The page gets a
    fresh one and sends the number again, and a number that is still not taken is said on screen."""
    from factories import FakeLive, serving
    from playwright.sync_api import expect

    from web.app import create_app

    store = Store(tmp_path / "log.db", tmp_path / "evidence")
    store.migrate()
    live = FakeLive()
    with serving(create_app(store, live)) as base:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(base + "/")
            context.clear_cookies()  # the session that the page's token belongs to is gone
            page.fill("#number", "T1024")
            page.click("#number-ok")
            expect(page.locator("#number")).to_have_value("", timeout=10_000)
            assert live.identified == ["T1024"] and page.inner_text("#notice") == "已收到工号 T1024"
            live.accepting = False  # a verdict is showing
            page.fill("#number", "T2048")
            page.click("#number-ok")
            expect(page.locator("#notice")).to_contain_text("请等当前检查结束",
                                                            timeout=10_000)
            assert page.input_value("#number") == "T2048"  # kept, to send again
        finally:
            context.close()  # before the server: the page polls it
