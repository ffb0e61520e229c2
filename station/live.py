"""The live station: a capture thread that only grabs frames, a worker that judges the newest one, the check-in
session, the badge reader and the log.

The capture thread never waits for the models, so the preview never stalls; the worker drops frames it had no time
for. A camera that is unplugged or stops sending frames is reopened with a growing pause, and the kiosk says so.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import cv2
import numpy as np

from checks.base import Status
from station.config import StationConfig
from station.evidence import draw_evidence
from station.identify import BadgeReader
from station.pipeline import FrameResult, Pipeline
from station.session import CheckInSession, Phase, SessionTiming, Verdict
from station.sources import SourceError, open_source
from station.store import Store

RECONNECT_MAX_S = 10.0
PREVIEW_WIDTH = 960  # the kiosk's live preview is sent at most this wide (JPEG, quality PREVIEW_QUALITY)
PREVIEW_QUALITY = 70
OVERLAY_MAX_AGE_S = 1.5  # the regions of a judged frame older than this are not drawn over the live preview
RETENTION_EVERY_S = 6 * 3600  # the evidence purge runs at start and then this often
MODELS_POLL_S = 2.0  # how often the installed models' active version is looked at (`station models install`)
SWAP_WAIT_S = 30.0  # a new version waits for the session in progress to end, at most this long
SWITCH_INTERVAL_S = 0.001  # Python threads hand over the GIL this often (default 5 ms): the judging worker, back from
# native code, waits at most this long for it while web threads render review pages
# the kiosk's admin line while the log is failing: a plain message (the details go to /calibrate and the log)
RECORD_ALERT = ("检查记录未能保存，请通知管理员", "Check-ins are not being saved: please tell the administrator")
EVIDENCE_ALERT = ("证据照片未能保存，请通知管理员", "Evidence photos are not being saved: please tell the administrator")
log = logging.getLogger(__name__)
# an absolute file path inside a message (/a/b/c.json, not "km/h" nor " / " between two languages)
ABSOLUTE_PATH = re.compile(r"(?<![\w.~])/(?:[^\s/()'\"`]+/)+([^\s/()'\"`]*)")


def paced(frames: Iterator[np.ndarray], fps: float, clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep) -> Iterator[np.ndarray]:
    """A file source (video, photos) played at `fps`, like a camera: unpaced, the capture thread would decode as fast
    as it can and take the CPU the judging needs."""
    period = 1.0 / max(fps, 1e-3)
    due = clock()
    for frame in frames:
        wait = due - clock()
        if wait > 0:
            sleep(wait)
        due = max(due + period, clock() - period)  # fall behind by at most a frame, never race to catch up
        yield frame


def plain(text: str) -> str:
    """A message for the kiosk, which anyone can read: absolute paths cut to their file name (the log and the admin
    pages keep the whole path)."""
    return ABSOLUTE_PATH.sub(r"\1", text)


class LiveStation:
    def __init__(self, config: StationConfig, store: Store | None, source: str | Callable[[], Iterator[np.ndarray]],
                 pipeline: Pipeline | None = None, badge_reader: BadgeReader | None = None,
                 timing: SessionTiming | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.config, self.store = config, store
        self._open = source if callable(source) else lambda: self._paced_source(source)
        self.pipeline = pipeline or Pipeline(config, tracking=True)
        self.badge_reader = badge_reader
        self.session = CheckInSession(timing or SessionTiming.from_config(config), self._record, clock)
        self.recorded: list[int] = []  # record ids written by this station since start
        self.errors: list[str] = []  # the newest problems, with time and detail, for /calibrate (and the log)
        self._record_failure: str | None = None  # the last record's error; None once one is stored again
        self._camera_failure: str | None = None  # the camera's last error; None while frames come
        self.frames_judged = 0
        self.camera_zh, self.camera_en = "正在连接摄像头", "Connecting to the camera"
        self._lock = threading.Lock()
        self._frame: np.ndarray | None = None
        self._frame_no = 0
        self._new_frame = threading.Condition(self._lock)  # the capture thread tells the preview streams
        self._preview: tuple[int, bytes] | None = None  # (frame number, JPEG) of the newest frame encoded
        self._preview_lock = threading.Lock()  # one encoding per frame, however many streams read it
        self._overlay: dict | None = None  # the last judged frame's regions and boxes (JSON), for the page to draw
        self.camera_ok = False
        self._last_result: FrameResult | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._new_models = None  # (attire detector, version) loaded and waiting to be swapped in between frames
        self._new_models_since = 0.0
        self._clock = clock

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "LiveStation":
        import sys

        sys.setswitchinterval(SWITCH_INTERVAL_S)
        for target in (self._capture_loop, self._work_loop, self._retention_loop, self._models_loop):
            t = threading.Thread(target=target, daemon=True, name=target.__name__)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._new_frame:
            self._new_frame.notify_all()
        for t in self._threads:
            t.join(timeout=5)

    # ------------------------------------------------------------ what the web app reads and sends
    def state(self) -> dict:
        """What the kiosk shows (no login): plain messages, and of a verdict only each rule's status and reason."""
        with self._lock:
            view = self.session.view()
            v = view.verdict
            verdict = None if v is None else {"technician": v.technician, "overall": v.overall, "checks": {
                k: {"status": r.status.value, "reason_zh": plain(r.reason_zh), "reason_en": plain(r.reason_en)}
                for k, r in v.results.items()}}
            # the last judged frame, unless it is too old to draw over the live preview
            fresh = self._overlay if self._overlay is not None and \
                time.monotonic() - self._overlay["at"] <= OVERLAY_MAX_AGE_S else None
            if verdict is not None:
                verdict.update(stuck=v.stuck, countdown=round(view.countdown or 0.0, 1),
                               marks=self._marks(v.results, fresh))
            overlay = fresh if verdict is None else None
            return {"phase": view.phase.value, "models_version": self.pipeline.models.version,
                    "technician": view.technician, "message_zh": plain(view.message_zh),
                    "message_en": plain(view.message_en), "progress": round(view.progress, 2), "verdict": verdict,
                    "camera_zh": self.camera_zh, "camera_en": self.camera_en, "camera_ok": self.camera_ok,
                    "frames_judged": self.frames_judged, "frame_no": self._frame_no,
                    "overlay": None if overlay is None else {k: v for k, v in overlay.items() if k != "at"},
                    **dict(zip(("alert_zh", "alert_en"), self._alert()))}

    def _marks(self, results: dict, now: dict | None) -> dict | None:
        """Where the failed rules' evidence lies (the part that failed, not every place looked at), in camera pixels:
        drawn over the preview while the verdict shows, so that a FAIL points at what to fix."""
        last = self._last_result
        # only while someone is still in view (`now`, the fresh last judged frame, found a body): marks over an
        # empty scene would point at nothing
        if last is None or now is None or not now["items"]:
            return None
        return {"width": now["width"], "height": now["height"],
                "items": evidence_items(results, last.scale, only=Status.FAIL)}

    def _alert(self) -> tuple[str, str]:
        if self._record_failure:
            return RECORD_ALERT
        if self.store is not None and self.store.evidence_failure:
            return EVIDENCE_ALERT
        return "", ""

    def preview_jpeg(self) -> bytes | None:
        """The newest camera frame as a JPEG (as captured: no drawing, no verdict), or None without a camera."""
        with self._lock:
            frame, number = self._frame, self._frame_no
        return None if frame is None else self._encode(frame, number)

    def preview_frames(self, max_s: float = 3600.0) -> Iterator[bytes]:
        """The camera's frames as JPEGs, each new one as soon as the capture thread has it (an MJPEG stream), for
        `max_s` seconds or until the station stops; nothing while the camera is lost. Straight from the capture
        thread: judging never holds the preview back, and no model runs here."""
        seen, until = -1, time.monotonic() + max_s
        while not self._stop.is_set() and time.monotonic() < until:
            with self._new_frame:
                if self._frame_no == seen or self._frame is None:
                    self._new_frame.wait(1.0)
                frame, number = self._frame, self._frame_no
            if frame is None or number == seen:
                continue
            seen = number
            yield self._encode(frame, number)

    def _encode(self, frame: np.ndarray, number: int) -> bytes:
        with self._preview_lock:
            if self._preview is not None and self._preview[0] == number:
                return self._preview[1]
            h, w = frame.shape[:2]
            if w > PREVIEW_WIDTH:
                frame = cv2.resize(frame, (PREVIEW_WIDTH, round(h * PREVIEW_WIDTH / w)), interpolation=cv2.INTER_AREA)
            jpg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, PREVIEW_QUALITY])[1].tobytes()
            self._preview = (number, jpg)
            return jpg

    def capture(self) -> np.ndarray | None:
        """A copy of the newest camera frame (calibration: reference photos, the badge position test)."""
        with self._lock:
            return None if self._frame is None else self._frame.copy()

    def last_result(self) -> FrameResult | None:
        with self._lock:
            return self._last_result

    def apply_policy(self, config: StationConfig) -> None:
        """New rules from an edited policy, from the next frame on (camera, detector and log keys need a restart)."""
        from checks.registry import build_checks

        with self._lock:
            self.config = config
            self.pipeline.config = config
            self.pipeline.checks = build_checks(config)

    def identify(self, number: str, how: str = "typed") -> bool:
        with self._lock:
            return self.session.identify(number, how)

    def _paced_source(self, source: str) -> Iterator[np.ndarray]:
        c = self.config.camera
        frames = open_source(source, c.device, c.width, c.height, repeat=10**9, fps=c.fps)
        return frames if source in ("webcam", "demo") else paced(frames, c.fps)

    # ------------------------------------------------------------ threads
    def _capture_loop(self) -> None:
        pause = 0.5
        while not self._stop.is_set():
            try:
                for frame in self._open():
                    if self._stop.is_set():
                        return
                    with self._new_frame:
                        self._frame, self._frame_no = frame, self._frame_no + 1
                        self.camera_zh, self.camera_en, self.camera_ok = "", "", True
                        self._new_frame.notify_all()
                    pause, self._camera_failure = 0.5, None
                raise SourceError("the source ended")
            except (SourceError, OSError, ValueError) as exc:
                with self._new_frame:  # the kiosk says what to do; the error itself goes to the admins and the log
                    self.camera_zh = "摄像头已断开，正在重新连接…（请检查连接线）"
                    self.camera_en = "Camera disconnected; reconnecting… (check its cable)"
                    self._frame, self.camera_ok, self._overlay = None, False, None  # never show a stale frame
                    self._new_frame.notify_all()
                if str(exc) != self._camera_failure:
                    self._camera_failure = str(exc)
                    self._report(f"camera: {exc}")
                self._stop.wait(pause)
                pause = min(pause * 2, RECONNECT_MAX_S)

    def _work_loop(self) -> None:
        seen = 0
        while not self._stop.is_set():
            with self._lock:
                frame, number = self._frame, self._frame_no
            if frame is None or number == seen:
                self._stop.wait(0.005)
                with self._lock:
                    self.session.tick()
                continue
            seen = number
            self._swap_models()
            try:
                self._judge(frame)
            except Exception as exc:  # one bad frame must not end the station: say so and go on
                self._report(f"frame not judged: {type(exc).__name__}: {exc}")

    def _retention_loop(self) -> None:
        while self.store is not None and not self._stop.is_set():
            try:
                self.store.purge_evidence(self.config.log.retention_days)
            except Exception as exc:  # the database is unreachable now: try again next time
                self._report(f"evidence purge failed: {exc}")
            self._stop.wait(RETENTION_EVERY_S)

    def _models_loop(self) -> None:
        """Load a newly installed (or rolled back) model version off the worker thread; the worker swaps it in
        between two frames, so no frame is lost and no frame sees half of each version."""
        from station.model_versions import ModelStore
        from station.pipeline import load_attire

        while not self._stop.wait(MODELS_POLL_S):
            try:
                store = ModelStore(self.config.resolve(self.config.learn.models_dir))
                active = store.active()
                with self._lock:
                    current = (self._new_models or (None, self.pipeline.models.version))[1]
                if active == current or self.pipeline.models.attire is None:
                    continue
                attire, version = load_attire(self.config)
                with self._lock:
                    self._new_models, self._new_models_since = (attire, version), self._clock()
                log.info("models %s loaded; switching between check-ins", version)
            except Exception as exc:  # a broken install must not stop the station: keep the models it has
                self._report(f"models not switched: {type(exc).__name__}: {exc}")
                self._stop.wait(10 * MODELS_POLL_S)

    def _swap_models(self) -> None:
        """Worker thread: the waiting model version goes in when no check-in is being judged (or after
        SWAP_WAIT_S), so that one record's frames are all judged by one version."""
        with self._lock:
            if self._new_models is None:
                return
            busy = self.session.phase in (Phase.FRAMING, Phase.COLLECTING)
            if busy and self._clock() - self._new_models_since < SWAP_WAIT_S:
                return
            attire, version = self._new_models
            self._new_models = None
            old = self.pipeline.models.version
            self.pipeline.models.attire, self.pipeline.models.version = attire, version
        log.info("models switched from %s to %s", old, version)

    def _judge(self, frame: np.ndarray) -> None:
        result = self.pipeline.run(frame)
        code = self.badge_reader.read(frame) if self.badge_reader is not None else None
        overlay = overlay_json(result, frame.shape)
        with self._lock:
            self.frames_judged += 1
            if code:
                self.session.identify(code, self.badge_reader.kind)
            if result.perception.framing.ok and result.perception.framing.still:  # the evidence is a judged frame
                self._last_result = result
            self.session.on_frame(result.perception.framing, result.results)
            self.session.tick()
            self._overlay = overlay

    def _record(self, verdict: Verdict) -> None:
        """Called by the session (under the lock) once per verdict: the record and its evidence photo."""
        if self.store is None:
            return
        evidence, faces, frame = None, None, None
        if self._last_result is not None:
            # the verdict's own results (each rule's deciding frame, its evidence) on the last well-framed frame: the
            # photo says what the record says, where that frame's results alone could show a foot passing that the
            # session failed
            evidence = draw_evidence(replace(self._last_result, results=verdict.results or self._last_result.results))
            if self.config.log.keep_frames:
                frame = self._last_result.perception.image
            if self.config.log.blur_faces:
                faces = [(f.x1, f.y1, f.x2, f.y2) for f in self._last_result.perception.faces]
        try:
            record_id = self.store.add(verdict.to_dict(), verdict.technician, evidence, faces, frame=frame,
                                       models_version=self.pipeline.models.version)
        except Exception as exc:  # the database is down: keep judging, show the error to the supervisor
            self._record_failure = str(exc)
            self._report(f"record not saved: {exc}")
            return
        self._record_failure = None
        self.recorded.append(record_id)
        if evidence is not None and self.store.evidence_failure:
            self._report(f"record {record_id} stored without its photo: {self.store.evidence_failure}")

    def _report(self, problem: str) -> None:
        """A problem for the admins: kept (the newest 20) for /calibrate and written to the log."""
        log.error(problem)
        self.errors.append(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {problem}")
        del self.errors[:-20]


def overlay_json(result: FrameResult, shape) -> dict:
    """What the page draws over the live preview: each rule's regions and boxes in the judged frame's pixels, in one
    colour and without their status, since the preview must not give the verdict away before it is decided.
    Polygons are rounded to whole pixels."""
    h, w = shape[:2]
    return {"width": w, "height": h, "items": evidence_items(result.results, result.scale), "at": time.monotonic()}


def evidence_items(results: dict, scale: float, only: Status | None = None) -> list[dict]:
    """The rules' evidence polygons in camera pixels (`only`: of the rules with that status, where they found it)."""
    return [{"check": check, "label": ev.label, "points": np.round(ev.polygon / scale).astype(int).tolist()}
            for check, r in results.items() if only is None or r.status == only
            for ev in r.evidence if only is None or ev.status == only]
