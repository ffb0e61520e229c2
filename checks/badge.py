"""Work badge (工号牌) worn on the left chest, or anywhere on the chest where the site allows a lanyard.

The attire detector finds the card (models.detector, trained on princeID cards and cards pasted onto people); this
check decides the position from the card's centre and the pose regions, so the position rule never depends on what
the detector learned about where cards hang.
"""
from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from checks.base import Check, CheckResult, CheckSection, Evidence, Status
from models.perception import Perception, Region
from models.regions import body_scale


def allowed_zone(p: Perception, position: str) -> Region | None:
    """Where the policy allows the badge: the wearer's left chest, or the chest down to where a lanyard hangs."""
    if position == "left_chest":
        return p.region("chest_left")
    return p.region("lanyard")


# where a misplaced badge was found, for the reason line: (regions, zh, en), first match wins
PLACES = ((("hand_left", "hand_right", "wrist_left", "wrist_right"), "手中", "in the hand"),
          (("chest_right",), "右胸", "on the right chest"),
          (("chest_left",), "左胸", "on the left chest"),
          (("neck",), "颈部", "at the neck"),
          (("chest",), "胸口正中", "at the middle of the chest"))
LANYARD = ("挂在胸前的挂绳上（胸口中部）", "hanging on a lanyard at mid-chest")
MIN_TORSO_PX = 48.0  # a torso tile narrower than this (person far back, cheap camera) shows no card reliably


def where_found(p: Perception, point: tuple[float, float]) -> tuple[str, str]:
    x, y = point
    for names, zh, en in PLACES:
        for name in names:
            region = p.region(name)
            if region is not None and cv2.pointPolygonTest(region.polygon, (float(x), float(y)), False) >= 0:
                return zh, en
    kp = p.pose
    # at or just above the hip line (a card clipped to the belt or a trouser pocket)
    if kp is not None and kp.visible("left_hip") and kp.visible("right_hip") \
            and y > min(kp.point("left_hip")[1], kp.point("right_hip")[1]) - 0.2 * body_scale(kp):
        return "腰间", "at the waist"
    lanyard = p.region("lanyard")
    if lanyard is not None and cv2.pointPolygonTest(lanyard.polygon, (float(x), float(y)), False) >= 0:
        return LANYARD
    return "别处", "elsewhere"


class BadgePolicy(CheckSection):
    """[badge] in the station config."""

    position: Literal["left_chest", "chest"] = Field("left_chest", description="left_chest: the badge on the "
                                                                               "wearer's left chest; chest: anywhere "
                                                                               "on the chest (a lanyard)")
    min_score: float | None = Field(None, ge=0.0, le=1.0, description="detector confidence that counts as a badge; "
                                                                      "empty: the operating point in the "
                                                                      "detector's manifest")


class BadgeCheck(Check):
    id = "badge"
    title_zh, title_en = "工号牌", "Work badge"
    fix_zh, fix_en = "请把工号牌佩戴在左胸前", "Wear your work badge on the left chest"
    Policy = BadgePolicy
    order = 20
    models = ("attire",)

    @classmethod
    def fix(cls, config=None) -> tuple[str, str]:
        if config is not None and config.badge.position == "chest":
            return "请把工号牌佩戴在胸前", "Wear your work badge on your chest"
        return cls.fix_zh, cls.fix_en

    def run(self, p: Perception) -> CheckResult:
        position = self.config.badge.position
        zone = allowed_zone(p, position)
        if zone is None:
            return self.unknown("看不到胸前", "Chest not in view")
        if "torso" not in p.examined:
            return self.unknown("未能检查胸前（检测模型未运行）", "Chest not examined (the attire detector did not run)")
        ops = p.attire.operating_points
        min_score = self.config.badge.min_score if self.config.badge.min_score is not None else \
            ops.get("detector.badge", 0.35)
        badges = sorted((d for d in p.detections if d.label == "badge" and d.score >= min_score),
                        key=lambda d: -d.score)
        where_zh, where_en = ("左胸", "left chest") if position == "left_chest" else ("胸前", "chest")
        if not badges:
            torso = p.attire.tiles["torso"]
            if torso.width < ops.get("detector.min_torso_px", MIN_TORSO_PX):
                return self.unknown("离摄像头太远，看不清胸前的工号牌，请走近一些",
                                    "Too far from the camera to see a badge on the chest: please step closer",
                                    [Evidence.of_region(zone, Status.UNKNOWN)], torso_px=torso.width)
            return self.result(Status.FAIL, 0.6, f"未佩戴工号牌（{where_zh}未发现），请佩戴于{where_zh}",
                               f"No work badge found on the {where_en}: wear it on the {where_en}",
                               [Evidence.of_region(zone, Status.FAIL)])
        zone_mask = zone.mask(p.image.shape)
        h, w = zone_mask.shape
        for badge in badges:
            cx, cy = (int(np.clip(v, 0, lim - 1)) for v, lim in zip(badge.center, (w, h)))
            if zone_mask[cy, cx]:
                return self.result(Status.PASS, badge.score, f"工号牌佩戴于{where_zh}",
                                   f"Work badge worn on the {where_en}",
                                   [Evidence.of_box(badge, Status.PASS), Evidence.of_region(zone, Status.PASS)])
        badge = badges[0]
        found_zh, found_en = where_found(p, badge.center)
        return self.result(Status.FAIL, badge.score * 0.8, f"工号牌位置不对（在{found_zh}）：应佩戴于{where_zh}",
                           f"Work badge in the wrong place ({found_en}): wear it on the {where_en}",
                           [Evidence.of_box(badge, Status.FAIL), Evidence.of_region(zone, Status.FAIL)])
