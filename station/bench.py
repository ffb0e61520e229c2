"""`station bench`: per-stage latency (median, p95) and peak memory at a webcam frame size."""
from __future__ import annotations

import resource
from pathlib import Path

import cv2
import numpy as np

from station.config import StationConfig
from station.imageio import list_images, read_image
from station.pipeline import BESIDE_POSE, Pipeline
from station.sources import demo_people


def to_frame(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Place a photo in a webcam-sized frame (scaled to fit, centred, grey border), as the camera would see it."""
    scale = min(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.full((height, width, 3), 110, np.uint8)
    y0, x0 = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    frame[y0:y0 + resized.shape[0], x0:x0 + resized.shape[1]] = resized
    return frame


def bench(config: StationConfig, source: Path | None, frames: int = 40, width: int = 1280, height: int = 720,
          warmup: int = 3, tracking: bool = False, hold: int = 10) -> dict:
    """Photo mode runs the person detector on every frame (the slow case, as `check` and `eval` do). Tracking mode
    is the live station: each photo is held for `hold` frames, as a technician standing still before the camera,
    and the pose model follows the person instead of searching the frame again."""
    paths = list_images(source) if source is not None and source.is_dir() else [source] if source else \
        demo_people()
    if not paths:
        raise ValueError(f"{source}: no photos to benchmark")
    images = [to_frame(read_image(p), width, height) for p in paths[:50]]
    pipeline = Pipeline(config, tracking=tracking)
    samples: dict[str, list[float]] = {}
    for i in range(warmup + frames):
        result = pipeline.run(images[(i // hold if tracking else i) % len(images)])
        if i >= warmup:
            for stage, ms in result.timings_ms.items():
                samples.setdefault(stage, []).append(ms)
    stages = {k: {"median_ms": round(float(np.median(v)), 2), "p95_ms": round(float(np.percentile(v, 95)), 2),
                  "frames": len(v)} for k, v in samples.items()}
    return {"frame": f"{width}x{height}", "frames": frames, "photos": len(images),
            "mode": f"tracking (each photo held {hold} frames)" if tracking else "photo (detector every frame)",
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), "stages": stages,
            "beside_pose": list(BESIDE_POSE)}


def format_bench(report: dict) -> str:
    lines = [f"{report['mode']}: frame {report['frame']}, {report['frames']} frames from {report['photos']} photo(s), "
             f"peak RSS {report['peak_rss_mb']} MB",
             f"| {'stage':<22} | {'median ms':>9} | {'p95 ms':>8} |", f"|{'-' * 24}|{'-' * 11}|{'-' * 10}|"]
    for stage, s in report["stages"].items():
        lines.append(f"| {stage:<22} | {s['median_ms']:>9.1f} | {s['p95_ms']:>8.1f} |")
    # a stage that runs only when needed (the face search round the head) is timed over the frames it ran in
    for stage, s in report["stages"].items():
        if s.get("frames", report["frames"]) < report["frames"]:
            lines.append(f"{stage}: ran in {s['frames']} of {report['frames']} frames (timed over those)")
    beside = [s for s in report.get("beside_pose", []) if s in report["stages"]]
    if beside:  # they overlap pose, so the stages add up to more than the total
        lines.append(f"{', '.join(beside)}: run beside pose; total: the frame's wall time")
    return "\n".join(lines)
