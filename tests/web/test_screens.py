"""The kiosk as a technician meets it, in headless Chromium (Debian's, driven by Playwright), against the live
station's real threads (capture, worker, session, log) with fake models whose verdict fails four rules.

At 1920x1080, 1280x800 and a portrait 1080x1920 screen every rule card and the number box are inside the viewport at
the four-fail verdict; a typed number is shown with its roster name and ends up in the record; the preview is a
stream of at least 15 distinct frames a second from a video while the judging takes 0.3 s a frame. With
STATION_SCREENSHOTS=DIR set each state is saved there (docs/ holds the README's copies).
"""
import dataclasses
import hashlib
import time
import urllib.request

import cv2
import numpy as np
from factories import FakeAttire, config, fake_models, make_frame, serving, shot, submit, wait_for

from checks.base import CheckResult, Status
from station.identify import Roster, Technician
from station.live import LiveStation, paced
from station.pipeline import Pipeline
from station.session import SessionTiming
from station.sources import SourceError
from station.store import Store
from web.app import create_app

FAILING = ("uniform", "badge", "footwear", "cuffs")
SCREENS = [(1920, 1080), (1280, 800), (1080, 1920)]
UNSURE_FRONT = ("看不准衣襟是否扣好：请双手放下，主管会核对",
                "Unclear: arms at your sides; a supervisor will check")


# pixels of the kiosk's FAILED colour (#f87171) on the canvas over the preview
RED_ON_OVERLAY = ("(() => { const c = document.getElementById('overlay'); const d = c.getContext('2d')"
                  ".getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 0; i < d.length; i += 4)"
                  " if (d[i] > 200 && d[i + 1] < 140 && d[i + 2] < 140 && d[i + 3] > 200) n++; return n; })()")


class ScriptedPipeline(Pipeline):
    """The pipeline on fake models, its rules' statuses then set: four rules fail, the others pass; `delay_s` makes
    each frame take as long as the real models would on a slow PC."""

    def __init__(self, cfg, fail=FAILING, delay_s=0.0):
        super().__init__(cfg, fake_models(attire=FakeAttire()))
        self.fail, self.delay_s = fail, delay_s

    def run(self, image):
        result = super().run(image)
        time.sleep(self.delay_s)
        results = {}
        for k, r in result.results.items():
            status = Status.FAIL if k in self.fail else Status.PASS
            results[k] = CheckResult(k, status, 0.9, f"{k} 原因", f"{k} reason",
                                     tuple(dataclasses.replace(e, status=status) for e in r.evidence))
        if "front_closed" in results and "front_closed" not in self.fail:  # the longest line a card shows
            results["front_closed"] = CheckResult("front_closed", Status.UNKNOWN, 0.0, *UNSURE_FRONT)
        return dataclasses.replace(result, results=results)


def frames():
    i = 0
    while True:
        yield make_frame(i % 7)
        i += 1


def kiosk_station(tmp_path, source, timing, pipeline=None):
    store = Store(tmp_path / "log.db", tmp_path / "evidence")
    store.migrate()
    cfg = config()
    live = LiveStation(cfg, store, source, pipeline or ScriptedPipeline(cfg), None, timing)
    roster = Roster([Technician("T1024", "王伟"), Technician("T2048", "李娜")])
    return live, store, create_app(store, live, roster=roster)


def inside(box, width, height) -> bool:
    return box is not None and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width + 0.5 \
        and box["y"] + box["height"] <= height + 0.5


def test_a_four_fail_verdict_fits_every_screen_and_the_typed_number_is_shown_and_recorded(browser, tmp_path):
    from playwright.sync_api import expect

    live, store, app = kiosk_station(tmp_path, lambda: paced(frames(), 20),
                                     SessionTiming(frames_needed=3, verdict_s=600, cooldown_s=1))
    live.start()
    try:
        with serving(app) as base:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.goto(base + "/")
            expect(page.locator("#number")).to_be_focused()  # a barcode scanner types straight into it
            expect(page.locator("#lang-zh")).to_have_attribute("aria-pressed", "true")
            page.fill("#number", "T9999")  # not on the roster: refused, and said so
            page.click("#number-ok")
            expect(page.locator("#notice")).to_contain_text("名单中没有这个工号", timeout=10_000)
            page.fill("#number", "")
            for key in "T":  # a letter from the keyboard, the digits from the on-screen keypad
                page.keyboard.type(key)
            for digit in "1024":
                page.click(f"#keypad button[data-key='{digit}']")
            assert page.input_value("#number") == "T1024"
            page.click("#number-ok")
            expect(page.locator("#who")).to_contain_text("T1024", timeout=10_000)
            expect(page.locator("#who")).to_contain_text("王伟")
            expect(page.locator("#verdict")).to_have_text("未通过", timeout=30_000)
            cards = page.locator("#cards li")
            assert cards.count() == 10  # every rule: eight checked, hair colour and beard "not checked"
            classes = [cards.nth(i).get_attribute("class") for i in range(10)]
            assert all("fail" in c for c in classes[:4]) and all("off" in c for c in classes[-2:])
            assert "请放下袖口和裤腿" in page.inner_text("#cards")  # the fix, not the machine's reason
            assert "0.9" not in page.inner_text("#kiosk")  # no scores, no probabilities
            assert page.inner_text("#who").startswith("工号 T1024")
            # the failed rules' evidence is drawn in red over the preview: a FAIL points at what to fix
            expect(page.locator("#overlay")).to_be_visible()
            page.wait_for_function(RED_ON_OVERLAY + " > 50", timeout=10_000)
            for width, height in SCREENS:
                page.set_viewport_size({"width": width, "height": height})
                page.wait_for_timeout(400)
                for i in range(cards.count()):
                    assert inside(cards.nth(i).bounding_box(), width, height), (width, height, i)
                assert inside(page.locator("#number").bounding_box(), width, height), (width, height)
                assert inside(page.locator("#verdict").bounding_box(), width, height)
                shot(page, f"kiosk-verdict-{width}x{height}.png")
            # every card's icon is drawn from the sprite inside the page (no request that a stream could starve)
            icons = page.locator("#cards svg.icon")
            assert icons.count() == cards.count() and all(icons.nth(i).bounding_box()["width"] > 10
                                                          for i in range(icons.count()))
            assert page.evaluate("[...document.querySelectorAll('#cards use')].every("
                                 "u => document.getElementById(u.getAttribute('href').slice(1)) !== null)")
            page.set_viewport_size({"width": 1280, "height": 800})
            page.click("#lang-en")  # every line changes, and the choice is remembered
            expect(page.locator("#verdict")).to_have_text("FAIL")
            assert "Roll your sleeves and trouser legs down" in page.inner_text("#cards")
            # no card cuts its line short: the instruction at its end is what the technician must read
            cut = page.evaluate("[...document.querySelectorAll('#cards .line')]"
                                ".filter(e => e.scrollHeight > e.clientHeight + 1).map(e => e.textContent)")
            assert cut == [], cut
            assert "请" not in page.inner_text("#kiosk") and page.inner_text("#who").startswith("Number T1024")
            expect(page.locator("#lang-en")).to_have_attribute("aria-pressed", "true")
            assert page.get_attribute("#result", "aria-live") == "assertive"
            shot(page, "kiosk-verdict-en.png")
            page.reload()
            expect(page.locator("#verdict")).to_have_text("FAIL", timeout=10_000)
            context.close()
    finally:
        live.stop()
    records = store.find()
    assert len(records) == 1 and records[0].technician == "T1024" and records[0].verdict == "fail"
    assert {x.check for x in records[0].results if x.status == "fail"} == set(FAILING)


def test_guidance_before_the_verdict_and_no_verdict_in_sight(browser, tmp_path):
    """Until the verdict the screen shows only the guidance and the regions drawn over the live preview."""
    from playwright.sync_api import expect

    live, store, app = kiosk_station(tmp_path, lambda: paced(frames(), 20),
                                     SessionTiming(frames_needed=10**6, verdict_s=5, cooldown_s=1))
    live.start()
    try:
        with serving(app) as base:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(base + "/")
            expect(page.locator("#kiosk")).to_have_attribute("data-phase", "collecting", timeout=20_000)
            expect(page.locator("#message")).to_have_text("请保持不动")
            seen = []
            assert wait_for(lambda: seen.append(live.state()["overlay"]) or seen[-1] is not None)
            assert seen[-1]["items"] and not any("status" in item for item in seen[-1]["items"])  # no verdict yet
            text = page.inner_text("#kiosk")
            assert "未通过" not in text and "FAIL" not in text.upper() and page.inner_text("#verdict") == ""
            page.fill("#number", "T2048")
            page.press("#number", "Enter")  # what a barcode scanner sends after the number
            expect(page.locator("#who")).to_contain_text("李娜", timeout=10_000)
            page.wait_for_timeout(500)
            shot(page, "kiosk-guidance.png")
            page.close()
    finally:
        live.stop()


def test_the_camera_lost_fills_the_screen_and_no_stale_frame_stays(browser, tmp_path):
    from playwright.sync_api import expect

    opened = []

    def flaky():  # five frames, then the camera is gone for good (every reopen fails)
        opened.append(1)
        if len(opened) == 1:
            yield from (make_frame(i) for i in range(5))
        raise SourceError("/dev/video0 stopped sending frames")

    live, store, app = kiosk_station(tmp_path, lambda: paced(flaky(), 20), SessionTiming())
    live.start()
    try:
        with serving(app) as base:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(base + "/")
            expect(page.locator("#camera-lost")).to_be_visible(timeout=20_000)
            assert "摄像头已断开" in page.inner_text("#camera-lost") and "/dev" not in page.inner_text("#kiosk")
            assert page.get_attribute("#preview", "src") is None  # the last frame is gone from the screen
            assert live.preview_jpeg() is None or not live.state()["camera_ok"]
            shot(page, "kiosk-camera-lost.png")
            page.close()
    finally:
        live.stop()


def test_the_preview_streams_at_least_15_distinct_frames_a_second_from_a_video(tmp_path):
    """A 30 fps video through the real capture thread while each judged frame takes 0.3 s: the MJPEG stream still
    carries every frame, and the judged frame's regions come as JSON beside it."""
    video = tmp_path / "walk.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 360))
    for i in range(300):
        frame = cv2.resize(make_frame(i % 7), (640, 360))
        cv2.putText(frame, f"{i:04d}", (20, 200), cv2.FONT_HERSHEY_SIMPLEX, 4, (255, 255, 255), 8)
        writer.write(frame)
    writer.release()
    cfg = config()
    live, store, app = kiosk_station(tmp_path, str(video), SessionTiming(frames_needed=10**6),
                                     ScriptedPipeline(cfg, delay_s=0.3))
    live.start()
    try:
        with serving(app) as base:
            with urllib.request.urlopen(base + "/kiosk/stream.mjpg", timeout=10) as r:
                assert r.headers["Content-Type"].startswith("multipart/x-mixed-replace")
                buffer, seen, start = b"", [], None
                while True:
                    buffer += r.read1(65536)
                    while (end := buffer.find(b"\xff\xd9")) >= 0:
                        begin = buffer.find(b"\xff\xd8")
                        jpg, buffer = buffer[begin:end + 2], buffer[end + 2:]
                        start = start or time.monotonic()
                        seen.append(hashlib.sha1(jpg).hexdigest())
                    if start and time.monotonic() - start >= 3.0:
                        break
                elapsed = time.monotonic() - start
            judged = live.state()["frames_judged"]
            assert live.state()["overlay"] is not None and live.state()["overlay"]["width"] == 640
    finally:
        live.stop()
    distinct = len(set(seen))
    print(f"preview: {distinct} distinct frames in {elapsed:.2f} s = {distinct / elapsed:.1f}/s; judged {judged}")
    assert distinct / elapsed >= 15
    assert judged < 0.5 * distinct  # the stream does not wait for the judging
    decoded = cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape[:2] == (360, 640)


def test_review_in_the_station_zone_with_names_pages_and_the_final_verdict(browser, tmp_path):
    """A supervisor's review in Chromium, the station in Asia/Shanghai (UTC+8): times and days in that zone, roster
    names, the final verdict after an override with the machine's beside it, pages, a name found by part of it, and
    the daily summary on a phone's width."""
    from datetime import datetime, timedelta, timezone
    from zoneinfo import ZoneInfo

    from factories import T0, verdict
    from playwright.sync_api import expect

    store = Store(tmp_path / "log.db", tmp_path / "evidence")
    store.migrate()
    store.add_user("wang", "correct horse")
    photo = cv2.resize(make_frame(3), (320, 180))
    for i in range(105):  # two pages
        store.add(verdict("pass", uniform="pass", badge="pass", footwear="pass"), technician="T2048",
                  evidence=photo, when=T0 - timedelta(days=1, minutes=i))
    late = datetime(2026, 11, 20, 17, 30, tzinfo=timezone.utc)  # 01:30 on the 21st in Shanghai
    rid = store.add(verdict("fail", uniform="pass", badge="fail", footwear="fail"), technician="T1024",
                    evidence=photo, when=late)
    roster = Roster([Technician("T1024", "王伟"), Technician("T2048", "李娜")])
    app = create_app(store, roster=roster, tz=ZoneInfo("Asia/Shanghai"))
    with serving(app) as base:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(base + "/login")
        page.fill("input[name=username]", "wang")
        page.fill("input[name=password]", "correct horse")
        submit(page, "#login")
        page.wait_for_url(base + "/review")
        first = page.locator("#records tbody tr").first
        assert "2026-11-21 01:30" in first.inner_text() and "王伟" in first.inner_text()
        assert "Asia/Shanghai" in page.inner_text(".count") and "106" in page.inner_text(".count")
        assert page.locator("#records tbody tr").count() == 100 and "1 / 2" in page.inner_text(".pages")
        page.wait_for_function("() => { const i = document.querySelector('#records tbody tr img');"
                               " return i && i.complete && i.naturalWidth > 0; }", timeout=10_000)
        shot(page, "review.png")
        submit(page, "#older")
        assert page.locator("#records tbody tr").count() == 6
        page.goto(base + "/review")
        page.fill("input[name=technician]", "王")  # part of a roster name
        submit(page, "#filter")
        assert page.locator("#records tbody tr").count() == 1
        page.fill("input[name=technician]", "t10")  # part of a number, any case
        submit(page, "#filter")
        assert page.locator("#records tbody tr").count() == 1
        submit(page, "#records tbody tr:first-child td:nth-child(2) a")
        assert "2026-11-21 01:30:00" in page.inner_text("main") and "王伟" in page.inner_text("main")
        page.select_option("form.override select[name=verdict]", "pass")
        page.fill("form.override input[name=reason]", "复核：现场确认 / checked in person")
        submit(page, "#override")
        expect(page.locator("#final")).to_contain_text("通过")
        assert "未通过" not in page.inner_text("#final") and "未通过" in page.inner_text("#machine")
        shot(page, "record.png")
        page.goto(base + "/review")
        row = page.locator("#records tbody tr").first
        assert "通过" in row.locator(".status").inner_text() and "未通过" in row.locator(".machine").inner_text()
        assert "pass" in row.get_attribute("class")
        page.goto(base + "/review/summary?from=2026-11-19&to=2026-11-21")
        days = page.inner_text("#days")
        assert "2026-11-21\t1\t100%" in days and "2026-11-19\t105\t100%" in days  # the late one on its local day
        assert "王伟" in page.inner_text("#people") and "李娜" in page.inner_text("#people")
        shot(page, "summary.png")
        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        chart = page.locator("#chart svg").bounding_box()
        assert chart["x"] >= 0 and chart["x"] + chart["width"] <= 390
        assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
        shot(page, "summary-phone.png")
        context.close()
    r = store.get(rid)
    assert r.final_verdict == "pass" and r.verdict == "fail"


def test_calibration_shows_the_live_framing_aid_the_policy_keys_and_reference_thumbnails(browser, tmp_path):
    from playwright.sync_api import expect

    live, store, _ = kiosk_station(tmp_path, lambda: paced(frames(), 20), SessionTiming(frames_needed=10**6))
    store.add_user("boss", "admin password", "admin")
    (tmp_path / "station.toml").write_text("[accessories]\nmax_pieces = 3\n")
    refs = tmp_path / "calibration" / "references"
    refs.mkdir(parents=True)
    cv2.imwrite(str(refs / "ref-1.jpg"), make_frame(2))
    app = create_app(store, live, config_path=tmp_path / "station.toml")
    live.start()
    try:
        with serving(app) as base:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(base + "/login")
            page.fill("input[name=username]", "boss")
            page.fill("input[name=password]", "admin password")
            submit(page, "#login")
            page.goto(base + "/calibrate")
            expect(page.locator("#framing")).to_contain_text("Hold still", timeout=10_000)  # polled from the gate
            # the thumbnail has loaded (waited for: it is fetched after the page, beside the live stream)
            page.wait_for_function("() => { const i = document.querySelector('#references img');"
                                   " return i && i.complete && i.naturalWidth > 0; }", timeout=10_000)
            reference = page.inner_text("#policy-reference")
            assert "timezone" in reference and "min_judged_frames" in reference
            page.fill("#policy", '[detector]\nmodel = "models/missing.json"\n')
            submit(page, "#save-policy")
            error = page.inner_text("#policy-error")
            assert "'detector.model'" in error and str(tmp_path) not in error  # no internal paths
            assert "策略有误" in page.inner_text("main")
            shot(page, "calibrate.png")
            page.close()
    finally:
        live.stop()
