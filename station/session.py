"""One technician's check-in at the kiosk, as a state machine fed by judged frames and a clock.

    idle -> framing (guidance until the whole body is in view) -> collecting N good frames -> verdict -> cooldown -> idle

A good frame shows the whole body standing still: a frame taken while the person moves is blurred (open toes and
jewellery are missed from a few pixels of motion blur), so it is shown with "hold still" and not collected.

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
    give_up_s: float = 60.0  # framing or collecting with no progress this long, someone in view: stuck (below)
    nobody_s: float = 5.0  # nobody in view this long during a session: back to idle
    verdict_s: float = 8.0  # how long the verdict stays on screen
    cooldown_s: float = 3.0  # before the next person is taken
    keep_number_s: float = 30.0  # a number given to a session that ended without a verdict waits this long for the next

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
    note: str = ""  # why the check-in ended without a full judgement (stuck at a guidance line), for the log
    stuck: bool = False  # no verdict could be reached: the kiosk asks for the supervisor

    def to_dict(self) -> dict:
        out = {"technician": self.technician, "overall": self.overall, "frames": self.frames,
               "identified_by": self.identified_by, "checks": {k: r.to_dict() for k, r in self.results.items()}}
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class SessionView:
    """What the kiosk shows now."""

    phase: Phase
    technician: str | None
    message_zh: str
    message_en: str
    progress: float  # share of the good frames collected
    verdict: Verdict | None = None
    countdown: float | None = None  # seconds until the next person is taken (while a verdict shows)


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
    _pending: tuple[str, str, float] | None = None  # (number, how, until): kept for the next session


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
        self._pending = None
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
                self._take_pending(now)
            else:
                return
        if not framing.ok:
            if self.phase == Phase.COLLECTING:  # stepped out of frame: the frames so far no longer count
                self.frames.clear()
                self._enter(Phase.FRAMING)
            return
        if not framing.still:  # blurred by motion: not judged, and the sharp frames before it still count
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
            if now - self._last_seen > t.nobody_s:
                self._keep_number(now)
                self.reset()
            elif now - self._since > t.give_up_s:
                self._stuck()
        elif self.phase == Phase.VERDICT and now - self._since >= t.verdict_s:
            self._enter(Phase.COOLDOWN)
        elif self.phase == Phase.COOLDOWN and now - self._since >= t.cooldown_s:
            self.reset()

    def reset(self) -> None:
        self.technician, self.identified_by, self.verdict, self._framing = None, "", None, None
        self.frames.clear()
        self._enter(Phase.IDLE)

    def pending(self) -> str | None:
        """A number kept from a session that ended without a verdict, for the next one (None once it expired)."""
        if self._pending is not None and self.clock() > self._pending[2]:
            self._pending = None
        return self._pending[0] if self._pending else None

    # ---------------------------------------------------------------- output
    def view(self) -> SessionView:
        progress = len(self.frames) / self.timing.frames_needed
        if self.phase == Phase.IDLE:
            if (kept := self.pending()) is not None:
                return SessionView(self.phase, kept, "请站到摄像头前", "Please stand in front of the camera", 0.0)
            return SessionView(self.phase, None, "请扫描工号牌二维码或输入工号", "Scan your badge's QR code or enter "
                               "your number", 0.0)
        if self.phase in (Phase.VERDICT, Phase.COOLDOWN):
            v = self.verdict
            zh, en = ("检查通过", "PASS") if v and v.overall == "pass" else \
                ("检查未通过", "FAIL") if v and v.overall == "fail" else \
                ("请找主管协助", "Please ask your supervisor") if v and v.stuck else \
                ("无法判断，请重新检查", "Cannot judge: check again")
            t = self.timing
            left = t.verdict_s + (t.cooldown_s if self.phase == Phase.VERDICT else 0.0) - (self.clock() - self._since)
            return SessionView(self.phase, self.technician, zh, en, 1.0, v, max(0.0, left))
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

    def _keep_number(self, now: float) -> None:
        """The session ends without a verdict (nobody in view): its number waits for the next session a while."""
        if self.technician is not None and self.verdict is None:
            self._pending = (self.technician, self.identified_by, now + self.timing.keep_number_s)

    def _take_pending(self, now: float) -> None:
        if self._pending is not None and self.technician is None and now <= self._pending[2]:
            self.technician, self.identified_by = self._pending[:2]
        self._pending = None

    def _stuck(self) -> None:
        """Someone has stood in view for `give_up_s` without the station getting what it needs (feet hidden, no
        number): an unknown check-in is recorded with the guidance it was stuck at, and the kiosk asks for the
        supervisor, instead of starting again in silence."""
        f = self._framing
        if self.phase == Phase.FRAMING and f is not None and f.instruction_en:
            zh, en = f.instruction_zh, f.instruction_en
        elif self.technician is None:
            zh, en = "未输入工号", "no technician number given"
        else:
            zh, en = "未能收集到足够的合格画面", "not enough good frames"
        t = self.timing
        results = aggregate(self.frames, t.min_judged, t.fail_weight) if self.frames else {}
        self.verdict = Verdict(self.technician, "unknown", results, len(self.frames), self.identified_by,
                               note=f"{t.give_up_s:.0f} 秒未能完成检查：{zh} / stuck for {t.give_up_s:.0f} s: {en}",
                               stuck=True)
        self._enter(Phase.VERDICT)
        if self.on_verdict is not None:
            self.on_verdict(self.verdict)

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
