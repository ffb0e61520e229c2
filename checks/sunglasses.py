"""No sunglasses indoors (室内禁止戴墨镜).

The attire detector looks for `sunglasses` and for ordinary `glasses` on the head tile (trained on CCP's pixel masks
and on photos tagged with either, boxed across the eyes); only sunglasses worn over the eyes fail, so ordinary
glasses pass, and so do sunglasses pushed up on the head or hooked on a collar.
"""
from __future__ import annotations

import numpy as np
from pydantic import Field

from checks.base import Check, CheckResult, CheckSection, Evidence, Status
from models.perception import Perception

EYES = ("left_eye", "right_eye")
MIN_HEAD_PX = 24.0  # a head tile narrower than this shows no lenses


class SunglassesPolicy(CheckSection):
    """[sunglasses] in the station config."""

    min_score: float | None = Field(None, ge=0.0, le=1.0, description="detector confidence that counts as "
                                                                      "sunglasses; empty: the operating point in "
                                                                      "the detector's manifest")


class SunglassesCheck(Check):
    id = "sunglasses"
    title_zh, title_en = "墨镜", "Sunglasses"
    fix_zh, fix_en = "请摘下墨镜", "Take your sunglasses off"
    Policy = SunglassesPolicy
    order = 60
    models = ("attire",)

    def run(self, p: Perception) -> CheckResult:
        kp = p.pose
        head = p.attire.tiles.get("head")
        if head is None or kp is None or not all(kp.visible(e, 0.5) for e in EYES):
            return self.unknown("看不到眼睛，请正面朝向摄像头", "Eyes not in view: please face the camera")
        if head.width < MIN_HEAD_PX:
            return self.unknown("离摄像头太远，看不清眼睛，请走近一些", "Too far to see the eyes: please step closer")
        cfg = self.config.sunglasses
        threshold = cfg.min_score if cfg.min_score is not None else \
            p.attire.operating_points.get("detector.sunglasses", 0.35)
        eyes = np.array([kp.point(e) for e in EYES])
        worn = [d for d in p.detections if d.label == "sunglasses" and d.score >= threshold and any(
            d.contains(x, y) for x, y in eyes)]
        if worn:
            best = max(worn, key=lambda d: d.score)
            return self.result(Status.FAIL, best.score, "戴着墨镜，请摘下", "Sunglasses on: please take them off",
                               [Evidence.of_box(best, Status.FAIL)])
        # the head tile the detector looked at, and any ordinary glasses it found there
        looked = [Evidence.of_box(head, Status.PASS, "head")]
        glasses = [Evidence.of_box(d, Status.PASS) for d in p.detections if d.label == "glasses"]
        return self.result(Status.PASS, 0.8, "未戴墨镜", "No sunglasses", looked + glasses)
