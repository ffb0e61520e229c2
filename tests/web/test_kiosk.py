"""The kiosk's identity: a typed number keeps working across restarts and after its CSRF token expires."""
import re
import stat

from factories import FakeLive

from web.app import create_app, station_secret


def kiosk_token(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)


def test_the_secret_key_is_made_once_and_only_the_station_reads_it(tmp_path):
    path = tmp_path / "var" / "secret_key"
    key = station_secret(path)
    assert len(key) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert station_secret(path) == key  # the next start signs with the same key


def test_a_kiosk_page_served_before_a_restart_still_identifies(store, tmp_path):
    key = station_secret(tmp_path / "secret_key")
    before, after = FakeLive(), FakeLive()
    kiosk = create_app(store, before, key).test_client()
    token, cookie = kiosk_token(kiosk), kiosk.get_cookie("session")
    restarted = create_app(store, after, station_secret(tmp_path / "secret_key")).test_client()
    restarted.set_cookie("session", cookie.value)
    assert restarted.post("/kiosk/identify", data={"number": "T1024", "csrf_token": token}).status_code == 200
    assert after.identified == ["T1024"]


def test_an_expired_token_is_refused_as_json_and_a_fresh_one_works(store):
    live = FakeLive()
    app = create_app(store, live)
    app.config["WTF_CSRF_TIME_LIMIT"] = -1  # every token already an hour old
    kiosk = app.test_client()
    r = kiosk.post("/kiosk/identify", data={"number": "T1024", "csrf_token": kiosk_token(kiosk)})
    assert r.status_code == 400 and r.is_json and "expired" in r.get_json()["error"]  # the page can tell
    app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    fresh = kiosk.get("/kiosk/token")
    assert fresh.headers["Cache-Control"] == "no-store"
    r = kiosk.post("/kiosk/identify", data={"number": "T1024", "csrf_token": fresh.get_json()["csrf_token"]})
    assert r.status_code == 200 and live.identified == ["T1024"]


def test_a_number_with_control_characters_is_refused(store):
    live = FakeLive()
    kiosk = create_app(store, live).test_client()
    r = kiosk.post("/kiosk/identify", data={"number": "T1\x00024", "csrf_token": kiosk_token(kiosk)})
    assert r.status_code == 400 and not live.identified
