"""No striking hair colour (无怪异发色). Off by default: a site switches it on.

The hair is what the person mask shows above and beside the face that is not skin; each of its pixels is compared
with the colours natural hair has (black, browns, blondes, auburn, grey: a chroma map learned from the `hair` masks
of CCP's training photos), and the rule fails when a large share of the hair is of a colour hair does not grow in
(pink, blue, green, purple, vivid red). A hat hides the hair above the face, so the sides count too.
"""
from __future__ import annotations

import cv2
import numpy as np
from pydantic import Field

from checks.base import Check, CheckResult, CheckSection, Evidence, Status, calibrated
from models.perception import Box, Perception, Region

MIN_PIXELS = 80
MIN_FACE_PX = 30.0


def judged_face(p: Perception) -> Box | None:
    """The face of the person the pose belongs to (the one nearest the nose), or the only face."""
    if not p.faces:
        return None
    if p.pose is None or not p.pose.visible("nose", 0.5):
        return max(p.faces, key=lambda f: f.area)
    nx, ny = p.pose.point("nose")
    return min(p.faces, key=lambda f: abs(f.center[0] - nx) + abs(f.center[1] - ny))


def hair_zones(face: Box, width: int, height: int) -> dict[str, Region]:
    fw, fh = face.width, face.height

    def box(name, x1, y1, x2, y2):
        x1, x2 = np.clip([x1, x2], 0, width - 1)
        y1, y2 = np.clip([y1, y2], 0, height - 1)
        return Region(name, np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32))

    return {"hair_top": box("hair_top", face.x1 - 0.15 * fw, face.y1 - 0.7 * fh, face.x2 + 0.15 * fw,
                            face.y1 + 0.1 * fh),
            "hair_left": box("hair_left", face.x2 - 0.05 * fw, face.y1 + 0.1 * fh, face.x2 + 0.45 * fw,
                             face.y2 + 0.3 * fh),
            "hair_right": box("hair_right", face.x1 - 0.45 * fw, face.y1 + 0.1 * fh, face.x1 + 0.05 * fw,
                              face.y2 + 0.3 * fh)}


def striking_share(lab_pixels: np.ndarray, model: dict) -> float:
    """The share of hair pixels whose chroma (a, b) natural hair rarely has."""
    lo, hi = model["range"]
    density = np.asarray(model["density"], np.float32)
    bins = density.shape[0]
    idx = np.clip(((lab_pixels[:, 1:3].astype(np.float32) - lo) / (hi - lo) * bins).astype(int), 0, bins - 1)
    inside = (lab_pixels[:, 1] >= lo) & (lab_pixels[:, 1] < hi) & (lab_pixels[:, 2] >= lo) & (lab_pixels[:, 2] < hi)
    rare = ~inside | (density[idx[:, 0], idx[:, 1]] < model["pixel_min"])
    return float(rare.mean())


def measure(p: Perception, model: dict) -> tuple[dict[str, float], dict[str, Region]] | None:
    face = judged_face(p)
    if face is None or face.width < MIN_FACE_PX or p.person_mask is None or p.skin is None or not model:
        return None
    lab = cv2.cvtColor(p.image, cv2.COLOR_BGR2LAB)
    shares, zones = {}, hair_zones(face, p.image.shape[1], p.image.shape[0])
    for name, zone in zones.items():
        (x1, y1, x2, y2), mask = zone.local_mask(p.image.shape[1], p.image.shape[0])
        mask &= (p.person_mask[y1:y2, x1:x2] > 0.5) & (p.skin[y1:y2, x1:x2] < 0.4)
        if mask.sum() >= MIN_PIXELS:
            shares[name] = striking_share(lab[y1:y2, x1:x2][mask], model)
    return (shares, zones) if shares else None


class HairColourPolicy(CheckSection):
    """[hair_colour] in the station config."""

    enabled: bool = Field(False, description="off by default: a site switches the hair colour rule on")
    max_striking: float | None = Field(None, ge=0.0, le=1.0, description="share of the hair that may be of a "
                                                                         "colour natural hair rarely has; empty: "
                                                                         "the calibrated value")


class HairColourCheck(Check):
    id = "hair_colour"
    title_zh, title_en = "发色", "Hair colour"
    fix_zh, fix_en = "请将头发恢复自然发色", "Return your hair to a natural colour"
    Policy = HairColourPolicy
    order = 70
    needs_colour = True

    def run(self, p: Perception) -> CheckResult:
        cal = calibrated(self.id)
        found = measure(p, cal.get("natural_hair", {}))
        if found is None:
            return self.unknown("看不清头发，请摘下帽子、正面朝向摄像头", "Hair not in view: take off any hat and "
                                "face the camera")
        shares, zones = found
        limit = self.config.hair_colour.max_striking
        limit = limit if limit is not None else cal.get("max_striking", 0.5)
        worst = max(shares.values())
        status = Status.FAIL if worst > limit else Status.PASS
        evidence = [Evidence.of_region(zones[n], status if v == worst else Status.PASS, v) for n, v in shares.items()]
        if status == Status.FAIL:
            return self.result(status, min(1.0, 0.5 + worst - limit), "发色怪异，请恢复自然发色",
                               "Striking hair colour: natural hair colours only", evidence, striking=worst)
        return self.result(status, min(1.0, 0.5 + limit - worst), "自然发色", "Natural hair colour", evidence,
                           striking=worst)
