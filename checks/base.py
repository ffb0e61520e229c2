"""What every check returns, and the small base class every rule derives from."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from models.perception import Box, Perception, Region

if TYPE_CHECKING:
    from station.config import StationConfig


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

    def to_dict(self) -> dict:
        return {"label": self.label, "status": self.status.value,
                "value": None if self.value is None else round(float(self.value), 3),
                "polygon": np.round(self.polygon, 1).tolist()}


@dataclass(frozen=True)
class CheckResult:
    check: str
    status: Status
    score: float  # confidence in this status, 0..1
    reason_zh: str
    reason_en: str
    evidence: tuple[Evidence, ...] = ()
    measurements: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"{self.check}: score must be in [0, 1], got {self.score}")
        object.__setattr__(self, "status", Status(self.status))

    def to_dict(self) -> dict:
        return {"check": self.check, "status": self.status.value, "score": round(self.score, 3),
                "reason_zh": self.reason_zh, "reason_en": self.reason_en,
                "measurements": {k: round(float(v), 4) for k, v in self.measurements.items()},
                "evidence": [e.to_dict() for e in self.evidence]}


class Check:
    """A service-code rule. Subclasses set `id` and the bilingual `title`, and implement `run`."""

    id: ClassVar[str]
    title_zh: ClassVar[str]
    title_en: ClassVar[str]

    def __init__(self, config: "StationConfig") -> None:
        self.config = config

    def run(self, perception: Perception) -> CheckResult:
        raise NotImplementedError

    def result(self, status: Status, score: float, reason_zh: str, reason_en: str,
               evidence: list[Evidence] | tuple[Evidence, ...] = (), **measurements: float) -> CheckResult:
        return CheckResult(self.id, status, float(np.clip(score, 0.0, 1.0)), reason_zh, reason_en, tuple(evidence),
                           dict(measurements))

    def unknown(self, reason_zh: str, reason_en: str, evidence: list[Evidence] | tuple[Evidence, ...] = (),
                **measurements: float) -> CheckResult:
        return self.result(Status.UNKNOWN, 0.0, reason_zh, reason_en, evidence, **measurements)


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
