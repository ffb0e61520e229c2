"""The review pages and the JSON API under input a supervisor's browser (or anyone) may send."""
import csv
import io

import pytest
from factories import csrf, login, verdict


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
