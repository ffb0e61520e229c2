"""MediaPipe (0.10.21, models shipped inside the wheel) behind the small interfaces in `models.interfaces`.

Only complexity-1 pose is used: complexity 0 and 2 download their weights at run time and fail offline.
"""
from __future__ import annotations

import os

os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ INFO/WARNING lines flood the CLI otherwise

import cv2
import numpy as np

from models.perception import Box, Keypoints


def _mediapipe():
    try:
        import mediapipe as mp
    except ImportError as exc:  # pragma: no cover - only on a broken install
        raise RuntimeError(f"MediaPipe is not installed ({exc}); run `pip install -e .`") from exc
    return mp


class MediaPipePose:
    """Single-person 33-landmark pose.

    `tracking=True` reuses the previous frame's person box (a live camera, ~2x faster); photos use False so that one
    photo never leaks into the next.
    """

    def __init__(self, tracking: bool = False, min_detection_confidence: float = 0.5) -> None:
        mp = _mediapipe()
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=not tracking,
            model_complexity=1,
            smooth_landmarks=tracking,
            enable_segmentation=False,
            min_detection_confidence=min_detection_confidence,
        )

    def estimate(self, image_bgr: np.ndarray) -> Keypoints | None:
        h, w = image_bgr.shape[:2]
        result = self._pose.process(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
        if result.pose_landmarks is None:
            return None
        lm = result.pose_landmarks.landmark
        xy = np.array([[p.x * w, p.y * h] for p in lm], dtype=np.float32)
        vis = np.array([p.visibility for p in lm], dtype=np.float32)
        return Keypoints(xy, vis, (w, h))

    def close(self) -> None:
        self._pose.close()


class MediaPipeSegmenter:
    """Selfie segmentation, landscape model (model_selection=1): P(person) per pixel."""

    def __init__(self) -> None:
        mp = _mediapipe()
        self._seg = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=1)

    def segment(self, image_bgr: np.ndarray, window: tuple[int, int, int, int] | None = None) -> np.ndarray:
        if window is not None:
            x0, y0, x1, y1 = window
            return self.segment(np.ascontiguousarray(image_bgr[y0:y1, x0:x1]))
        result = self._seg.process(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
        return np.clip(result.segmentation_mask, 0.0, 1.0).astype(np.float32)

    def close(self) -> None:
        self._seg.close()


class MediaPipeFaces:
    """Full-range face detector (model_selection=1: faces up to ~5 m, as at a depot station)."""

    def __init__(self, min_confidence: float = 0.5) -> None:
        mp = _mediapipe()
        self._faces = mp.solutions.face_detection.FaceDetection(model_selection=1,
                                                                min_detection_confidence=min_confidence)

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        h, w = image_bgr.shape[:2]
        result = self._faces.process(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
        boxes = []
        for det in result.detections or []:
            rb = det.location_data.relative_bounding_box
            box = Box(rb.xmin * w, rb.ymin * h, (rb.xmin + rb.width) * w, (rb.ymin + rb.height) * h,
                      float(det.score[0]), "face").clip(w, h)
            if box.area > 0:
                boxes.append(box)
        return boxes

    def close(self) -> None:
        self._faces.close()
