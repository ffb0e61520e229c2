"""`station serve` end to end: the real models on the demo source behind waitress, reached over HTTP."""
import json
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.slow


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_the_station_on_the_demo_source(tmp_path):
    port = free_port()
    (tmp_path / "station.toml").write_text('[log]\ndatabase = "log.db"\nevidence_dir = "evidence"\n')
    proc = subprocess.Popen([sys.executable, "-m", "station.cli", "serve", "--source", "demo", "--port", str(port),
                             "--config", str(tmp_path / "station.toml")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        state, deadline = None, time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                state = json.load(urllib.request.urlopen(f"{base}/kiosk/state", timeout=5))
                if state.get("frames_judged", 0) > 0:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.5)
        assert state and state["frames_judged"] > 0, proc.stdout.read1().decode() if proc.poll() else state
        # the demo portraits are upper body: the station asks the person to step back
        assert state["phase"] == "framing" and "feet" in state["message_en"]
        assert urllib.request.urlopen(f"{base}/", timeout=5).status == 200
        assert urllib.request.urlopen(f"{base}/kiosk/preview.jpg", timeout=5).read()[:2] == b"\xff\xd8"
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
