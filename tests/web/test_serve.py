"""`station serve` end to end: the real models on the demo source behind waitress, reached over HTTP."""
import http.cookiejar
import json
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

pytestmark = pytest.mark.slow


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_a_check_in_on_the_demo_source(tmp_path):
    """A new user's first run: the demo technician with a badge stands in front of the camera, a number is typed at
    the kiosk, and the station shows its verdict and logs it."""
    port = free_port()
    (tmp_path / "station.toml").write_text('[log]\ndatabase = "log.db"\nevidence_dir = "evidence"\n')
    proc = subprocess.Popen([sys.executable, "-m", "station.cli", "serve", "--source", "demo", "--port", str(port),
                             "--config", str(tmp_path / "station.toml")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    kiosk = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def state():
        return json.load(kiosk.open(f"{base}/kiosk/state", timeout=5))

    try:
        current, deadline = {}, time.monotonic() + 120
        while time.monotonic() < deadline and current.get("phase") != "collecting":
            try:
                current = state()
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.3)
        assert current.get("phase") == "collecting", proc.stdout.read1().decode() if proc.poll() else current
        assert current["frames_judged"] > 0 and current["technician"] is None  # nobody has said who they are
        token = json.load(kiosk.open(f"{base}/kiosk/token", timeout=5))["csrf_token"]
        form = urllib.parse.urlencode({"number": "T0001", "csrf_token": token}).encode()
        assert json.load(kiosk.open(f"{base}/kiosk/identify", data=form, timeout=5))["ok"] is True
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not current.get("verdict"):
            current = state()
            time.sleep(0.3)
        verdict = current["verdict"]
        assert verdict and verdict["technician"] == "T0001"
        # the first demo person wears the demo uniform and a badge; should the demo have moved on to the second
        # (sandals, no badge) in the meantime, that one fails on its feet
        assert verdict["overall"] == "pass" or verdict["checks"]["footwear"]["status"] == "fail", verdict
        assert kiosk.open(f"{base}/kiosk/preview.jpg", timeout=5).read()[:2] == b"\xff\xd8"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/api/records", timeout=5)
        assert refused.value.code == 401
        assert (tmp_path / "log.db").is_file()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_on_a_signal(tmp_path, stop):
    """SIGTERM (a service manager) and SIGINT (Ctrl-C) end the web server and the live threads and close the log:
    exit 0, the SQLite write-ahead log folded back, and the station's files readable by its user only."""
    port = free_port()
    (tmp_path / "station.toml").write_text('[log]\ndatabase = "log.db"\nevidence_dir = "evidence"\n')
    proc = subprocess.Popen([sys.executable, "-m", "station.cli", "serve", "--source", "demo", "--port", str(port),
                             "--config", str(tmp_path / "station.toml")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        state, deadline = {}, time.monotonic() + 120
        while time.monotonic() < deadline and state.get("frames_judged", 0) == 0:
            try:
                state = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/kiosk/state", timeout=5))
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.5)
        assert state.get("frames_judged", 0) > 0
        proc.send_signal(stop)
        code = proc.wait(timeout=30)
    finally:
        proc.kill()
    output = proc.stdout.read().decode()
    assert code == 0 and "station: stopped" in output and "Traceback" not in output, output[-2000:]
    assert (tmp_path / "log.db").is_file() and not (tmp_path / "log.db-wal").exists()
    for path in (tmp_path / "log.db", tmp_path / "var" / "secret_key"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
