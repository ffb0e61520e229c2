"""Pose-guided crops: the small body parts the attire detector looks at, cut at a size set by the body.

A badge, a ring or a sandal strap is a few pixels in a full 1280x720 frame, so the detector never sees the whole
frame. It sees square tiles around the torso, the head and neck, each hand and the feet, each scaled to the
detector's input. The side of each square is a multiple of the body scale, so a tile shows the same part of the body
at the same size whoever stands at whatever distance. Training cuts its tiles with these same functions, from the
same pose model, so what the model learns is what it is shown at run time.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models.perception import Box, Keypoints
from models.regions import FOOT_VISIBILITY, body_scale

HIDDEN_KNEE_VISIBILITY = 0.25

# What each tile is cut to judge: a box of another class in it (a "shoe" in a hand tile, a "badge" in the head
# tile where the lanyard starts) is the detector guessing outside its tile's purpose, and is dropped. A badge held in
# front of the body is in the torso tile.
PART_CLASSES = {
    "torso": {"badge", "necklace"},
    "head": {"necklace", "sunglasses", "glasses"},
    "hand_left": {"bracelet", "watch", "ring"},
    "hand_right": {"bracelet", "watch", "ring"},
}
PAD_VALUE = 114  # ultralytics' letterbox grey, so padding outside the frame looks like what the model trained on


@dataclass(frozen=True)
class Crop:
    """A square window of the frame, in frame pixels; it may reach past the frame's edges (padded when cut)."""

    part: str  # torso, head, hand_left, hand_right (attire_crops), foot_left, foot_right (foot_crops)
    x: float  # left
    y: float  # top
    side: float

    def __post_init__(self) -> None:
        if not self.side > 0:
            raise ValueError(f"crop {self.part!r} needs a positive side, got {self.side}")

    def cut(self, image: np.ndarray, size: int) -> np.ndarray:
        """The window resized to size x size (one warp: crop, pad and resize together)."""
        k = size / self.side
        m = np.array([[k, 0, -self.x * k], [0, k, -self.y * k]], dtype=np.float32)
        interp = cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR
        return cv2.warpAffine(image, m, (size, size), flags=interp, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=(PAD_VALUE,) * 3)

    def to_frame(self, box: Box, size: int) -> Box:
        """A box in tile pixels (a tile cut at `size`) back in frame pixels."""
        k = self.side / size
        return Box(self.x + box.x1 * k, self.y + box.y1 * k, self.x + box.x2 * k, self.y + box.y2 * k,
                   box.score, box.label)

    @property
    def box(self) -> Box:
        """The window in frame pixels, labelled with its part."""
        return Box(self.x, self.y, self.x + self.side, self.y + self.side, 1.0, self.part)

    def to_tile(self, box: Box, size: int) -> Box:
        """A frame box in tile pixels, unclipped (training labels)."""
        k = size / self.side
        return Box((box.x1 - self.x) * k, (box.y1 - self.y) * k, (box.x2 - self.x) * k, (box.y2 - self.y) * k,
                   box.score, box.label)


def _square(part: str, points: np.ndarray, margin: float, min_side: float) -> Crop:
    """The smallest square around `points` grown by `margin` on every side (and at least `min_side`)."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    side = max(float((hi - lo).max()) + 2 * margin, min_side)
    cx, cy = (lo + hi) / 2
    return Crop(part, float(cx - side / 2), float(cy - side / 2), side)


def attire_crops(kp: Keypoints, min_visibility: float = 0.5) -> list[Crop]:
    """The tiles to show the attire detector for this pose; a part that is not in view gets no tile."""
    def vis(*names: str, level: float = min_visibility) -> bool:
        return all(kp.visible(n, level) for n in names)

    P = kp.point
    s = body_scale(kp)
    crops: list[Crop] = []
    if vis("left_shoulder", "right_shoulder"):
        ls, rs = P("left_shoulder"), P("right_shoulder")
        if vis("left_hip", "right_hip"):
            hips = [P("left_hip"), P("right_hip")]
        else:  # upper-body photo: hips ~1.25 shoulder widths below the shoulders (as in models.regions)
            hips = [ls + (0, 1.25 * s), rs + (0, 1.25 * s)]
        # shoulders to hips with room for a card hanging on a lanyard or clipped at the pocket
        crops.append(_square("torso", np.array([ls, rs, *hips]), 0.2 * s, s))
        if vis("nose"):
            neck = (ls + rs) / 2
            ears = [P(e) for e in ("left_ear", "right_ear") if vis(e, level=0.3)]
            # from above the ears to below the collarbones: earrings and a necklace's lowest point
            top = P("nose") - (0, 0.25 * s)
            crops.append(_square("head", np.array([top, neck + (0, 0.35 * s), *ears]), 0.15 * s, 1.1 * s))
    for side in ("left", "right"):
        wrist = f"{side}_wrist"
        if not vis(wrist):
            continue
        fingers = [P(f"{side}_{f}") for f in ("pinky", "index", "thumb") if vis(f"{side}_{f}", level=0.3)]
        # the wrist (watch, bracelet) and the fingers (rings); the hand points away from the elbow
        tip = np.mean(fingers, axis=0) if fingers else P(wrist)
        crops.append(_square(f"hand_{side}", np.array([P(wrist), tip]), 0.3 * s, 0.7 * s))
    return crops


def limb_crops(kp: Keypoints, min_visibility: float = 0.5) -> list[Crop]:
    """One square tile per lower forearm and per lower shin, for the cuffs classifier: the end of the sleeve with
    the wrist below it, and the trouser hem with the ankle and the top of the shoe below it."""
    s = body_scale(kp)
    crops = []
    for side in ("left", "right"):
        for part, a, b, at, length_k, min_k in (("forearm", "elbow", "wrist", 0.7, 1.1, 0.45),
                                               ("shin", "knee", "ankle", 0.8, 0.9, 0.5)):
            # wide trousers hide the knee and MediaPipe rates it low: the hem at the ankle is what is judged
            level = min(min_visibility, FOOT_VISIBILITY) if part == "shin" else min_visibility
            if not (kp.visible(f"{side}_{a}", level) and kp.visible(f"{side}_{b}", level)):
                continue
            pa, pb = kp.point(f"{side}_{a}"), kp.point(f"{side}_{b}")
            side_px = max(length_k * float(np.hypot(*(pb - pa))), min_k * s)
            cx, cy = pa + (pb - pa) * at
            crops.append(Crop(f"{part}_{side}", float(cx - side_px / 2), float(cy - side_px / 2), side_px))
    return crops


def foot_crops(kp: Keypoints, min_visibility: float = FOOT_VISIBILITY) -> list[Crop]:
    """One square tile per foot in view, for the footwear classifier: the foot from the ankle to the toes with the
    bottom of the trouser leg above it, about 0.7 shoulder widths wide whatever the distance."""
    s = body_scale(kp)
    crops = []
    for side in ("left", "right"):
        # feet are small and often rated lower than they deserve: never stricter than FOOT_VISIBILITY
        level = min(min_visibility, FOOT_VISIBILITY)
        if not (kp.visible(f"{side}_ankle", level) and kp.visible(f"{side}_foot_index", level)):
            continue
        ankle, toe = kp.point(f"{side}_ankle"), kp.point(f"{side}_foot_index")
        # facing the camera the toe is foreshortened to just below the ankle: the tile is sized by the body
        side_px = max(0.7 * s, 2.2 * float(np.hypot(*(toe - ankle))))
        cx, cy = (ankle + toe) / 2 + (0.0, 0.05 * s)
        crops.append(Crop(f"foot_{side}", float(cx - side_px / 2), float(cy - side_px / 2), side_px))
    return crops


def jewellery_crops(kp: Keypoints, min_visibility: float = 0.5) -> list[Crop]:
    """The tiles of the jewellery classifier: one per wrist in view (a watch or bracelet sits within about a third
    of a shoulder width of MediaPipe's wrist point) and one around the neck (a necklace lies from just above the
    shoulder line to half a shoulder width below it); measured on CCP's bracelet, watch and necklace masks."""
    s = body_scale(kp)
    crops = [Crop(f"wrist_{side}", *(kp.point(f"{side}_wrist") - 0.35 * s), 0.7 * s) for side in ("left", "right")
             if kp.visible(f"{side}_wrist", min_visibility)]
    if kp.visible("left_shoulder", min_visibility) and kp.visible("right_shoulder", min_visibility):
        neck = (kp.point("left_shoulder") + kp.point("right_shoulder")) / 2
        crops.append(Crop("neck", *(neck + (-0.45 * s, -0.35 * s)), 0.9 * s))
    return crops


def front_crops(kp: Keypoints, min_visibility: float = 0.5) -> list[Crop]:
    """The torso tile, named for the front-closed classifier (open jacket or not)."""
    return [Crop("front", c.x, c.y, c.side) for c in attire_crops(kp, min_visibility) if c.part == "torso"
            and kp.visible("left_hip", min_visibility) and kp.visible("right_hip", min_visibility)]


def legs_crops(kp: Keypoints, min_visibility: float = 0.5) -> list[Crop]:
    """Hips to the ankles, both legs in one tile: trousers down to the shoes, or shorts, a skirt or a dress and the
    legs below its hem (bare, in tights or in boots)."""
    names = ("left_hip", "right_hip", "left_knee", "right_knee")
    # a skirt, a dress or a long coat hides the knees and MediaPipe rates them low; the tile reaches from the hips
    # to about the ankles (the thigh's length again below the knees), so a roughly placed knee still cuts it right
    if not all(kp.visible(n, min_visibility if "hip" in n else min(min_visibility, HIDDEN_KNEE_VISIBILITY))
               for n in names):
        return []
    s = body_scale(kp)
    hips = (kp.point("left_hip") + kp.point("right_hip")) / 2
    knees = (kp.point("left_knee") + kp.point("right_knee")) / 2
    ankles = knees + (knees - hips) * 0.9
    # trousers whose lower legs the frame cuts off look like shorts to the classifier: no tile, "step back"
    if ankles[1] > kp.image_size[1]:
        return []
    return [_square("legs", np.array([kp.point(n) for n in names] + [ankles]), 0.15 * s, 0.9 * s)]


def beard_crops(kp: Keypoints, min_visibility: float = 0.5) -> list[Crop]:
    """The lower face for the beard classifier: upper lip, mouth, chin and jaw, a square 2.2 eye distances wide
    below the nose; none for a face turned away (eyes closer than 0.12 shoulder widths) or not seen."""
    names = ("nose", "mouth_left", "mouth_right", "left_eye", "right_eye")
    if not all(kp.visible(n, min_visibility) for n in names):
        return []
    eyes = float(np.hypot(*(kp.point("left_eye") - kp.point("right_eye"))))
    if eyes < 0.12 * body_scale(kp):
        return []
    side = 2.2 * eyes
    mouth = (kp.point("mouth_left") + kp.point("mouth_right")) / 2
    cx = (2 * mouth[0] + kp.point("nose")[0]) / 3
    cy = mouth[1] + 0.22 * eyes
    return [Crop("chin", float(cx - side / 2), float(cy - side / 2), side)]


# the tiles each tile classifier judges, by the name its manifest and the config give it
CLASSIFIER_TILES = {"footwear": foot_crops, "cuffs": limb_crops, "front": front_crops, "legwear": legs_crops,
                    "jewellery": jewellery_crops, "beard": beard_crops}
