"""What every check returns, and the small base class every rule derives from."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from models.perception import Box, Perception, Region

if TYPE_CHECKING:
    from station.config import StationConfig


class Section(BaseModel):
    """A config section: unknown keys are rejected, so a typo fails with the key's name."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CheckSection(Section):
    """A rule's policy section, `[<rule id>]` in the station config; a rule module subclasses it for its keys."""

    enabled: bool = Field(True, description="whether this rule is checked at this site")


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"  # the check could not see what it needs; never a guess


@dataclass(frozen=True)
class Evidence:
    """A place in the frame that a verdict rests on: a region polygon or a box, with what was found there."""

    label: str
    polygon: np.ndarray  # (N, 2) pixels
    status: Status = Status.PASS
    value: float | None = None  # the measurement taken there (skin share, distance, ...)

    @classmethod
    def of_region(cls, region: Region, status: Status, value: float | None = None, label: str = "") -> "Evidence":
        return cls(label or region.name, region.polygon, status, value)

    @classmethod
    def of_box(cls, box: Box, status: Status, label: str = "") -> "Evidence":
        poly = np.array([[box.x1, box.y1], [box.x2, box.y1], [box.x2, box.y2], [box.x1, box.y2]], np.float32)
        return cls(label or box.label, poly, status, box.score)

    def to_dict(self, scale: float = 1.0) -> dict:
        """`scale` maps the judged frame's pixels to the input's (the pipeline shrinks very large photos)."""
        return {"label": self.label, "status": self.status.value,
                "value": None if self.value is None else round(float(self.value), 3),
                "polygon": np.round(self.polygon * scale, 1).tolist()}


@dataclass(frozen=True)
class CheckResult:
    check: str
    status: Status
    score: float  # confidence in this status, 0..1
    reason_zh: str
    reason_en: str
    evidence: tuple[Evidence, ...] = ()
    measurements: dict[str, float] = field(default_factory=dict)
    votes: dict[str, int] = field(default_factory=dict)  # a session's frames by status (empty for one frame)
    # unknown because the part was seen and the rule could not tell (a classifier's unsure band), not because it was
    # not seen: such frames lean towards the violation, and a session's PASS must outnumber them
    unsure: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"{self.check}: score must be in [0, 1], got {self.score}")
        object.__setattr__(self, "status", Status(self.status))

    def to_dict(self, scale: float = 1.0) -> dict:
        out = {"check": self.check, "status": self.status.value, "score": round(self.score, 3),
               "reason_zh": self.reason_zh, "reason_en": self.reason_en,
               "measurements": {k: round(float(v), 4) for k, v in self.measurements.items()},
               "evidence": [e.to_dict(scale) for e in self.evidence]}
        if self.votes:
            out["votes"] = dict(self.votes)
        return out


@dataclass(frozen=True)
class TileLabels:
    """How a supervisor's review of this rule labels the tiles of its classifier (the site's training data).

    A rule reviewed as passing labels every tile it judged `compliant`; as failing, the parts the supervisor ticks
    (pre-ticked from the machine's failed evidence) `violation`. With no part ticked, `fail_all_parts` says whether
    every tile is then the violation (both feet in sandals) or none can be labelled (which sleeve was rolled?)."""

    classifier: str
    parts: dict[str, tuple[str, str]]  # tile part -> (zh, en) name, for the review form
    compliant: str
    violation: str
    fail_all_parts: bool = False

    def labels(self, truth: str, parts: list[str] | tuple[str, ...], seen: list[str]) -> dict[str, str]:
        """Tile part -> class for a reviewed rule; `seen`: the parts the record has a tile for."""
        if truth == "pass":
            return {part: self.compliant for part in seen}
        chosen = [part for part in parts if part in seen] or (list(seen) if self.fail_all_parts else [])
        return {part: self.violation for part in chosen}


class Check:
    """A service-code rule. Subclasses set `id`, the bilingual `title`, their `Policy` section (the config keys of
    `[<id>]`), `fix_zh`/`fix_en` (what to do when it fails) and `order` (where the rule is listed), and implement
    `run`. A rule is one module in `checks/`: the registry finds it there and the station config gets its section
    from it.

    `models` names the learned models whose output it reads, and `tile_labels` how a supervisor's review of the rule
    becomes training tiles for its classifier (see `station learn export`).

    `needs_colour`: the rule reads colour (skin, the uniform's colour, the footwear classifier), so a grey or
    infrared frame cannot be judged by it. The pipeline calls `judge`, which answers `unknown` with the reason for
    frames that nothing can be judged from (too dark) or that lack what the rule needs, and `run` otherwise.
    """

    id: ClassVar[str]
    title_zh: ClassVar[str]
    title_en: ClassVar[str]
    # what to do when the rule fails, one short line each ("请放下袖口 / Roll your sleeves down"): the kiosk's card
    fix_zh: ClassVar[str] = ""
    fix_en: ClassVar[str] = ""
    Policy: ClassVar[type[CheckSection]] = CheckSection
    order: ClassVar[int] = 100
    needs_colour: ClassVar[bool] = False
    models: ClassVar[tuple[str, ...]] = ()  # the learned models it reads (a new version of one may change it)
    tile_labels: ClassVar[TileLabels | None] = None  # how a review of it labels its classifier's tiles

    def __init__(self, config: "StationConfig") -> None:
        self.config = config

    @classmethod
    def checked(cls, config: "StationConfig") -> bool:
        """Whether this station checks the rule: its section enables it, and the rest of the policy gives it
        something to check (a rule with nothing to check is off, never a PASS on what nothing looked at)."""
        return getattr(config, cls.id).enabled

    @classmethod
    def fix(cls, config: "StationConfig | None" = None) -> tuple[str, str]:
        """The one-line fix for a failure under this policy (zh-CN, English); a rule whose fix depends on its
        policy overrides this."""
        return cls.fix_zh, cls.fix_en

    def judge(self, perception: Perception) -> CheckResult:
        issues = perception.framing.issues
        if "too_dark" in issues:
            return self.unknown("画面太暗，无法判断", "Too dark to judge")
        if self.needs_colour and "no_colour" in issues:
            return self.unknown("摄像头画面没有颜色，无法判断（请管理员检查摄像头）",
                                "The camera shows no colour, so this cannot be judged (ask the administrator)")
        return self.run(perception)

    def run(self, perception: Perception) -> CheckResult:
        raise NotImplementedError

    def result(self, status: Status, score: float, reason_zh: str, reason_en: str,
               evidence: list[Evidence] | tuple[Evidence, ...] = (), **measurements: float) -> CheckResult:
        return CheckResult(self.id, status, float(np.clip(score, 0.0, 1.0)), reason_zh, reason_en, tuple(evidence),
                           dict(measurements))

    def unknown(self, reason_zh: str, reason_en: str, evidence: list[Evidence] | tuple[Evidence, ...] = (),
                **measurements: float) -> CheckResult:
        return self.result(Status.UNKNOWN, 0.0, reason_zh, reason_en, evidence, **measurements)

    def unsure(self, reason_zh: str, reason_en: str, evidence: list[Evidence] | tuple[Evidence, ...] = (),
               **measurements: float) -> CheckResult:
        """Unknown with the part in view: the rule saw it and cannot tell (a supervisor will check)."""
        return replace(self.unknown(reason_zh, reason_en, evidence, **measurements), unsure=True)

    def classifier_loaded(self, p: Perception) -> bool:
        """The rule's tile classifier is loaded (its operating points came with the findings): then no tile means the
        part was not seen whole, and the heuristic fallback, which is for a station without the model, must not
        judge it instead."""
        return any(k.startswith(f"{self.tile_labels.classifier}.") for k in p.attire.operating_points)

    def one_tile_verdict(self, p: Perception, probs: dict[str, float], tile: Box, measurement: str,
                         too_far: tuple[str, str], failed: tuple[str, str], passed: tuple[str, str],
                         unsure: tuple[str, str]) -> CheckResult:
        """The verdict of a rule judged by its classifier on one tile (`tile_labels` names the classifier, the
        violation class and the part): unknown on a tile too small for the classifier, FAIL at its operating point
        for the violation, unknown in the band below it where the classifier cannot tell (`VIOLATION_unsure` in its
        manifest, chosen on validation), else PASS; the probability is kept as `measurement`."""
        labels = self.tile_labels
        (part,) = labels.parts
        op = p.attire.operating_points
        if tile.width < op.get(f"{labels.classifier}.min_tile_px", 24.0):
            return self.unknown(*too_far)
        p_bad = probs.get(labels.violation, 0.0)
        fail_at = op.get(f"{labels.classifier}.{labels.violation}", 0.5)
        unsure_from = op.get(f"{labels.classifier}.{labels.violation}_unsure", fail_at)
        status = Status.FAIL if p_bad >= fail_at else Status.UNKNOWN if p_bad >= unsure_from else Status.PASS
        evidence = [Evidence.of_box(tile, status, part)]
        if status == Status.FAIL:
            return self.result(status, p_bad, *failed, evidence, **{measurement: p_bad})
        if status == Status.UNKNOWN:
            return self.unsure(*unsure, evidence, **{measurement: p_bad})
        return self.result(status, 1.0 - p_bad, *passed, evidence, **{measurement: p_bad})


RULES_CALIBRATION = Path(__file__).resolve().parents[1] / "models" / "rules" / "rules.json"


@lru_cache(maxsize=1)
def _calibration() -> dict:
    return json.loads(RULES_CALIBRATION.read_text()) if RULES_CALIBRATION.is_file() else {}


def calibrated(rule_id: str) -> dict:
    """The operating points of a rule measured without a model of its own (front_closed, legwear, hair_colour),
    chosen on training photos by `python -m models.training.rules` and kept in models/rules/rules.json."""
    return _calibration().get("rules", {}).get(rule_id, {})


def region_share(perception: Perception, region: Region, pixel_map: np.ndarray,
                 within_person: bool = True) -> tuple[float, int]:
    """Mean of `pixel_map` (e.g. skin probability) over a region, restricted to the person mask.

    Returns (share, pixels counted); 0 pixels means the region is off-frame or off the person.
    """
    (x1, y1, x2, y2), mask = region.local_mask(pixel_map.shape[1], pixel_map.shape[0])
    if within_person and perception.person_mask is not None:
        mask &= perception.person_mask[y1:y2, x1:x2] > 0.5
    n = int(mask.sum())
    if n == 0:
        return 0.0, 0
    return float(pixel_map[y1:y2, x1:x2][mask].mean()), n
