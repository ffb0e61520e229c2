"""The web app through Flask's test client on a real SQLite log: login, CSRF, the kiosk kept out, review, override,
CSV and the JSON API. (Browser tests in Chromium come with the live station.)"""
import numpy as np
import pytest
from factories import T0, csrf, login, serving, verdict

from web.app import create_app


def test_the_kiosk_offers_the_roster(store):
    from station.identify import Roster, Technician

    roster = Roster([Technician("T1024", "王师傅")])
    page = create_app(store, testing=True, roster=roster).test_client().get("/").get_data(as_text=True)
    assert '<option value="T1024">王师傅</option>' in page


def test_the_kiosk_reaches_only_the_kiosk(client):
    assert client.get("/").status_code == 200
    assert client.get("/kiosk/state").get_json()["phase"] == "offline"
    for path in ("/review", "/review/1", "/review/export.csv", "/evidence/2.jpg"):
        r = client.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"], path
    assert client.get("/api/records").status_code == 401


def test_login_needs_the_password_and_a_csrf_token(client):
    assert client.post("/login", data={"username": "wang", "password": "correct horse"}).status_code == 400
    assert login(client, password="wrong").status_code == 401
    r = login(client)
    assert r.status_code == 302 and r.headers["Location"].endswith("/review")
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_failed_logins_are_limited(client):
    for _ in range(5):
        assert login(client, password="wrong").status_code == 401
    assert login(client).status_code == 429  # even the right password, until the window passes


def test_review_filters_record_override_and_export(client, store):
    login(client)
    page = client.get("/review").get_data(as_text=True)
    assert "T1" in page and "T2" in page
    assert "T1" not in client.get("/review?verdict=fail").get_data(as_text=True).split("<tbody>")[1]
    assert "T2" in client.get("/review?check=footwear").get_data(as_text=True)
    assert client.get("/review?from=yesterday").status_code == 400
    rid = store.find()[0].id if store.find()[0].technician == "T2" else store.find()[1].id
    with client.get(f"/evidence/{rid}.jpg") as photo:
        assert photo.headers["Content-Type"] == "image/jpeg"
    # the record shows the evidence photo, and a click opens it at full size to look closely
    assert f'<a href="/evidence/{rid}.jpg" target="_blank"' in client.get(f"/review/{rid}").get_data(as_text=True)
    token = csrf(client, f"/review/{rid}")
    assert client.post(f"/review/{rid}", data={"verdict": "pass", "reason": " ", "csrf_token": token}).status_code == 400
    assert client.post(f"/review/{rid}", data={"verdict": "pass", "reason": "sandals were work boots",
                                               "csrf_token": token}).status_code == 302
    r = store.get(rid)
    assert r.verdict == "fail" and r.final_verdict == "pass" and r.overrides[0].user == "wang"
    assert client.post(f"/review/{rid}", data={"verdict": "pass", "reason": "x"}).status_code == 400  # no token
    csv_text = client.get("/review/export.csv").get_data(as_text=True)
    assert csv_text.startswith("\ufeffid,time,zone,station,technician,name") and "sandals were work boots" in csv_text
    api = client.get(f"/api/records/{rid}").get_json()
    assert api["verdict"] == "fail" and api["final_verdict"] == "pass" and api["checks"]["footwear"]["status"] == "fail"
    assert client.get("/api/records/999").status_code == 404
    assert client.get("/api/records?verdict=maybe").status_code == 400
    assert client.get("/review/999").status_code == 404


def test_a_missing_photo_shows_in_the_log_and_on_calibrate(admin_client, store, tmp_path):
    store.evidence_dir = tmp_path / "station.toml"  # a file, not a folder: the photo cannot be written
    rid = store.add(verdict("fail", badge="fail"), technician="T9", evidence=np.zeros((40, 30, 3), np.uint8))
    assert "evidence missing" in admin_client.get("/review").get_data(as_text=True)
    page = admin_client.get(f"/review/{rid}").get_data(as_text=True)
    assert 'id="evidence-missing"' in page and "evidence photo not saved" in page
    assert admin_client.get(f"/api/records/{rid}").get_json()["evidence_error"].startswith("evidence photo not saved")
    page = admin_client.get("/calibrate").get_data(as_text=True)
    assert 'id="problems"' in page and "evidence photo not saved" in page and str(tmp_path) in page


def test_daily_summary_counts_and_charts(client, store):
    from datetime import timedelta

    from web.review import daily_summary

    store.add(verdict("fail", badge="fail", footwear="pass"), when=T0 + timedelta(days=1))
    first = (T0 - timedelta(days=1)).date()
    s = daily_summary(store, first, first + timedelta(days=2))
    day1, day2 = s["days"][1], s["days"][2]
    assert (day1["records"], day1["pass_rate"], day1["rules"]["footwear"]) == (2, 0.5, 0.5)
    assert (day2["records"], day2["rules"]["badge"]) == (1, 0.0)
    assert set(s["top_failed"]) == {("badge", 1), ("footwear", 1)}
    store.add(verdict("pass", badge="pass", footwear="pass"))  # today, whenever the test runs
    login(client)
    page = client.get("/review/summary?days=400")
    assert page.status_code == 400
    page = client.get("/review/summary?days=7").get_data(as_text=True)
    assert "<svg" in page and "每日汇总" in page and "总通过率" in page
    one_day = client.get(f"/review/summary?from={T0.date()}&to={T0.date()}").get_data(as_text=True)
    assert "<circle" in one_day and 'id="people"' in one_day  # one day is a dot, not a blank chart
    assert 'id="people"' in one_day and "T2" in one_day.split('id="people"')[1]
    assert client.get("/review/summary?from=2026-11-20&to=2026-11-01").status_code == 400


def test_calibration_is_for_admins_only(client):
    login(client)  # wang is a supervisor
    assert client.get("/calibrate").status_code == 403


def test_policy_edit_is_validated_before_it_is_saved(admin_client, tmp_path):
    token = csrf(admin_client, "/calibrate")
    r = admin_client.post("/calibrate/policy", data={"policy": "[accessories]\nmax_piece = 2\n", "csrf_token": token})
    assert r.status_code == 400 and "max_piece" in r.get_data(as_text=True)
    assert "max_pieces = 3" in (tmp_path / "station.toml").read_text()  # untouched
    r = admin_client.post("/calibrate/policy", data={"policy": "[accessories]\nmax_pieces = 2\n", "csrf_token": token})
    assert r.status_code == 303 and "max_pieces = 2" in (tmp_path / "station.toml").read_text()
    assert not list(tmp_path.glob(".*candidate"))


def test_reference_uploads_are_checked(admin_client, tmp_path):
    import io

    from PIL import Image

    token = csrf(admin_client, "/calibrate")
    bad = {"photo": (io.BytesIO(b"not a photo"), "x.jpg"), "csrf_token": token}
    admin_client.post("/calibrate/reference", data=bad, content_type="multipart/form-data")
    refs = tmp_path / "calibration" / "references"
    assert not refs.exists() or not list(refs.glob("*.jpg"))
    png = io.BytesIO()
    Image.fromarray(np.full((200, 120, 3), 90, np.uint8)).save(png, format="PNG")
    good = {"photo": (io.BytesIO(png.getvalue()), "ref.png"), "csrf_token": token}
    assert admin_client.post("/calibrate/reference", data=good, content_type="multipart/form-data").status_code == 303
    assert len(list(refs.glob("*.jpg"))) == 1
    big = {"photo": (io.BytesIO(b"\xff" * (3 * 1024 * 1024)), "huge.jpg"), "csrf_token": token}
    assert admin_client.post("/calibrate/reference", data=big, content_type="multipart/form-data").status_code == 413


def test_waitress_refuses_a_large_body_before_reading_it(store):
    """The app's 2 MB limit applies only once waitress has buffered the body: waitress must refuse first."""
    import socket

    with serving(create_app(store)) as base:
        with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=10) as sock:
            sock.sendall(b"POST /calibrate/reference HTTP/1.1\r\nHost: station\r\nContent-Length: 300000000\r\n"
                         b"Content-Type: multipart/form-data; boundary=x\r\n\r\n")  # and never the 300 MB
            assert sock.recv(100).startswith(b"HTTP/1.1 413")


def test_supervisors_pages_back_to_back_hold_the_slot_at_most_half_the_time():
    import time

    from web.common import PacedSlot

    slot = PacedSlot(share=0.5)
    with slot:
        time.sleep(0.2)  # a page that took 0.2 s
    t0 = time.monotonic()
    with slot:  # the next, queued behind it, starts only after as long again
        waited = time.monotonic() - t0
        time.sleep(0.2)
    time.sleep(0.3)  # a supervisor who clicks after the pause has passed does not wait
    t0 = time.monotonic()
    with slot:
        assert time.monotonic() - t0 < 0.1
    assert 0.18 <= waited < 0.4
    with pytest.raises(ValueError, match="share"):
        PacedSlot(share=0)
