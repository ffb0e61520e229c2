"""The small interfaces every perception model hides behind, so checks and tests can swap in fakes."""
from __future__ import annotations

from typing import Protocol

import numpy as np

from models.perception import AttireFindings, Box, Keypoints


class PoseEstimator(Protocol):
    def estimate(self, image_bgr: np.ndarray) -> Keypoints | None: ...


class PersonSegmenter(Protocol):
    """(H, W) float32 P(person) for the whole frame; with a `window` (x0, y0, x1, y1), for that part of the frame
    alone, segmented at the model's own resolution: (y1 - y0, x1 - x0)."""

    def segment(self, image_bgr: np.ndarray, window: tuple[int, int, int, int] | None = None) -> np.ndarray: ...


class FaceDetector(Protocol):
    def detect(self, image_bgr: np.ndarray) -> list[Box]: ...


class AttireDetector(Protocol):
    """Badges, footwear and jewellery on one person, looked for in the body parts that the pose shows.

    The findings name the parts that were examined, so a check can tell "looked and found nothing" from "could not
    look". `classifiers` names the tile classifiers to run (those an enabled rule reads); None: all of them."""

    def detect(self, image_bgr: np.ndarray, pose: Keypoints | None,
               classifiers: set[str] | None = None) -> AttireFindings: ...
