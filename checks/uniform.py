"""The company uniform (工作服): colour and texture of the clothes on the torso, sleeves and legs, against enrolled
prototypes.

Each reference photo enrolled at calibration is one prototype, so a site can enrol several variants (with and without
a vest, summer and winter). A photo passes when its clothes are close to at least one prototype.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from pydantic import Field

from checks.base import Check, CheckResult, CheckSection, Evidence, Status
from models.perception import Perception

# the sleeves tell variants apart that share a torso colour: a black vest over the pink shirt is not a black shirt
PARTS = {"torso": ("torso",), "sleeves": ("upper_arm_left", "upper_arm_right"),
         "legs": ("thigh_left", "thigh_right", "shin_left", "shin_right")}
PART_NAMES = {"torso": ("上衣", "torso"), "sleeves": ("袖子", "sleeves"), "legs": ("裤子", "legs")}
MIN_PIXELS = 400
AB_BINS, AB_RANGE = 16, (80.0, 176.0)  # OpenCV's 8-bit Lab: a, b centred on 128; clothing rarely leaves +-48
L_BINS = 8
AB_BLUR = 1.5  # bins: the same cloth under another light shifts its chroma a little; neighbours must still match
DEFAULT_MAX_DISTANCE = 0.25  # used with a single reference photo, where no spread can be learned


def garment_mask(p: Perception, region_names: tuple[str, ...]) -> np.ndarray | None:
    """Pixels of the named regions that are the person and not bare skin: the clothes."""
    regions = [p.region(n) for n in region_names]
    regions = [r for r in regions if r is not None]
    if not regions:
        return None
    mask = np.zeros(p.image.shape[:2], bool)
    for r in regions:
        mask |= r.mask(p.image.shape)
    if p.person_mask is not None:
        mask &= p.person_mask > 0.5
    if p.skin is not None:
        mask &= p.skin < 0.5
    return mask if mask.sum() >= MIN_PIXELS else None


def garment_feature(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A lighting-tolerant descriptor of the clothes under `mask`, as a unit vector of square-rooted histograms.

    Chroma (a, b) carries the colour; L is divided by its median so a dimmer or brighter depot light does not move
    it, leaving only the cloth's light/dark pattern; an edge-strength histogram stands for texture (plain vs
    patterned). Square roots make Euclidean distance between two features the Hellinger distance. Weights and blur
    were chosen on uniform-public (AUC 0.87 -> 0.95 against the unblurred 12-bin chroma; chroma alone gives 0.76,
    so lightness pattern and texture earn their share).
    """
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
    px = lab[mask].astype(np.float32)
    ab, _, _ = np.histogram2d(px[:, 1], px[:, 2], bins=AB_BINS, range=[AB_RANGE, AB_RANGE])
    ab = cv2.GaussianBlur(ab.astype(np.float32), (0, 0), AB_BLUR)
    light = px[:, 0] / max(float(np.median(px[:, 0])), 1.0)
    l_hist, _ = np.histogram(np.clip(light, 0, 1.99), bins=L_BINS, range=(0, 2))
    grad = cv2.morphologyEx(lab[:, :, 0], cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))[mask].astype(np.float32)
    t_hist, _ = np.histogram(np.clip(grad, 0, 63), bins=8, range=(0, 64))
    parts = []
    for hist, weight in ((ab.ravel(), 0.6), (l_hist, 0.2), (t_hist, 0.2)):
        hist = hist.astype(np.float64) + 1e-9
        parts.append(np.sqrt(hist / hist.sum() * weight))
    return np.concatenate(parts).astype(np.float32)


def hellinger(f1: np.ndarray, f2: np.ndarray) -> float:
    return float(np.linalg.norm(f1 - f2) / np.sqrt(2))


def describe(p: Perception) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Features and garment masks of each visible part (torso, sleeves, legs)."""
    feats, masks = {}, {}
    for part, names in PARTS.items():
        mask = garment_mask(p, names)
        if mask is not None:
            feats[part] = garment_feature(p.image, mask)
            masks[part] = mask
    return feats, masks


@dataclass
class UniformPrototypes:
    prototypes: list[dict[str, np.ndarray]]  # one per reference photo: part -> feature
    max_distance: float
    sources: list[str]

    def distance(self, feats: dict[str, np.ndarray]) -> tuple[float, int]:
        """Distance to the nearest prototype (mean over the parts both show) and that prototype's index."""
        best, best_i = np.inf, -1
        for i, proto in enumerate(self.prototypes):
            common = [k for k in feats if k in proto]
            if not common:
                continue
            d = float(np.mean([hellinger(feats[k], proto[k]) for k in common]))
            if d < best:
                best, best_i = d, i
        return best, best_i

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": 1, "max_distance": self.max_distance, "sources": self.sources,
                "prototypes": [{k: v.round(6).tolist() for k, v in p.items()} for p in self.prototypes]}
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)  # atomic: a crash mid-write never leaves half an enrolment

    @classmethod
    def load(cls, path: Path) -> "UniformPrototypes":
        try:
            data = json.loads(path.read_text())
            protos = [{k: np.asarray(v, np.float32) for k, v in p.items()} for p in data["prototypes"]]
            return cls(protos, float(data["max_distance"]), list(data.get("sources", [])))
        except FileNotFoundError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a uniform enrolment file ({exc})") from None


class UniformPolicy(CheckSection):
    """[uniform] in the station config."""

    prototypes: str = Field("calibration/uniform.json", description="the enrolment written by `station "
                                                                    "enroll-uniform`, relative to the config file")
    max_distance: float | None = Field(None, gt=0, description="largest distance to an enrolled uniform that "
                                                               "passes; empty: the limit learned at enrolment")
    long_sleeves: bool = Field(True, description="the uniform has long sleeves: a bare lower forearm is a rolled "
                                                 "cuff")
    long_trousers: bool = Field(True, description="the uniform has long trousers: a bare or turned-up ankle is a "
                                                  "rolled trouser leg")


class UniformCheck(Check):
    id = "uniform"
    title_zh, title_en = "工作服", "Uniform"
    fix_zh, fix_en = "请穿公司工作服", "Wear the company uniform"
    Policy = UniformPolicy
    order = 10
    needs_colour = True

    def __init__(self, config) -> None:
        super().__init__(config)
        self.prototypes: UniformPrototypes | None = None
        self.load_error = ""
        path = config.resolve(config.uniform.prototypes)
        try:
            self.prototypes = UniformPrototypes.load(path)
        except FileNotFoundError:
            self.load_error = f"{path} not found"
        except ValueError as exc:
            self.load_error = str(exc)

    def run(self, p: Perception) -> CheckResult:
        if self.prototypes is None:
            return self.unknown("未登记工作服，请先运行 station enroll-uniform",
                                f"Uniform not enrolled ({self.load_error}); run `station enroll-uniform`")
        feats, masks = describe(p)
        if not feats:
            return self.unknown("看不到上身衣服", "Clothes not in view")
        dist, _ = self.prototypes.distance(feats)
        if not np.isfinite(dist):
            return self.unknown("登记的工作服与可见部位不符", "Enrolled uniform shows no part that is in view")
        limit = self.config.uniform.max_distance or self.prototypes.max_distance
        status = Status.PASS if dist <= limit else Status.FAIL
        evidence = [Evidence.of_region(p.regions[n], status, dist) for part in feats for n in PARTS[part]
                    if n in p.regions]
        score = min(1.0, 0.5 + abs(dist - limit) / limit)
        parts_zh = "、".join(PART_NAMES[k][0] for k in feats)
        parts_en = ", ".join(PART_NAMES[k][1] for k in feats)
        if status == Status.PASS:
            return self.result(status, score, f"穿着工作服（{parts_zh}）", f"Uniform worn ({parts_en})",
                               evidence, distance=dist, limit=limit)
        return self.result(status, score, f"未穿工作服（{parts_zh}与登记样式不符）",
                           f"Not the company uniform ({parts_en} differ from the enrolled uniform)",
                           evidence, distance=dist, limit=limit)
