"""Frame sources: the webcam, a video or photo file, a folder of photos, and the shipped demo frames."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from station.imageio import IMAGE_SUFFIXES, ImageError, list_images, read_image

DEMO_DIR = Path(__file__).parent / "demo"


def demo_people() -> list[Path]:
    return list_images(DEMO_DIR / "people")


def with_demo_uniform(config):
    """The demo people wear the uniform enrolled from the demo's reference photo: a station that has not enrolled its
    own yet judges them against that one, so the demo shows a PASS and a FAIL out of the box."""
    if config.resolve(config.uniform.prototypes).exists():
        return config
    uniform = config.uniform.model_copy(update={"prototypes": str(DEMO_DIR / "uniform.json")})
    return config.model_copy(update={"uniform": uniform})


def backdrop(height: int, width: int) -> np.ndarray:
    """An empty depot wall for the demo stream between two people (in colour: a grey frame reads as a grey camera)."""
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    top, bottom = np.array([200, 215, 225], np.float32), np.array([120, 140, 150], np.float32)
    wall = top + (bottom - top) * ramp
    return np.ascontiguousarray(np.broadcast_to(wall, (height, width, 3)).astype(np.uint8))


def demo_stream(fps: int = 15, person_s: float = 12.0, empty_s: float = 4.0) -> Iterator[np.ndarray]:
    """The live demo: each demo person stands in front of the camera for `person_s` seconds, then the wall is empty
    for `empty_s`, then the next person, round and round, at `fps` frames a second."""
    import time

    people = [read_image(p) for p in demo_people()]
    if not people:
        raise SourceError(f"{DEMO_DIR / 'people'}: no demo photos")
    empty = backdrop(*people[0].shape[:2])
    frame_s = 1.0 / max(fps, 1)
    while True:
        for person in people:
            for frame, seconds in ((person, person_s), (empty, empty_s)):
                until = time.monotonic() + seconds
                while time.monotonic() < until:
                    yield frame
                    time.sleep(frame_s)


class SourceError(RuntimeError):
    pass


def photo_frames(paths: list[Path], repeat: int = 1) -> Iterator[np.ndarray]:
    """Each photo in turn, `repeat` times over; a few photos played round and round (a live source) are decoded once
    and each frame is a copy, so the capture thread does not decode the same file thirty times a second."""
    cached = {} if repeat > 1 and len(paths) <= 16 else None
    for _ in range(repeat):
        for path in paths:
            if cached is None:
                yield read_image(path)
                continue
            if path not in cached:
                cached[path] = read_image(path)
            yield cached[path].copy()


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
        return demo_stream(fps)
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


__all__ = ["open_source", "SourceError", "ImageError", "DEMO_DIR", "demo_people", "with_demo_uniform"]
