"""The live station with fake models and a synthetic camera: threads, session, log, reconnects, and a soak run."""
import resource

import time

import numpy as np
import pytest
from factories import FakeAttire, config, fake_models, make_frame, wait_for

from checks.registry import build_checks
from models.perception import Box
from station.live import LiveStation
from station.pipeline import Pipeline
from station.session import SessionTiming
from station.sources import SourceError
from station.store import Store

BADGE = Box(663, 197, 687, 233, 0.9, "badge")
SHOES = [Box(600, 650, 640, 700, 0.8, "shoe"), Box(650, 650, 690, 700, 0.8, "shoe")]


def frames(n=None):
    """Camera frames for fake models: colour (a grey frame would make the colour rules say unknown), each a little
    different."""
    i = 0
    while n is None or i < n:
        yield make_frame(i % 7)
        i += 1


def station(tmp_path, source, timing=SessionTiming(frames_needed=3, verdict_s=0.05, cooldown_s=0.05),
            badge_reader=None):
    store = Store(tmp_path / "log.db", tmp_path / "evidence")
    store.migrate()
    attire = FakeAttire([BADGE, *SHOES], {"feet": {"closed": 0.95, "open": 0.05}})
    pipeline = Pipeline(config(), fake_models(attire=attire))
    return LiveStation(config(), store, source, pipeline, badge_reader, timing), store


def test_a_typed_number_and_good_frames_end_in_a_stored_record(tmp_path):
    live, store = station(tmp_path, lambda: frames())
    live.start()
    try:
        assert wait_for(lambda: live.state()["frames_judged"] > 0)
        assert live.identify("T1024")
        assert wait_for(lambda: live.recorded)
    finally:
        live.stop()
    r = store.get(live.recorded[0])
    assert r.technician == "T1024" and r.frames == 3 and {x.check for x in r.results} >= {"badge", "footwear"}
    assert (tmp_path / "evidence" / r.evidence_path).is_file() and live.preview_jpeg()[:2] == b"\xff\xd8"
    assert not live.errors


def test_a_verdict_whose_photo_cannot_be_written_is_stored_and_reported(tmp_path):
    live, store = station(tmp_path, lambda: frames())
    (tmp_path / "evidence").write_text("")  # the evidence folder unusable (a file; a read-only folder stops no root)
    live.start()
    try:
        assert wait_for(lambda: live.state()["frames_judged"] > 0)
        assert live.identify("T1024")
        assert wait_for(lambda: live.recorded)
        state = live.state()
    finally:
        live.stop()
    r = store.get(live.recorded[0])
    assert r.technician == "T1024" and len(r.results) == len(build_checks(config())) and r.evidence_path is None
    assert "evidence photo not saved" in r.evidence_error and str(tmp_path) in r.evidence_error
    assert any(f"record {r.id} stored without its photo" in e for e in live.errors)  # for /calibrate
    assert state["alert_en"].startswith("Evidence photos are not being saved") and state["alert_zh"]
    assert str(tmp_path) not in state["alert_en"]  # the kiosk gets a plain message, the admins the path


def test_old_evidence_is_purged_when_the_station_starts(tmp_path):
    from datetime import datetime, timedelta, timezone

    live, store = station(tmp_path, lambda: frames())
    old = store.add({"overall": "pass", "checks": {}}, evidence=np.zeros((8, 8, 3), np.uint8),
                    when=datetime.now(timezone.utc) - timedelta(days=400))
    live.start()
    try:
        assert wait_for(lambda: store.get(old).evidence_purged_at is not None)
    finally:
        live.stop()


def test_an_unplugged_camera_is_reopened_and_said_so(tmp_path):
    opened = []

    def camera():
        opened.append(1)
        if len(opened) == 1:
            raise SourceError("camera 0 not found: check the cable")
        for frame in frames(5):  # at a camera's pace, then it stops sending
            time.sleep(0.1)
            yield frame
        raise SourceError("camera 0 stopped sending frames")

    live, _ = station(tmp_path, camera)
    live.start()
    try:
        assert wait_for(lambda: "reconnecting" in live.state()["camera_en"])
        assert wait_for(lambda: len(opened) >= 3)  # reopened after the failure and after the stop
        assert live.state()["frames_judged"] > 0
    finally:
        live.stop()


class EveryFrameBadge:
    """A badge reader that sees a new technician's QR code whenever none is checking in."""

    kind = "qr"

    def __init__(self):
        self.n = 0

    def read(self, frame):
        self.n += 1
        return f"T{self.n // 10}"


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


@pytest.mark.slow
def test_soak_real_models_3000_frames(tmp_path, shared_eval):
    """The real pipeline (MediaPipe, onnxruntime) behind the live station's threads on one full-body photo for
    3,000 frames: resident memory stays flat after warm-up and every verdict becomes a record."""
    verdicts = []
    photo = str(shared_eval / "ccp-public/images/ccp_0702.jpg")
    store = Store(tmp_path / "log.db", tmp_path / "evidence")
    store.migrate()
    from station.sources import open_source

    from station.pipeline import Models

    pipeline = Pipeline(config(), Models.load(tracking=True))  # the camera's mode: pose follows the person
    live = LiveStation(config(), store, lambda: open_source(photo, repeat=10**9), pipeline,
                       EveryFrameBadge(), SessionTiming(frames_needed=3, verdict_s=0.0, cooldown_s=0.0))
    record = live._record
    live.session.on_verdict = lambda v: (verdicts.append(v), record(v))
    live.start()
    try:
        assert wait_for(lambda: live.frames_judged >= 300, 300)
        warm = rss_kib()
        assert wait_for(lambda: live.frames_judged >= 3000, 1500)
        grown = rss_kib() - warm
    finally:
        live.stop()
    assert len(verdicts) >= 300 and not live.errors, live.errors[:3]
    assert len(store.find(limit=100_000)) == len(verdicts) == len(live.recorded)
    assert grown < 50_000, f"resident memory grew by {grown} KiB over 2,700 frames"


@pytest.mark.slow
def test_soak_3000_frames_memory_flat_no_record_lost(tmp_path):
    verdicts = []
    timing = SessionTiming(frames_needed=3, verdict_s=0.0, cooldown_s=0.0)
    live, store = station(tmp_path, lambda: frames(), timing, EveryFrameBadge())
    record = live._record
    live.session.on_verdict = lambda v: (verdicts.append(v), record(v))
    live.start()
    try:
        assert wait_for(lambda: live.frames_judged >= 300, 120)
        rss_warm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert wait_for(lambda: live.frames_judged >= 3000, 600)
    finally:
        live.stop()
    rss_end = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert len(verdicts) >= 500 and not live.errors
    assert len(store.find(limit=100_000)) == len(verdicts) == len(live.recorded)  # every verdict is a record
    assert rss_end - rss_warm < 60_000  # KiB: peak memory grew by less than 60 MB over 2,700 frames


def test_the_kiosk_shows_no_file_path_and_the_admins_get_it(tmp_path):
    """An unenrolled uniform's reason and a camera error name files: the kiosk (no login) gets plain messages, the
    record and /calibrate's problem list keep the paths."""
    import json

    from station.config import StationConfig

    opened = []

    def camera():
        opened.append(1)
        if len(opened) == 1:
            raise SourceError(f"{tmp_path}/videos/entrance.mp4: cannot open as a video")
        yield from frames()

    live, store = station(tmp_path, camera, SessionTiming(frames_needed=3, verdict_s=30))
    config = StationConfig(base_dir=tmp_path)  # uniform not enrolled: its reason names tmp_path/calibration/...
    live.apply_policy(config)
    live.start()
    try:
        assert wait_for(lambda: "reconnecting" in live.state()["camera_en"])
        shown = [json.dumps(live.state(), ensure_ascii=False)]
        assert live.identify("T1024")
        assert wait_for(lambda: live.state()["verdict"] is not None)
        shown.append(json.dumps(live.state(), ensure_ascii=False))
    finally:
        live.stop()
    assert not [s for s in shown if str(tmp_path) in s], shown
    assert "uniform.json" in live.state()["verdict"]["checks"]["uniform"]["reason_en"]  # the file's name stays
    assert str(tmp_path) in store.get(live.recorded[0]).results[0].reason_en  # the log keeps the path
    assert any(f"{tmp_path}/videos/entrance.mp4" in e for e in live.errors)  # and so does /calibrate


def test_plain_cuts_absolute_paths_only():
    from station.live import plain

    assert plain("Uniform not enrolled (/srv/station/calibration/uniform.json not found)") == \
        "Uniform not enrolled (uniform.json not found)"
    for text in ("请扫描工号牌 / Scan your badge", "10 km/h", "P(open) 0.3/0.5", "~/x"):
        assert plain(text) == text


def test_the_evidence_photo_and_the_kiosk_marks_show_the_verdict_not_the_last_frame(tmp_path, monkeypatch):
    """The left foot fails in two frames of three and passes in the last: the session fails it. The stored photo is
    drawn with the verdict's results (before, the last frame's: a green foot on a FAIL record), and while the verdict
    shows, the kiosk gets that foot's box to draw over the preview, nothing of what passed, and nothing once the
    person has left."""
    import dataclasses

    import station.live
    from checks.base import CheckResult, Evidence, Status

    foot = Box(600, 650, 640, 700, 0.9, "foot")

    class LastFramePasses(Pipeline):
        frame_no = 0

        def run(self, image):
            result = super().run(image)
            self.frame_no += 1
            status = Status.PASS if self.frame_no % 3 == 0 else Status.FAIL
            footwear = CheckResult("footwear", status, 0.9, "鞋", "shoes",
                                   (Evidence.of_box(foot, status, "foot_left"),))
            return dataclasses.replace(result, results={**result.results, "footwear": footwear})

    drawn = []
    monkeypatch.setattr(station.live, "draw_evidence", lambda frame: drawn.append(frame) or frame.perception.image)
    store = Store(tmp_path / "log.db", tmp_path / "evidence")
    store.migrate()
    attire = FakeAttire([BADGE, *SHOES], {"feet": {"closed": 0.95, "open": 0.05}})
    live = LiveStation(config(), store, lambda: frames(), LastFramePasses(config(), fake_models(attire=attire)), None,
                       SessionTiming(frames_needed=3, verdict_s=30, cooldown_s=0.05))
    live.start()
    try:
        assert wait_for(lambda: live.state()["frames_judged"] > 0)
        live.pipeline.frame_no = 0  # the session's three frames: fail, fail, pass
        assert live.identify("T1024")
        assert wait_for(lambda: live.recorded)
        marks = live.state()["verdict"]["marks"]
    finally:
        live.stop()
    live._overlay = {**live._overlay, "items": []}  # the person walked away: the last frame found no body
    assert live.state()["verdict"]["marks"] is None
    record = store.get(live.recorded[0])
    assert {r.check: r.status for r in record.results}["footwear"] == "fail"
    assert drawn[-1].results["footwear"].status == Status.FAIL
    failed = {r.check for r in record.results if r.status == "fail"}
    assert {m["check"] for m in marks["items"]} == failed and "badge" not in failed  # the badge passed: no mark
    [left] = [m for m in marks["items"] if m["check"] == "footwear"]
    assert left["label"] == "foot_left" and left["points"] == [[600, 650], [640, 650], [640, 700], [600, 700]]
    assert (marks["width"], marks["height"]) == make_frame().shape[1::-1]
