"""The review pages and the JSON API under input a supervisor's browser (or anyone) may send."""
import csv
import io
import os
from datetime import timedelta

import pytest
from factories import T0, csrf, login, verdict


def test_csv_cells_never_start_a_formula(client, store):
    rid = store.add(verdict("fail", badge="fail"), technician="=cmd|' /C calc'!A0")  # typed at the kiosk
    store.override(rid, "wang", "pass", "+1 checked in person")
    store.add(verdict("fail", badge="fail"), technician="@SUM(A1)")
    login(client)
    rows = list(csv.reader(io.StringIO(client.get("/review/export.csv").get_data(as_text=True).lstrip("\ufeff"))))
    cells = [c for row in rows[1:] for c in row]
    assert "'=cmd|' /C calc'!A0" in cells and "'+1 checked in person" in cells and "'@SUM(A1)" in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]


@pytest.mark.parametrize("path, code", [
    ("/review?to=9999-12-31", 400), ("/review?from=0001-01-01", 400), ("/api/records?to=9999-12-31", 400),
    ("/review/9223372036854775808", 404), ("/review/2147483648", 404), ("/api/records/9223372036854775808", 404),
    ("/evidence/18446744073709551616.jpg", 404), ("/review?technician=" + "7" * 65, 400),
    ("/api/records?technician=T%00", 400), ("/api/no-such-thing", 404), ("/review/summary?days=99999999999", 400),
])
def test_out_of_range_input_is_refused_never_a_server_error(client, path, code):
    login(client)
    r = client.get(path)  # the test app re-raises any exception: a 500 would fail here
    assert r.status_code == code
    if path.startswith("/api/"):
        assert r.is_json and r.get_json()["error"]  # the API answers JSON, never an HTML page


def test_an_override_reason_has_a_length_limit(client, store):
    rid = store.find()[0].id
    login(client)
    token = csrf(client, f"/review/{rid}")
    r = client.post(f"/review/{rid}", data={"verdict": "pass", "reason": "x" * 501, "csrf_token": token})
    assert r.status_code == 400 and "500 characters" in r.get_data(as_text=True)
    assert client.post(f"/review/{rid}", data={"verdict": "pass", "reason": "x" * 500,
                                               "csrf_token": token}).status_code == 302
    assert [len(o.reason) for o in store.get(rid).overrides] == [500]


@pytest.mark.parametrize("path", ["/", "/login", "/kiosk/state", "/review", "/static/kiosk.js", "/nowhere"])
def test_every_response_forbids_framing_sniffing_and_foreign_scripts(client, path):
    headers = client.get(path).headers
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_the_log_is_paged(client, store):
    for i in range(248):
        store.add(verdict("pass", badge="pass"), technician=f"P{i:03d}", when=T0 + timedelta(minutes=i))
    login(client)  # 250 records with the fixture's two

    def rows(page):
        html = client.get(f"/review?page={page}&verdict=").get_data(as_text=True)
        return html.split("<tbody>")[1].count("<tr "), 'id="older"' in html, 'id="newer"' in html
    assert rows(1) == (100, True, False) and rows(2) == (100, True, True) and rows(3) == (50, False, True)
    assert client.get("/review?page=0").status_code == 400
    api = [r["technician"] for p in (1, 2, 3) for r in client.get(f"/api/records?page={p}").get_json()]
    assert len(api) == len(set(api)) == 250 and api[0] == "P247"


def test_the_csv_export_is_streamed(client, store):
    for i in range(1200):
        store.add(verdict("fail", badge="fail"), technician=f"T{i}", when=T0 + timedelta(seconds=i))
    login(client)
    r = client.get("/review/export.csv")
    assert r.is_streamed
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 1 + 1202 and rows[1][2] == "T1199" and len({row[0] for row in rows[1:]}) == 1202


def test_web_threads_run_below_the_judging_worker(client):
    """Every waitress thread that has served a request lowers its own CPU priority; the rest of the process (the
    judging worker) keeps its own."""
    import threading
    import urllib.request

    from factories import serving

    def nice(tid) -> int:
        with open(f"/proc/self/task/{tid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[16])

    def niced():
        return {int(t) for t in os.listdir("/proc/self/task") if nice(t) == 10}

    before = niced()  # an earlier test's server threads may linger
    with serving(client.application) as base:
        for _ in range(8):
            urllib.request.urlopen(base + "/kiosk/state", timeout=10).read()
        new = niced() - before
    assert 1 <= len(new) <= 6  # this server's threads, no more
    assert nice(threading.get_native_id()) == 0


@pytest.mark.slow
def test_review_load_does_not_starve_judging(store, tmp_path, shared_eval):
    """The real models judge a camera's frames while 20 supervisors' browsers load /review over and over, one
    exports the CSV and one asks for a year's summary, on 3,000 records (issue 10.10: judging fell from 3.1 to
    0.4 frames/s). Judging keeps at least half its rate."""
    import threading
    import time
    import urllib.request

    from factories import serving, wait_for

    from station.config import StationConfig
    from station.live import LiveStation
    from station.pipeline import Models, Pipeline
    from station.sources import open_source
    from web.app import create_app

    for i in range(3000):
        store.add(verdict("fail", uniform="pass", badge="fail", footwear="pass", cuffs="pass", accessories="pass"),
                  technician=f"T{i % 40}", when=T0 - timedelta(minutes=7 * i))
    camera = str(shared_eval / "ccp-public/images/ccp_0702.jpg")
    config = StationConfig()
    live = LiveStation(config, store, lambda: open_source(camera, repeat=10**9),
                       Pipeline(config, Models.load(tracking=True, config=config)))
    app = create_app(store, live)
    supervisor = app.test_client()
    login(supervisor)
    cookie = f"session={supervisor.get_cookie('session').value}"

    def judged_per_s(seconds=20.0):
        n0, t0 = live.frames_judged, time.monotonic()
        time.sleep(seconds)
        return (live.frames_judged - n0) / (time.monotonic() - t0)

    live.start()
    try:
        with serving(app) as base:
            assert wait_for(lambda: live.frames_judged >= 5, 120)
            alone = judged_per_s()
            stop, served = threading.Event(), []

            def browse(path):
                while not stop.is_set():
                    request = urllib.request.Request(base + path, headers={"Cookie": cookie})
                    with urllib.request.urlopen(request, timeout=120) as r:
                        r.read()
                        served.append(r.status)

            browsers = [threading.Thread(target=browse, args=(p,), daemon=True)
                        for p in ["/review"] * 20 + ["/review/export.csv", "/review/summary?days=366"]]
            for b in browsers:
                b.start()
            loaded = judged_per_s()
            stop.set()
            for b in browsers:
                b.join(120)
    finally:
        live.stop()
    assert served and set(served) == {200}
    assert loaded >= 0.5 * alone, f"judging fell from {alone:.2f} to {loaded:.2f} frames/s under review load"
