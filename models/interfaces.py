"""The small interfaces every perception model hides behind, so checks and tests can swap in fakes."""
from __future__ import annotations

from typing import Protocol

import numpy as np

from models.perception import Box, Keypoints


class PoseEstimator(Protocol):
    def estimate(self, image_bgr: np.ndarray) -> Keypoints | None: ...


class PersonSegmenter(Protocol):
    def segment(self, image_bgr: np.ndarray) -> np.ndarray: ...  # (H, W) float32 P(person)


class FaceDetector(Protocol):
    def detect(self, image_bgr: np.ndarray) -> list[Box]: ...


class ObjectDetector(Protocol):
    """Trained attire detectors (badge, footwear, jewellery) arrive through this in a later step."""

    def detect(self, image_bgr: np.ndarray) -> list[Box]: ...
