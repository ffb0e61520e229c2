"""Body regions in image pixels, built from the pose.

Names use the person's OWN sides ("chest_left" is the wearer's left chest, which is the image's right for a camera
that is not mirrored). Keypoints arrive already side-corrected for a mirrored camera (see `Keypoints.mirrored`).
A region exists only when every keypoint it is built from is visible, so a check can tell "not seen" from "clean".
"""
from __future__ import annotations

import numpy as np

from models.perception import POSE_INDEX, Keypoints, Region

SIDES = ("left", "right")
# (region, from joint, to joint, width in body scales, start, end as fractions of the segment)
LIMB_SEGMENTS = (
    ("upper_arm", "shoulder", "elbow", 0.28, 0.0, 1.0),
    ("forearm", "elbow", "wrist", 0.24, 0.0, 1.0),
    # the half of the forearm next to the wrist: bare skin here means a rolled cuff or a short sleeve
    ("forearm_lower", "elbow", "wrist", 0.22, 0.5, 0.95),
    ("thigh", "hip", "knee", 0.38, 0.0, 1.0),
    ("shin", "knee", "ankle", 0.3, 0.0, 1.0),
    # the upper half of the shin, below the knee: bare here means shorts or a skirt, not a turned-up hem
    ("shin_upper", "knee", "ankle", 0.28, 0.05, 0.5),
    # just above the ankle: bare skin here (with long trousers required) means a rolled trouser leg
    ("shin_lower", "knee", "ankle", 0.26, 0.7, 1.0),
)
FOOT_VISIBILITY = 0.4  # feet are small and often rated lower than they deserve


def _limb(name: str, a: np.ndarray, b: np.ndarray, width: float, t0: float = 0.0, t1: float = 1.0) -> Region:
    """A rectangle of `width` along the segment a->b, between fractions t0 and t1 of its length."""
    d = b - a
    length = float(np.hypot(*d)) or 1.0
    n = np.array([-d[1], d[0]], dtype=np.float32) / length * (width / 2)
    p0, p1 = a + d * t0, a + d * t1
    return Region(name, np.stack([p0 + n, p1 + n, p1 - n, p0 - n]))


def _square(name: str, c: np.ndarray, half: float) -> Region:
    x, y = float(c[0]), float(c[1])
    return Region(name, np.array([[x - half, y - half], [x + half, y - half], [x + half, y + half],
                                  [x - half, y + half]], dtype=np.float32))


def _hull(name: str, points: list[np.ndarray], pad: float) -> Region:
    import cv2

    pts = np.array(points, dtype=np.float32)
    centre = pts.mean(axis=0)
    spread = pts - centre
    norms = np.linalg.norm(spread, axis=1, keepdims=True)
    pts = pts + spread / np.maximum(norms, 1e-3) * pad  # push each point outward by `pad`
    # a square of `pad` around every point keeps the hull from degenerating when points nearly coincide
    corners = np.concatenate([pts + np.array(o, dtype=np.float32) * pad
                              for o in ((-1, -1), (1, -1), (1, 1), (-1, 1))])
    hull = cv2.convexHull(corners).reshape(-1, 2)
    return Region(name, hull)


def body_scale(kp: Keypoints) -> float:
    """A length in pixels that tracks body size: shoulder width, but not less than a share of torso height
    (a person turned sideways has narrow shoulders and must not shrink every region to nothing)."""
    ls, rs = kp.point("left_shoulder"), kp.point("right_shoulder")
    lh, rh = kp.point("left_hip"), kp.point("right_hip")
    shoulder_w = float(np.hypot(*(ls - rs)))
    torso_h = float(np.hypot(*((ls + rs) / 2 - (lh + rh) / 2)))
    return max(shoulder_w, 0.55 * torso_h, 1.0)


SURE_FOOT = 0.7  # a foot MediaPipe rates this high is where it says (a shadow must not move it)
TOE_TO_SOLE = 0.18  # body scales from the toe keypoint down to where the silhouette ends: the median on ccp-public
FOOT_DISPLACED = 0.35  # the silhouette ends this far below the toe: the pose put the foot on the shin
HEM_WIDTH = 1.2  # body scales: on ccp-public feet and trouser legs 0.15 s above the silhouette's end are 0.4-1.0


def feet_on_silhouette(kp: Keypoints, person_mask: np.ndarray, min_visibility: float = 0.1) -> Keypoints:
    """The pose with each foot MediaPipe is unsure of checked against where the person's silhouette ends.

    Under a long skirt, wide trousers or tights MediaPipe often rates the feet below FOOT_VISIBILITY (dropping them)
    or puts them on the shins. When the silhouette below that ankle ends inside the frame, it shows where the foot
    is: a foot the silhouette confirms counts as seen, and one far above the silhouette's end is moved down to it.
    Where the silhouette runs off the bottom of the frame (feet cut off) or stops above the toe (something in front),
    nothing changes.
    """
    h, w = person_mask.shape
    s = body_scale(kp)
    xy, vis = kp.xy.copy(), kp.visibility.copy()
    for side in SIDES:
        idx = [POSE_INDEX[f"{side}_{j}"] for j in ("ankle", "heel", "foot_index")]
        ankle, toe = xy[idx[0]], xy[idx[2]]
        v = min(vis[idx[0]], vis[idx[2]])
        if v >= SURE_FOOT or v < min_visibility:
            continue
        x0, x1 = int(max(0.0, ankle[0] - 0.35 * s)), int(min(float(w), ankle[0] + 0.35 * s))
        y0 = int(np.clip(ankle[1], 0, h - 1))
        if x1 <= x0:
            continue
        # the silhouette below the ankle, row by row, until a row of the band holds none of it
        rows = (person_mask[y0:, x0:x1] > 0.5).sum(axis=1) >= max(2, int(0.04 * s))
        gaps = np.flatnonzero(~rows)
        if len(gaps) == 0 or gaps[0] == 0:
            continue  # runs off the frame's bottom, or the ankle is not on the silhouette
        end = y0 + gaps[0] - 1
        gap = (end - toe[1]) / s
        # just above its end the silhouette of feet or trouser legs is narrow; a skirt or coat to the floor is not,
        # and its hem says nothing about the feet under it
        row = person_mask[max(0, end - int(0.15 * s)), int(max(0.0, ankle[0] - 1.5 * s)):int(ankle[0] + 1.5 * s)]
        if gap < -0.1 or (row > 0.5).sum() > HEM_WIDTH * s:
            continue
        if gap > FOOT_DISPLACED:
            xy[idx, 1] += (gap - TOE_TO_SOLE) * s
        vis[idx] = np.maximum(vis[idx], FOOT_VISIBILITY)
    return Keypoints(xy, vis, kp.image_size)


def build_regions(kp: Keypoints, min_visibility: float = 0.5) -> dict[str, Region]:
    def vis(*names: str) -> bool:
        return all(kp.visible(n, min_visibility) for n in names)

    P = kp.point
    s = body_scale(kp)
    regions: dict[str, Region] = {}

    if vis("left_shoulder", "right_shoulder"):
        ls, rs = P("left_shoulder"), P("right_shoulder")
        neck_base = (ls + rs) / 2
        hips_seen = vis("left_hip", "right_hip")
        if hips_seen:
            lh, rh = P("left_hip"), P("right_hip")
        else:  # upper-body photo, hips below the frame: shoulder-to-hip is ~1.25 shoulder widths in adults
            down = np.array([0.0, 1.25 * s], dtype=np.float32)
            lh, rh = ls + down, rs + down
        # Chest: from a little below the shoulder line to mid-torso, inset from the arm joints.
        def lerp(a, b, t):
            return a + (b - a) * t

        inset = 0.12
        l_top = lerp(lerp(ls, rs, inset), lerp(lh, rh, inset), 0.08)
        r_top = lerp(lerp(rs, ls, inset), lerp(rh, lh, inset), 0.08)
        l_mid = lerp(lerp(ls, rs, inset), lerp(lh, rh, inset), 0.55)
        r_mid = lerp(lerp(rs, ls, inset), lerp(rh, lh, inset), 0.55)
        c_top, c_mid = (l_top + r_top) / 2, (l_mid + r_mid) / 2
        regions["chest_left"] = Region("chest_left", np.stack([c_top, l_top, l_mid, c_mid]))
        regions["chest_right"] = Region("chest_right", np.stack([r_top, c_top, c_mid, r_mid]))
        regions["chest"] = Region("chest", np.stack([r_top, l_top, l_mid, r_mid]))
        full_torso = np.stack([lerp(ls, rs, 0.08), lerp(rs, ls, 0.08), lerp(rh, lh, 0.05), lerp(lh, rh, 0.05)])
        # where a badge on a lanyard may hang: the front of the torso down to the waist. A card hangs plumb while
        # the body turns, and hip joints sit inside the body's outline, so the zone is the shoulder-hip hull grown
        # by a margin; a long lanyard reaches the hip line, and where the hips are only assumed (upper-body view)
        # that line is itself uncertain: 15% further down.
        regions["lanyard"] = _hull("lanyard", [ls, rs, lerp(ls, lh, 1.15), lerp(rs, rh, 1.15)], 0.12 * s)
        # the clothes judged for the uniform; without hips in view, only the part surely above the frame's edge
        regions["torso"] = Region("torso", full_torso if hips_seen else
                                  np.stack([lerp(ls, rs, 0.1), lerp(rs, ls, 0.1), r_mid, l_mid]))
        if hips_seen:
            # the front of a jacket: a strip down the middle from below the collar to the belt, and one strip on each
            # side of it, halfway to the shoulder; an open jacket shows another garment in the middle strip only
            mid_top, mid_bottom = lerp(neck_base, (lh + rh) / 2, 0.12), lerp(neck_base, (lh + rh) / 2, 0.92)
            across = (ls - rs) / max(float(np.hypot(*(ls - rs))), 1.0)  # towards the wearer's left shoulder
            regions["front_centre"] = _limb("front_centre", mid_top, mid_bottom, 0.14 * s)
            for side, sign in (("left", 1.0), ("right", -1.0)):
                off = across * sign * 0.3 * s
                regions[f"front_{side}"] = _limb(f"front_{side}", mid_top + off, mid_bottom + off, 0.14 * s)
        if vis("nose"):
            mouth = (P("mouth_left") + P("mouth_right")) / 2 if vis("mouth_left", "mouth_right") else P("nose")
            chin = mouth + (neck_base - mouth) * 0.35
            regions["neck"] = _limb("neck", chin, neck_base, 0.35 * s)

    if vis("left_hip", "right_hip", "left_knee", "right_knee"):
        # between the legs, from below the crotch to the knees: open to the background in trousers, filled by
        # cloth in a skirt or a dress (legs must stand apart for it to tell anything: see checks.legwear)
        lh, rh, lk, rk = P("left_hip"), P("right_hip"), P("left_knee"), P("right_knee")
        crotch = (lh + rh) / 2 + ((lk + rk) / 2 - (lh + rh) / 2) * 0.35
        inward = 0.12 * s
        toward = (rk - lk) / max(float(np.hypot(*(rk - lk))), 1.0)
        lk_in, rk_in = lk + toward * inward, rk - toward * inward
        if float(np.hypot(*(rk_in - lk_in))) > 0.1 * s and np.dot(rk_in - lk_in, rk - lk) > 0:
            regions["leg_gap"] = Region("leg_gap", np.stack([crotch, rk_in, lk_in]))

    for side in SIDES:
        for name, a, b, width, t0, t1 in LIMB_SEGMENTS:
            if vis(f"{side}_{a}", f"{side}_{b}"):
                regions[f"{name}_{side}"] = _limb(f"{name}_{side}", P(f"{side}_{a}"), P(f"{side}_{b}"), width * s,
                                                  t0, t1)
        wr, ear, ank = f"{side}_wrist", f"{side}_ear", f"{side}_ankle"
        if vis(wr):
            regions[f"wrist_{side}"] = _square(f"wrist_{side}", P(wr), 0.12 * s)
            fingers = [P(f"{side}_{f}") for f in ("pinky", "index", "thumb") if vis(f"{side}_{f}")]
            if fingers:
                regions[f"hand_{side}"] = _hull(f"hand_{side}", [P(wr), *fingers], 0.08 * s)
        if vis(ear):
            regions[f"ear_{side}"] = _square(f"ear_{side}", P(ear) + np.array([0, 0.05 * s]), 0.11 * s)
        heel, toe = f"{side}_heel", f"{side}_foot_index"
        # facing the camera, the heel hides behind the foot and MediaPipe rates it low: ankle and toe suffice
        if kp.visible(ank, FOOT_VISIBILITY) and kp.visible(toe, FOOT_VISIBILITY):
            back = P(heel) if kp.visible(heel, 0.2) else P(ank)
            regions[f"foot_{side}"] = _hull(f"foot_{side}", [P(ank), back, P(toe)], 0.07 * s)
            # the front of the foot: open footwear shows toes, while even pumps and flats cover them
            front = P(ank) + (P(toe) - P(ank)) * 0.5
            regions[f"toes_{side}"] = _hull(f"toes_{side}", [front, P(toe)], 0.05 * s)
    return regions
