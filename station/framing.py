"""The framing gate: is exactly one person standing shoulders-to-feet in view, facing the camera?

Its instruction drives the live guidance. On a photo it never stops the checks: each check judges what it can see.
"""
from __future__ import annotations

import numpy as np

from models.perception import Box, Framing, Keypoints

# (code, zh-CN, en) in the order a person should fix them
_MESSAGES = {
    "no_person": ("请站到摄像头前", "Please stand in front of the camera"),
    "several_people": ("画面中只能有一人，请其他人离开", "Only one person in view, please"),
    "head_out_of_view": ("请后退，让头部和肩膀进入画面", "Step back so your head and shoulders are in view"),
    "feet_out_of_view": ("请后退，让双脚进入画面", "Step back so your feet are in view"),
    "not_facing": ("请正面朝向摄像头", "Please face the camera"),
}
FEET = ("left_ankle", "right_ankle", "left_foot_index", "right_foot_index")  # heels hide behind feet when facing


def assess_framing(pose: Keypoints | None, faces: list[Box], min_visibility: float = 0.5,
                   min_facing_ratio: float = 0.45) -> Framing:
    people = max(len(faces), 1 if pose is not None else 0)
    issues: list[str] = []
    if pose is None:
        issues.append("no_person")
    else:
        if people > 1:
            issues.append("several_people")
        margin = 0.01 * pose.image_size[1]
        vis = [pose.visible(n, min_visibility, margin) for n in ("nose", "left_shoulder", "right_shoulder")]
        if not all(vis):
            issues.append("head_out_of_view")
        if not all(pose.visible(n, min_visibility, margin) for n in FEET):
            issues.append("feet_out_of_view")
        if all(vis[1:]) and not _facing(pose, min_facing_ratio):
            issues.append("not_facing")
    if not issues:
        return Framing(True, people)
    zh, en = _MESSAGES[issues[0]]
    return Framing(False, people, zh, en, tuple(issues))


def _facing(pose: Keypoints, min_ratio: float) -> bool:
    ls, rs = pose.point("left_shoulder"), pose.point("right_shoulder")
    lh, rh = pose.point("left_hip"), pose.point("right_hip")
    # the person's own left shoulder is on the image's right when they face the camera (sides already corrected
    # for a mirrored camera); a back turned to the camera swaps them
    if ls[0] <= rs[0]:
        return False
    torso_h = float(np.hypot(*((ls + rs) / 2 - (lh + rh) / 2)))
    shoulder_w = float(np.hypot(*(ls - rs)))
    return torso_h <= 0 or shoulder_w / torso_h >= min_ratio
