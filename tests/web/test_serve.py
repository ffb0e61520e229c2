"""`station serve` end to end: the real models on the demo source behind waitress, reached over HTTP."""
import json
import socket
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
