"""Frame sources: the webcam, a video or photo file, a folder of photos, and the shipped demo frames."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from station.imageio import IMAGE_SUFFIXES, ImageError, list_images, read_image

DEMO_DIR = Path(__file__).parent / "demo"


class SourceError(RuntimeError):
    pass


def photo_frames(paths: list[Path], repeat: int = 1) -> Iterator[np.ndarray]:
    for _ in range(repeat):
        for path in paths:
            yield read_image(path)


def video_frames(path: Path) -> Iterator[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SourceError(f"{path}: cannot open as a video")
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield frame
    finally:
        cap.release()


def camera_frames(device: int | str, width: int, height: int, fps: int = 30) -> Iterator[np.ndarray]:
    cap = cv2.VideoCapture(device)
    if not cap.isOpened():
        raise SourceError(f"camera {device!r} not found: check the cable, or use --source demo")
    cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
    cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
    cap.set(cv2.CAP_PROP_FPS, fps)
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                raise SourceError(f"camera {device!r} stopped sending frames")
            yield frame
    finally:
        cap.release()


def open_source(spec: str, camera_device: int | str = 0, width: int = 1280, height: int = 720,
                repeat: int = 1, fps: int = 30) -> Iterator[np.ndarray]:
    """'demo', 'webcam', a photo, a folder of photos, or a video file."""
    if spec == "demo":
        return photo_frames(list_images(DEMO_DIR), repeat)
    if spec == "webcam":
        return camera_frames(camera_device, width, height, fps)
    path = Path(spec)
    if path.is_dir():
        photos = list_images(path)
        if not photos:
            raise SourceError(f"{path}: no photos in this folder")
        return photo_frames(photos, repeat)
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        read_image(path)  # fail now, with the image's own message, rather than mid-session
        return photo_frames([path], repeat)
    return video_frames(path)


__all__ = ["open_source", "SourceError", "ImageError", "DEMO_DIR"]
