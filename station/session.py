"""One technician's check-in at the kiosk, as a state machine fed by judged frames and a clock.

    idle -> framing (guidance until the whole body is in view) -> collecting N good frames -> verdict -> cooldown -> idle

The technician is identified (QR on the badge, typed number, roster pick) before or during framing; a verdict is
given only once both the frames and the identity are there. Pure logic: the camera loop feeds `on_frame` from its
worker thread and `tick` from its timer, and the kiosk reads `view()`. Time comes from an injected clock so tests
run without sleeping.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable

from checks.base import CheckResult
from models.perception import Framing
from station.pipeline import aggregate, overall_status


class Phase(str, Enum):
    IDLE = "idle"
    FRAMING = "framing"
    COLLECTING = "collecting"
    VERDICT = "verdict"
    COOLDOWN = "cooldown"


@dataclass(frozen=True)
class SessionTiming:
    frames_needed: int = 6
    min_judged: int = 3  # frames that must have judged a rule for its verdict (station.pipeline.aggregate)
    fail_weight: float = 2.0  # a failing frame's confidence counts this many times a passing one's
    give_up_s: float = 60.0  # framing or collecting with no progress this long: back to idle, nothing recorded
    nobody_s: float = 5.0  # nobody in view this long during a session: back to idle
    verdict_s: float = 8.0  # how long the verdict stays on screen
    cooldown_s: float = 3.0  # before the next person is taken

    @classmethod
    def from_config(cls, config) -> "SessionTiming":
        v = config.verdict
        return cls(frames_needed=v.frames, min_judged=v.min_judged_frames, fail_weight=v.fail_weight)


@dataclass
class Verdict:
    technician: str
    overall: str
    results: dict[str, CheckResult]
    frames: int
    identified_by: str

    def to_dict(self) -> dict:
        return {"technician": self.technician, "overall": self.overall, "frames": self.frames,
                "identified_by": self.identified_by,
                "checks": {k: r.to_dict() for k, r in self.results.items()}}


@dataclass
class SessionView:
    """What the kiosk shows now."""

    phase: Phase
    technician: str | None
    message_zh: str
    message_en: str
    progress: float  # share of the good frames collected
    verdict: Verdict | None = None


@dataclass
class CheckInSession:
    timing: SessionTiming = SessionTiming()
    on_verdict: Callable[[Verdict], None] | None = None  # e.g. write the record; called once per verdict
    clock: Callable[[], float] = time.monotonic
    phase: Phase = Phase.IDLE
    technician: str | None = None
    identified_by: str = ""
    frames: list[dict[str, CheckResult]] = field(default_factory=list)
    verdict: Verdict | None = None
    _since: float = 0.0  # when the current phase (or its last progress) began
    _last_seen: float = 0.0
    _framing: Framing | None = None

    def __post_init__(self) -> None:
        self._since = self._last_seen = self.clock()

    # ---------------------------------------------------------------- inputs
    def identify(self, technician: str, how: str = "typed") -> bool:
        """A technician number from the badge's QR code, the keyboard or the roster. Accepted while no verdict is
        showing; False (ignored) otherwise, so a badge waved during the verdict cannot relabel it."""
        technician = technician.strip()
        if not technician or self.phase in (Phase.VERDICT, Phase.COOLDOWN):
            return False
        self.technician, self.identified_by = technician, how
        if self.phase == Phase.IDLE:
            self._enter(Phase.FRAMING)
        self._maybe_conclude()
        return True

    def on_frame(self, framing: Framing, results: dict[str, CheckResult]) -> None:
        """One judged frame from the pipeline."""
        now = self.clock()
        self._framing = framing
        if framing.people:
            self._last_seen = now
        if self.phase in (Phase.VERDICT, Phase.COOLDOWN):
            return
        if self.phase == Phase.IDLE:
            if framing.people:
                self._enter(Phase.FRAMING)
            else:
                return
        if not framing.ok:
            if self.phase == Phase.COLLECTING:  # stepped out of frame: the frames so far no longer count
                self.frames.clear()
                self._enter(Phase.FRAMING)
            return
        if self.phase == Phase.FRAMING:
            self._enter(Phase.COLLECTING)
        self.frames.append(results)
        del self.frames[: -self.timing.frames_needed]  # keep the newest N
        self._since = now  # progress
        self._maybe_conclude()

    def tick(self) -> None:
        """Time-driven moves: timeouts, the verdict's display time, the cooldown."""
        now = self.clock()
        t = self.timing
        if self.phase in (Phase.FRAMING, Phase.COLLECTING):
            if now - self._last_seen > t.nobody_s or now - self._since > t.give_up_s:
                self.reset()
        elif self.phase == Phase.VERDICT and now - self._since >= t.verdict_s:
            self._enter(Phase.COOLDOWN)
        elif self.phase == Phase.COOLDOWN and now - self._since >= t.cooldown_s:
            self.reset()

    def reset(self) -> None:
        self.technician, self.identified_by, self.verdict, self._framing = None, "", None, None
        self.frames.clear()
        self._enter(Phase.IDLE)

    # ---------------------------------------------------------------- output
    def view(self) -> SessionView:
        progress = len(self.frames) / self.timing.frames_needed
        if self.phase == Phase.IDLE:
            return SessionView(self.phase, None, "请扫描工号牌二维码或输入工号", "Scan your badge's QR code or enter "
                               "your number", 0.0)
        if self.phase in (Phase.VERDICT, Phase.COOLDOWN):
            v = self.verdict
            zh, en = ("检查通过", "PASS") if v and v.overall == "pass" else \
                ("检查未通过", "FAIL") if v and v.overall == "fail" else ("无法判断，请重新检查", "Cannot judge: check again")
            return SessionView(self.phase, self.technician, zh, en, 1.0, v)
        if self.phase == Phase.FRAMING:
            f = self._framing
            zh, en = (f.instruction_zh, f.instruction_en) if f and f.instruction_en else \
                ("请站到摄像头前", "Please stand in front of the camera")
            return SessionView(self.phase, self.technician, zh, en, progress)
        if len(self.frames) >= self.timing.frames_needed and self.technician is None:
            return SessionView(self.phase, None, "请扫描工号牌二维码或输入工号", "Scan your badge's QR code or enter "
                               "your number", progress)
        return SessionView(self.phase, self.technician, "请保持不动", "Hold still", progress)

    # ---------------------------------------------------------------- internals
    def _enter(self, phase: Phase) -> None:
        self.phase, self._since = phase, self.clock()

    def _maybe_conclude(self) -> None:
        if self.phase != Phase.COLLECTING or self.technician is None \
                or len(self.frames) < self.timing.frames_needed:
            return
        results = aggregate(self.frames, self.timing.min_judged, self.timing.fail_weight)
        self.verdict = Verdict(self.technician, overall_status(results.values()).value, results, len(self.frames),
                               self.identified_by)
        self._enter(Phase.VERDICT)
        if self.on_verdict is not None:
            self.on_verdict(self.verdict)
