"""The framing gate: is exactly one person standing head-to-feet in view, facing the camera, in usable light?

Its instruction drives the live guidance. On a photo it never stops the checks (each check judges what it can see),
but a frame with several people in it, or too dark to see, can never PASS (`station.pipeline.overall_status`).
"""
from __future__ import annotations

import cv2
import numpy as np

from models.perception import Box, Framing, Keypoints
from models.regions import body_scale

# (code, zh-CN, en) in the order a person should fix them
_MESSAGES = {
    "too_dark": ("画面太暗，请打开照明", "Too dark to see: please turn on the light"),
    "no_person": ("请站到摄像头前", "Please stand in front of the camera"),
    "body_out_of_view": ("请后退，让全身进入画面", "Step back so your whole body is in view"),
    "several_people": ("一次只检查一人，请其他人离开画面", "One person at a time: others please step out of view"),
    "head_out_of_view": ("请后退，让头部和肩膀进入画面", "Step back so your head and shoulders are in view"),
    "feet_out_of_view": ("请后退，让双脚进入画面", "Step back so your feet are in view"),
    "not_facing": ("请正面朝向摄像头", "Please face the camera"),
    "moving": ("请保持不动", "Hold still"),
    "no_colour": ("摄像头画面没有颜色（黑白或红外），请管理员检查摄像头", "The camera shows no colour (grey or infrared): "
                  "ask the administrator to check the camera"),
}
NOT_BLOCKING = ("no_colour", "moving")  # the session goes on; a moving frame is not collected (Framing.still)
# the body's parts whose speed decides whether a frame is sharp enough to judge: each part's speed is the median of
# its points seen in both frames, so one point that MediaPipe places a little otherwise counts as no motion. Not the
# hands: on a person standing still MediaPipe moves them 3-8 px a frame (a shoulder width a second), and a walking
# or stepping person moves the torso or a foot anyway
MOTION_PARTS = (("left_shoulder", "right_shoulder", "left_hip", "right_hip"),
                ("left_ankle", "left_heel", "left_foot_index"), ("right_ankle", "right_heel", "right_foot_index"))
FEET = ("left_ankle", "right_ankle", "left_foot_index", "right_foot_index")  # heels hide behind feet when facing
MIN_PERSON_SHARE = 0.03  # a person-mask blob smaller than this share of the frame is not a person
SIDE_BY_SIDE_WIDTH = 2.6  # person mask wider than this many shoulder widths at chest height: someone beside them
DARK_LUMA = 60  # the frame's brightest tenth darker than this (0-255): nothing can be judged
MIN_CHROMA = 4.0  # Lab chroma that no pixel of a grey or infrared frame reaches (they give 0-1)
# the share of the frame's most colourful pixels that must reach MIN_CHROMA: a colour camera shows some colour
# (skin, anything painted) even where a person in grey stands before a grey wall as a twentieth of a 16:9 frame;
# at the 90th percentile such a frame was called colourless and every colour rule said unknown
COLOURFUL_SHARE = 0.0005


def assess_framing(pose: Keypoints | None, faces: list[Box], min_visibility: float = 0.5,
                   min_facing_ratio: float = 0.45, person_mask: np.ndarray | None = None,
                   mirrored: bool = False, image: np.ndarray | None = None) -> Framing:
    people = count_people(pose, faces, person_mask)
    issues: list[str] = []
    if image is not None:
        issues += light_issues(image)
    if pose is None:
        # MediaPipe finds a body from its face: a body without a head in view gives no pose, and so does a face
        # too close to the camera for a body to show
        size = (person_mask.shape[1], person_mask.shape[0]) if person_mask is not None else \
            (image.shape[1], image.shape[0]) if image is not None else (1, 1)
        issues.append("no_person" if not people else "body_out_of_view" if _too_close(faces, size)
                      else "head_out_of_view")
    else:
        if people > 1:
            issues.append("several_people")
        margin = 0.01 * pose.image_size[1]
        vis = [pose.visible(n, min_visibility, margin) for n in ("nose", "left_shoulder", "right_shoulder")]
        if not all(vis):
            issues.append("head_out_of_view")
        if not all(pose.visible(n, min_visibility, margin) for n in FEET):
            issues.append("feet_out_of_view")
        if all(vis[1:]) and not _facing(pose, min_facing_ratio, mirrored):
            issues.append("not_facing")
    if pose is None and people > 1:
        issues.append("several_people")
    return _framing(people, issues)


def _framing(people: int, issues: list[str]) -> Framing:
    """The framing these issues make: the first to fix is what the person is told."""
    issues = sorted(issues, key=list(_MESSAGES).index)
    if not issues:
        return Framing(True, people)
    zh, en = _MESSAGES[issues[0]]
    # a grey camera still frames a person: the session goes on and the colour rules answer unknown, saying why
    return Framing(all(i in NOT_BLOCKING for i in issues), people, zh, en, tuple(issues))


def count_people(pose: Keypoints | None, faces: list[Box], person_mask: np.ndarray | None) -> int:
    """People in view, from every source that can see one: faces, the person mask's separate blobs, and a mask much
    wider than the posed person at chest height (two people standing close merge into one blob)."""
    if person_mask is None:
        return max(len(faces), 1 if pose is not None else 0)
    h, w = person_mask.shape
    binary = (person_mask > 0.5).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    blobs = int(((areas >= MIN_PERSON_SHARE * h * w) & (areas >= 0.25 * areas.max(initial=0))).sum())
    people = max(len(faces), blobs, 1 if pose is not None else 0)
    if pose is not None and pose.visible("left_shoulder") and pose.visible("right_shoulder"):
        s = body_scale(pose)
        chest = (pose.point("left_shoulder") + pose.point("right_shoulder")) / 2
        y = int(np.clip(chest[1] + 0.4 * s, 0, h - 1))
        row = binary[y]
        x = int(np.clip(chest[0], 0, w - 1))
        if row[x]:  # the run of person pixels through the chest, left and right of it
            left = x - int(np.argmin(row[x::-1])) if not row[x::-1].all() else 0
            right = x + int(np.argmin(row[x:])) if not row[x:].all() else w
            if right - left > SIDE_BY_SIDE_WIDTH * s and blobs < 2 and len(faces) < 2:
                people = max(people, 2)
    return people


def _too_close(faces: list[Box], size: tuple[int, int]) -> bool:
    """A face filling much of the frame with no body found: the person stands too close. Without one (no face, or
    only a small one, often a false find on the clothes) it is the head that is missing."""
    w, h = size
    return any(f.width >= 0.2 * w or f.height >= 0.25 * h for f in faces)


def light_issues(image: np.ndarray) -> list[str]:
    """Whether the frame is too dark to judge, or carries no colour (a grey or infrared camera): skin, uniform colour
    and the footwear classifier read colour, and a grey frame would pass bare feet as closed shoes."""
    # 256 px wide: the face and hands of a person far back are still a few pixels each
    small = cv2.resize(image, (256, 256 * image.shape[0] // max(image.shape[1], 1) or 1),
                       interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB).astype(np.float32)
    chroma = np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
    issues = []
    # the whole frame, not the person: dark clothes in a well-lit room are not a dark frame
    if float(np.percentile(lab[..., 0], 90)) < DARK_LUMA:
        issues.append("too_dark")
    if float(np.percentile(chroma, 100 * (1 - COLOURFUL_SHARE))) < MIN_CHROMA:
        issues.append("no_colour")
    return issues


def _facing(pose: Keypoints, min_ratio: float, mirrored: bool = False) -> bool:
    ls, rs = pose.point("left_shoulder"), pose.point("right_shoulder")
    lh, rh = pose.point("left_hip"), pose.point("right_hip")
    # the person's own left shoulder is on the image's right when they face the camera, and on the image's left in
    # a mirrored (selfie) image; a back turned to the camera swaps them
    if (ls[0] <= rs[0]) != mirrored:
        return False
    torso_h = float(np.hypot(*((ls + rs) / 2 - (lh + rh) / 2)))
    shoulder_w = float(np.hypot(*(ls - rs)))
    return torso_h <= 0 or shoulder_w / torso_h >= min_ratio


def body_speed(before: Keypoints, after: Keypoints, seconds: float, min_visibility: float = 0.5) -> float | None:
    """How fast the body moved between two poses of one camera, in shoulder widths (`body_scale`) per second: the
    fastest of MOTION_PARTS (the torso, each foot). None where no time passed, the frame size changed or
    no part was seen in both."""
    if seconds <= 0 or before.image_size != after.image_size:
        return None
    speeds = []
    for part in MOTION_PARTS:
        seen = [n for n in part if before.visible(n, min_visibility) and after.visible(n, min_visibility)]
        if len(seen) >= 2:
            speeds.append(float(np.median([np.hypot(*(after.point(n) - before.point(n))) for n in seen])))
    if not speeds:
        return None
    return max(speeds) / body_scale(after) / seconds


def with_motion(framing: Framing, speed: float | None, max_speed: float) -> Framing:
    """The frame's framing, told to hold still where the body moved faster than `max_speed`: motion blur starts to
    hide open toes and jewellery at a few pixels. A speed not known (a person's first frame) does not stop it."""
    if speed is None or speed <= max_speed:
        return framing
    return _framing(framing.people, [*framing.issues, "moving"])
