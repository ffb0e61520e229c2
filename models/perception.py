"""Typed containers for what the models see. Checks read these and never touch MediaPipe or onnxruntime objects.

Coordinates are image pixels (x right, y down) of the frame that was judged.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# MediaPipe Pose's 33 landmarks, in its order. "left" is the person's OWN left (the adapter swaps the labels for a
# mirrored camera, so downstream code can trust these names).
POSE_NAMES: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
POSE_INDEX = {name: i for i, name in enumerate(POSE_NAMES)}


def swap_sides(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    if name == "mouth_left":
        return "mouth_right"
    if name == "mouth_right":
        return "mouth_left"
    return name


# Index permutation that turns the labels of a mirrored image into the person's own sides.
MIRROR_PERMUTATION = np.array([POSE_INDEX[swap_sides(n)] for n in POSE_NAMES])


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in pixels, with the score and label of whatever found it."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float = 1.0
    label: str = ""

    def __post_init__(self) -> None:
        if not (self.x2 >= self.x1 and self.y2 >= self.y1):
            raise ValueError(f"box corners out of order: {self}")

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return (self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2

    def contains(self, x: float, y: float) -> bool:
        """Whether the point lies in the box, edges included."""
        return self.x1 <= x <= self.x2 and self.y1 <= y <= self.y2

    def clip(self, width: int, height: int) -> "Box":
        return Box(max(0.0, min(self.x1, width)), max(0.0, min(self.y1, height)),
                   max(0.0, min(self.x2, width)), max(0.0, min(self.y2, height)), self.score, self.label)

    def as_int(self) -> tuple[int, int, int, int]:
        return int(round(self.x1)), int(round(self.y1)), int(round(self.x2)), int(round(self.y2))

    def to_dict(self) -> dict:
        return {"box": [round(v, 1) for v in (self.x1, self.y1, self.x2, self.y2)], "score": round(self.score, 3),
                "label": self.label}


@dataclass(frozen=True)
class Keypoints:
    """One person's pose: (K, 2) pixel coordinates and (K,) visibility in [0, 1].

    MediaPipe gives coordinates for landmarks it cannot see (feet below the frame edge): always ask `visible()`.
    """

    xy: np.ndarray
    visibility: np.ndarray
    image_size: tuple[int, int]  # (width, height) of the frame the coordinates belong to

    def __post_init__(self) -> None:
        xy = np.asarray(self.xy, dtype=np.float32)
        vis = np.asarray(self.visibility, dtype=np.float32)
        if xy.shape != (len(POSE_NAMES), 2):
            raise ValueError(f"keypoints xy must be ({len(POSE_NAMES)}, 2), got {xy.shape}")
        if vis.shape != (len(POSE_NAMES),):
            raise ValueError(f"keypoints visibility must be ({len(POSE_NAMES)},), got {vis.shape}")
        object.__setattr__(self, "xy", xy)
        object.__setattr__(self, "visibility", vis)

    def point(self, name: str) -> np.ndarray:
        return self.xy[POSE_INDEX[name]]

    def visible(self, name: str, min_visibility: float = 0.5, margin: float = 0.0) -> bool:
        """Seen by the model AND inside the frame (with `margin` pixels to spare)."""
        i = POSE_INDEX[name]
        x, y = self.xy[i]
        w, h = self.image_size
        return bool(self.visibility[i] >= min_visibility and margin <= x < w - margin and margin <= y < h - margin)

    def mirrored(self) -> "Keypoints":
        """The same pose with left/right labels swapped (for a camera that shows a mirror image)."""
        return Keypoints(self.xy[MIRROR_PERMUTATION], self.visibility[MIRROR_PERMUTATION], self.image_size)


@dataclass(frozen=True)
class Region:
    """A named body region: a convex polygon in pixels."""

    name: str
    polygon: np.ndarray  # (N, 2) float32

    def __post_init__(self) -> None:
        poly = np.asarray(self.polygon, dtype=np.float32)
        if poly.ndim != 2 or poly.shape[1] != 2 or len(poly) < 3:
            raise ValueError(f"region {self.name!r} needs an (N>=3, 2) polygon, got {poly.shape}")
        object.__setattr__(self, "polygon", poly)

    @property
    def box(self) -> Box:
        x1, y1 = self.polygon.min(axis=0)
        x2, y2 = self.polygon.max(axis=0)
        return Box(float(x1), float(y1), float(x2), float(y2), label=self.name)

    def local_mask(self, width: int, height: int) -> tuple[tuple[int, int, int, int], np.ndarray]:
        """The polygon's box clipped to the frame, (x1, y1, x2, y2), and a boolean mask of that box.

        Region-sized work: a full-frame mask costs milliseconds per region at 1280x720.
        """
        import cv2

        x1, y1, x2, y2 = self.box.clip(width, height).as_int()
        m = np.zeros((max(y2 - y1, 0), max(x2 - x1, 0)), dtype=np.uint8)
        if m.size:
            cv2.fillPoly(m, [np.round(self.polygon - (x1, y1)).astype(np.int32)], 1)
        return (x1, y1, x2, y2), m.astype(bool)

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        """Boolean (H, W) mask of the polygon."""
        (x1, y1, x2, y2), local = self.local_mask(shape[1], shape[0])
        m = np.zeros(shape[:2], dtype=bool)
        m[y1:y2, x1:x2] = local
        return m


@dataclass(frozen=True)
class Framing:
    """Whether the person stands where the station can judge the whole body, and what to tell them if not."""

    ok: bool
    people: int
    instruction_zh: str = ""
    instruction_en: str = ""
    issues: tuple[str, ...] = ()  # machine-readable codes, e.g. ("feet_out_of_view",)

    @property
    def still(self) -> bool:
        """False where the body moved too fast for a sharp picture in the moments before the frame (a live camera
        only): such a frame is shown, not judged."""
        return "moving" not in self.issues


@dataclass(frozen=True)
class AttireFindings:
    """What the attire models saw on one person.

    `tiles` names every body part that was looked at and where (the square of the frame the model saw), so a check
    can tell "looked and found nothing" from "could not look", and "too small to tell" from either.
    `operating_points` are the thresholds chosen for these models on validation data (their manifests), e.g.
    {"footwear.open": 0.4}; a check uses them unless the policy sets its own.
    """

    boxes: list[Box] = field(default_factory=list)  # frame pixels, label = class (badge, bracelet, ...)
    tiles: dict[str, Box] = field(default_factory=dict)  # part -> frame square: torso, head, hand_left, foot_left, ...
    classified: dict[str, dict[str, float]] = field(default_factory=dict)  # part -> class probabilities
    operating_points: dict[str, float] = field(default_factory=dict)

    @property
    def examined(self) -> tuple[str, ...]:
        return tuple(self.tiles)


@dataclass
class Perception:
    """Everything the checks may read about one frame."""

    image: np.ndarray  # (H, W, 3) BGR uint8
    pose: Keypoints | None
    person_mask: np.ndarray | None  # (H, W) float32 in [0, 1]: probability that a pixel is the judged person
    faces: list[Box]
    regions: dict[str, Region]
    framing: Framing
    skin: np.ndarray | None = None  # (H, W) float32 in [0, 1], adapted to this person's face when one is seen
    attire: AttireFindings = field(default_factory=AttireFindings)

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(f"image must be (H, W, 3) uint8, got {self.image.shape} {self.image.dtype}")
        hw = self.image.shape[:2]
        for name in ("person_mask", "skin"):
            arr = getattr(self, name)
            if arr is not None and arr.shape != hw:
                raise ValueError(f"{name} must be {hw}, got {arr.shape}")

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]

    @property
    def detections(self) -> list[Box]:
        return self.attire.boxes

    @property
    def examined(self) -> tuple[str, ...]:
        return self.attire.examined

    @property
    def classified(self) -> dict[str, dict[str, float]]:
        return self.attire.classified

    def region(self, name: str) -> Region | None:
        return self.regions.get(name)
