"""The station learning its own site, end to end on real photos and real models, with `station serve` running
throughout: check-ins of open and closed shoes in the log, per-rule corrections made through the review pages,
`station learn export`, a short CPU fine-tune, `station models evaluate`, an install the gate refuses, one it takes,
and a rollback, each picked up by the running station without a restart."""
import csv
import http.cookiejar
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from pathlib import Path

import cv2
import pytest
from factories import T0

pytestmark = pytest.mark.slow
pytest.importorskip("torch")  # `station train site` needs the train extra (`make test` installs it)


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def station_cli(*args, config, check=True):
    done = subprocess.run([sys.executable, "-m", "station.cli", *map(str, args), "--config", str(config)],
                          capture_output=True, text=True, timeout=900)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def seed_log(config_file: Path, photos: list[tuple[Path, str]]) -> dict[int, tuple[str, str]]:
    """Check-ins judged by the real pipeline, stored as the live station stores them (evidence photo, raw frame,
    models' version), spread over technicians and days. Returns record id -> (truth, machine's footwear status)."""
    from station.config import load_config
    from station.evidence import draw_evidence
    from station.pipeline import Pipeline
    from station.store import Store

    config = load_config(config_file)
    store, pipeline = Store.from_config(config), Pipeline(config)
    store.add_user("wang", "correct horse")
    store.add_user("boss", "admin password", "admin")
    seeded = {}
    for i, (photo, truth) in enumerate(photos):
        result = pipeline.run(cv2.imread(str(photo)))
        verdict = result.to_dict()
        rid = store.add(verdict, technician=f"T{i % 6}", evidence=draw_evidence(result),
                        frame=result.perception.image, models_version=pipeline.models.version,
                        when=T0 + timedelta(days=i % 4, minutes=i))
        seeded[rid] = (truth, verdict["checks"]["footwear"]["status"])
    store.close()
    return seeded


class Browser:
    """A supervisor's session over HTTP: cookies, and the CSRF token each form carries."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> str:
        return self.opener.open(self.base + path, timeout=30).read().decode()

    def post(self, path: str, form_page: str, **fields) -> str:
        token = re.search(r'name="csrf_token" value="([^"]+)"', self.get(form_page)).group(1)
        data = urllib.parse.urlencode({**fields, "csrf_token": token}, doseq=True).encode()
        return self.opener.open(self.base + path, data=data, timeout=30).read().decode()


def running_version(admin: Browser) -> str:
    return re.search(r'data-running="([^"]*)"', admin.get("/admin/models")).group(1)


def wait_for_version(admin: Browser, version: str, seconds: float = 90) -> str:
    deadline, seen = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        seen = running_version(admin)
        if seen == version:
            return seen
        time.sleep(1)
    return seen


def test_reviewed_check_ins_train_a_candidate_that_the_gate_judges_and_the_running_station_switches_to(
        tmp_path, shared_eval):
    from station.model_versions import SHIPPED, Bundle, pack_bundle

    labels = list(csv.DictReader(open(shared_eval / "ccp-public" / "labels.csv")))
    open_shoes = [r for r in labels if r["footwear"] == "fail"][:16]
    closed_shoes = [r for r in labels if r["footwear"] == "pass"][:16]
    config = tmp_path / "station.toml"
    # one frame a second from the demo camera: the station judges all along without taking the training's cores
    config.write_text('[camera]\nfps = 1\n[log]\ndatabase = "log.db"\nevidence_dir = "evidence"\n'
                      '[learn]\nmodels_dir = "models"\n')
    seeded = seed_log(config, [(shared_eval / "ccp-public" / r["image"], r["footwear"])
                               for r in open_shoes + closed_shoes])
    wrong = [rid for rid, (truth, machine) in seeded.items() if truth != machine]
    assert wrong, "the shipped models judge every one of these right: nothing to learn from"

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "station.cli", "serve", "--source", "demo", "--port", str(port),
                             "--config", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    supervisor, admin = Browser(base), Browser(base)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                supervisor.get("/login")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read1().decode()
                time.sleep(0.5)
        supervisor.post("/login", "/login", username="wang", password="correct horse")
        admin.post("/login", "/login", username="boss", password="admin password")
        assert running_version(admin) == SHIPPED

        # 1. the supervisor goes through the queue and reviews the footwear of each check-in
        queue = supervisor.get("/review/queue")
        assert all(f'href="/review/{rid}#rule-reviews"' in queue for rid in wrong if seeded[rid][1] == "fail")
        for rid, (truth, machine) in seeded.items():
            answer = "correct" if truth == machine else truth
            reason = "" if answer == "correct" else "看照片：实际是凉鞋" if truth == "fail" else "看照片：是包头鞋"
            supervisor.post(f"/review/{rid}/rules/footwear", f"/review/{rid}", truth=answer, reason=reason)
        page = supervisor.get(f"/review/{wrong[0]}")
        assert "已纠正" in page and "看照片" in page  # the correction beside the machine's result

        # 2. the reviewed check-ins become a site dataset
        export = tmp_path / "export"
        out = station_cli("learn", "export", export, config=config).stdout
        manifest = json.loads((export / "manifest.json").read_text())
        assert manifest["records"]["used"] == len(seeded) and manifest["rules"]["footwear"]["corrected"] == len(wrong)
        tiles = manifest["tiles"]["footwear"]
        assert tiles["train"]["open"] > 0 and tiles["train"]["closed"] > 0 and sum(tiles["val"].values()) > 0, out
        train_groups, val_groups = set(manifest["groups"]["train"]), set(manifest["groups"]["val"])
        assert val_groups and not train_groups & val_groups  # no technician's day on both sides

        # 3. a short fine-tune on CPU, mixed with public tiles, into one bundle
        candidate = tmp_path / "candidate.zip"
        out = station_cli("train", "site", export, "--out", candidate, "--epochs", 1, "--public-photos", 40,
                          "--work", tmp_path / "work", config=config).stdout
        bundle = Bundle.open(candidate)
        assert bundle.models == ["footwear"] and "site held-out tiles" in out

        # 4. scored beside the installed models on the held-out reviewed check-ins, per rule
        out = station_cli("models", "evaluate", candidate, "--site", export, "--json", tmp_path / "eval.json",
                          config=config).stdout
        report = json.loads((tmp_path / "eval.json").read_text())
        held_out = report["candidate"]["scores"]["site held-out"]["footwear"]
        assert held_out["n"] == manifest["records"]["val"] and "accuracy" in held_out and "fail_recall" in held_out
        assert "footwear" in out and "site held-out" in out

        # 5. a deliberately worse candidate (open and closed swapped) is refused and changes nothing
        worse_dir = tmp_path / "worse"
        manifests = bundle.extract(worse_dir)
        m = json.loads(manifests["footwear"].read_text())
        m["classes"] = ["open", "closed", "unseen"]
        manifests["footwear"].write_text(json.dumps(m))
        worse = pack_bundle(tmp_path / "worse.zip", manifests, "swapped-open-closed")
        refused = station_cli("models", "install", worse, "--site", export, config=config, check=False)
        assert refused.returncode == 1 and "refused" in refused.stdout, refused.stdout + refused.stderr
        assert "site held-out: footwear" in refused.stdout
        assert station_cli("models", "list", config=config).stdout.startswith("* shipped")

        # 6. the fine-tuned candidate is no worse on any rule: installed, and the running station switches to it
        if report["refused"]:
            pytest.fail(f"the fine-tuned candidate was refused: {report['refused']}")
        out = station_cli("models", "install", candidate, "--site", export, config=config).stdout
        version = re.search(r"installed (\S+);", out).group(1)
        assert wait_for_version(admin, version) == version
        assert "candidate-" in admin.get("/admin/models")  # the evaluated candidates are listed with their scores

        # 7. rollback: back to the shipped models, again without a restart
        station_cli("models", "rollback", config=config)
        assert wait_for_version(admin, SHIPPED) == SHIPPED
        assert proc.poll() is None  # one `station serve` all along
    finally:
        proc.terminate()
        proc.wait(timeout=30)
