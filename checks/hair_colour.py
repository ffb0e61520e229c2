"""No striking hair colour (无怪异发色). Off by default: a site switches it on.

The hair is what the person mask shows in a box round the head, less an ellipse for the face (not less the skin
colours: red and copper hair are skin-coloured to the skin model). Each of its pixels is looked up in a map of
(L, a, b) colour cells learned from CCP's training photos: the cells where dyed hair (the photos' `hair` pixels
recoloured at random strengths to any hue but those natural hair has: auburn, ginger, golden brown, blonde) is
likelier than natural hair are "striking". The rule fails when a large share of the head box is of those colours.
Lightness matters: dark navy or dark red dye is close to grey in chroma alone, and natural blonde and auburn are not
vivid at their lightness.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from pydantic import Field

from checks.base import Check, CheckResult, CheckSection, Evidence, Status, calibrated
from models.perception import Box, Perception, Region

MIN_PIXELS = 80
# Faces narrower than this are asked to come closer. Validation heads (CCP 0601-0700) shrunk to 25 % (faces 15-20 px
# wide) keep the limit's 1 % of natural heads failed and 0.98 of dyed copies caught, as at full size; at 20 % the face
# detector misses one face in ten. (It was 30 px, which turned away nearly every face of a -small photo.)
MIN_FACE_PX = 14.0
# The head box round the face, in face widths and heights. It ends at the chin: below it a shirt collar or a
# coloured top counted as hair (validation: dyed copies caught 0.965 -> 0.988 at the same 2 % of natural heads).
BESIDE, ABOVE, BELOW = 0.45, 0.7, 0.0
FACE_ELLIPSE = (0.5, 0.55)  # half-axes of the face left out, in face widths and heights


def judged_face(p: Perception) -> Box | None:
    """The face of the person the pose belongs to (the one nearest the nose), or the only face."""
    if not p.faces:
        return None
    if p.pose is None or not p.pose.visible("nose", 0.5):
        return max(p.faces, key=lambda f: f.area)
    nx, ny = p.pose.point("nose")
    return min(p.faces, key=lambda f: abs(f.center[0] - nx) + abs(f.center[1] - ny))


def hair_zone(face: Box, width: int, height: int) -> Region:
    fw, fh = face.width, face.height
    x1, x2 = np.clip([face.x1 - BESIDE * fw, face.x2 + BESIDE * fw], 0, width - 1)
    y1, y2 = np.clip([face.y1 - ABOVE * fh, face.y2 + BELOW * fh], 0, height - 1)
    return Region("hair", np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32))


def hair_pixels(p: Perception, face: Box, zone: Region) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """The zone's bounds and, inside them, the person's pixels that are not the face."""
    (x1, y1, x2, y2), mask = zone.local_mask(p.image.shape[1], p.image.shape[0])
    yy, xx = np.mgrid[y1:y2, x1:x2]
    cx, cy = face.center
    ax, ay = FACE_ELLIPSE
    in_face = ((xx - cx) / (ax * face.width)) ** 2 + ((yy - cy) / (ay * face.height)) ** 2 <= 1
    return (x1, y1, x2, y2), mask & (p.person_mask[y1:y2, x1:x2] > 0.5) & ~in_face


@lru_cache(maxsize=4)
def _striking_cells(bits: str) -> np.ndarray:
    """The map's bit string (`models.training.rules`) as one bool per cell, unpacked once, not every frame."""
    return np.unpackbits(np.frombuffer(bytes.fromhex(bits), np.uint8)).astype(bool)


def striking_share(lab_pixels: np.ndarray, model: dict) -> float:
    """The share of pixels whose (L, a, b) cell is one where dyed hair is likelier than natural hair."""
    bins = int(model["bins"])
    cell = lab_pixels.astype(np.int64) * bins // 256
    return float(_striking_cells(model["striking_bits"])[(cell[:, 0] * bins + cell[:, 1]) * bins + cell[:, 2]].mean())


def measure(p: Perception, model: dict) -> tuple[float, Region] | None:
    """The striking share round the judged face and where it was measured; None where the rule cannot measure."""
    face = judged_face(p)
    return None if face is None or face.width < MIN_FACE_PX else measure_round(p, face, model)


def measure_round(p: Perception, face: Box, model: dict) -> tuple[float, Region] | None:
    """`measure` round a face already judged large enough; None without a person mask, a map or enough hair."""
    if p.person_mask is None or not model:
        return None
    zone = hair_zone(face, p.image.shape[1], p.image.shape[0])
    (x1, y1, x2, y2), mask = hair_pixels(p, face, zone)
    if mask.sum() < MIN_PIXELS:
        return None
    lab = cv2.cvtColor(np.ascontiguousarray(p.image[y1:y2, x1:x2]), cv2.COLOR_BGR2LAB)
    return striking_share(lab[mask], model), zone


class HairColourPolicy(CheckSection):
    """[hair_colour] in the station config."""

    enabled: bool = Field(False, description="off by default: a site switches the hair colour rule on")
    max_striking: float | None = Field(None, ge=0.0, le=1.0, description="share of the head box that may be of "
                                                                         "a dyed-hair colour; empty: the calibrated "
                                                                         "value")


class HairColourCheck(Check):
    id = "hair_colour"
    title_zh, title_en = "发色", "Hair colour"
    fix_zh, fix_en = "请将头发恢复自然发色", "Return your hair to a natural colour"
    Policy = HairColourPolicy
    order = 70
    needs_colour = True

    def run(self, p: Perception) -> CheckResult:
        cal = calibrated(self.id)
        face = judged_face(p)
        if face is None:
            return self.unknown("看不到脸部，请正面朝向摄像头", "Face not in view: please face the camera")
        if face.width < MIN_FACE_PX:
            return self.unknown("脸部在画面中太小，无法判断发色，请走近一些",
                                "Face too small in the picture to judge: please step closer")
        found = measure_round(p, face, cal.get("striking_colours", {}))
        if found is None:
            return self.unknown("看不清头发，请摘下帽子、正面朝向摄像头", "Hair not in view: take off any hat and "
                                "face the camera")
        share, zone = found
        limit = self.config.hair_colour.max_striking
        limit = limit if limit is not None else cal.get("max_striking", 0.5)
        status = Status.FAIL if share > limit else Status.PASS
        evidence = [Evidence.of_region(zone, status, share)]
        if status == Status.FAIL:
            return self.result(status, min(1.0, 0.5 + share - limit), "发色怪异，请恢复自然发色",
                               "Striking hair colour: natural hair colours only", evidence, striking=share)
        return self.result(status, min(1.0, 0.5 + limit - share), "自然发色", "Natural hair colour", evidence,
                           striking=share)
