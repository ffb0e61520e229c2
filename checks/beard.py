"""Men: no beard (男士不得留胡须). Off by default: a site switches it on, since the station cannot tell for everyone
whether the rule applies to them.

Facial hair is darker than the same person's own cheeks: the rule compares the upper lip and the chin with the
cheeks of the same face (not with a general skin colour, so every skin tone is judged against itself) and fails
when a large share of them is much darker than the cheeks. Lips, nostrils and the shadow under the jaw are left out
of the zones; the threshold was chosen on CCP training faces (`python -m models.training.rules`).
"""
from __future__ import annotations

import cv2
import numpy as np
from pydantic import Field

from checks.base import Check, CheckResult, CheckSection, Evidence, Status, calibrated
from checks.hair_colour import MIN_FACE_PX, judged_face
from models.perception import Perception, Region


def _box(name: str, x1: float, y1: float, x2: float, y2: float) -> Region:
    return Region(name, np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32))


def beard_zones(kp) -> dict[str, Region] | None:
    """Cheeks (the reference: under each eye at the height of the nose tip), the upper lip (between nostrils and
    mouth) and the chin (below the lower lip), from the pose's eyes, nose and mouth corners."""
    if kp is None or not all(kp.visible(n, 0.5) for n in ("nose", "mouth_left", "mouth_right", "left_eye",
                                                             "right_eye")):
        return None
    ml, mr, nose = kp.point("mouth_left"), kp.point("mouth_right"), kp.point("nose")
    el, er = kp.point("left_eye"), kp.point("right_eye")
    r = 0.18 * float(np.hypot(*(el - er)))  # half a cheek patch
    mx1, mx2 = min(ml[0], mr[0]), max(ml[0], mr[0])
    my = (ml[1] + mr[1]) / 2
    d = my - nose[1]  # nose tip to mouth
    if d <= 2:
        return None
    cheek_y = nose[1] - 0.1 * d
    return {"cheek_left": _box("cheek_left", el[0] - r, cheek_y - r, el[0] + r, cheek_y + r),
            "cheek_right": _box("cheek_right", er[0] - r, cheek_y - r, er[0] + r, cheek_y + r),
            "upper_lip": _box("upper_lip", mx1, nose[1] + 0.45 * d, mx2, my - 0.2 * d),
            "chin": _box("chin", mx1 - 0.1 * (mx2 - mx1), my + 0.45 * d, mx2 + 0.1 * (mx2 - mx1), my + 1.3 * d)}


def measure(p: Perception) -> tuple[float, dict[str, Region]] | None:
    """The share of lip and chin pixels much darker than the cheeks."""
    face = judged_face(p)
    if face is None or face.width < MIN_FACE_PX:
        return None
    zones = beard_zones(p.pose)
    if zones is None:
        return None
    lab = cv2.cvtColor(p.image, cv2.COLOR_BGR2LAB).astype(np.float32)
    h, w = lab.shape[:2]

    def pixels(region: Region) -> np.ndarray:
        (x1, y1, x2, y2), mask = region.local_mask(w, h)
        return lab[y1:y2, x1:x2][mask]

    cheeks = np.concatenate([pixels(zones["cheek_left"]), pixels(zones["cheek_right"])])
    hair = np.concatenate([pixels(zones["upper_lip"]), pixels(zones["chin"])])
    if len(cheeks) < 20 or len(hair) < 20:
        return None
    ref = np.median(cheeks, axis=0)
    spread = max(float(np.percentile(np.abs(cheeks[:, 0] - ref[0]), 90)), 6.0)
    darker = (ref[0] - hair[:, 0]) > max(2.5 * spread, 20.0)
    return float(darker.mean()), zones


class BeardPolicy(CheckSection):
    """[beard] in the station config."""

    enabled: bool = Field(False, description="off by default: the beard rule is for men, and the station cannot "
                                             "tell for everyone whether it applies")
    max_dark_share: float | None = Field(None, ge=0.0, le=1.0, description="share of the upper lip and chin that "
                                                                           "may be much darker than the cheeks; "
                                                                           "empty: the calibrated value")


class BeardCheck(Check):
    id = "beard"
    title_zh, title_en = "胡须", "Beard"
    fix_zh, fix_en = "请剃净胡须", "Please shave your beard"
    Policy = BeardPolicy
    order = 80
    needs_colour = True

    def run(self, p: Perception) -> CheckResult:
        found = measure(p)
        if found is None:
            return self.unknown("看不清脸部，请正面朝向摄像头、走近一些", "Face not clear: face the camera and step "
                                "closer")
        share, zones = found
        limit = self.config.beard.max_dark_share
        limit = limit if limit is not None else calibrated(self.id).get("max_dark_share", 0.3)
        status = Status.FAIL if share > limit else Status.PASS
        evidence = [Evidence.of_region(zones[n], status, share if n != "cheek_left" else None)
                    for n in ("upper_lip", "chin")]
        if status == Status.FAIL:
            return self.result(status, min(1.0, 0.5 + share - limit), "留有胡须，请刮净", "Beard or moustache: "
                               "please shave", evidence, dark_share=share)
        return self.result(status, min(1.0, 0.5 + limit - share), "无胡须", "No beard", evidence, dark_share=share)
