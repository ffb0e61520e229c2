"""A copy of an evaluation set as the station's webcam sees it: each photo in a 1280x720 frame.

    python -m calibration.webcam_sets ../shared/eval/ccp-public var/eval/ccp-public-webcam

The shared sets are portrait street photos with the person filling the picture; the station's camera sends 16:9
frames with a full-body person in the middle, about 80 % of the frame high. MediaPipe sees such a frame very
differently (its face detector at 192 px, its segmenter at 256 x 144, across the whole width): faces missed and
masks that ran into the background were found this way, on no photo of the shared sets. Each photo is scaled to
`person_share` of the frame height, stands 20 px above the bottom and is blended over its own left and right edges
stretched and blurred across the frame (a plain border would be a second, artificial edge round the person; a
mirrored one would put a second person in the frame). Labels, `dataset.toml` and the uniform references are kept;
the references are framed the same way, as a site enrols its uniform at its own camera.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

FRAME = (1280, 720)
FEATHER = 24  # px over which the photo's left, right and top edges blend into the background


def webcam_frame(photo: np.ndarray, size: tuple[int, int] = FRAME, person_share: float = 0.8) -> np.ndarray:
    """The photo at `person_share` of the frame height, centred, 20 px above the bottom, over its own edges."""
    width, height = size
    k = person_share * height / photo.shape[0]
    scaled = cv2.resize(photo, None, fx=k, fy=k, interpolation=cv2.INTER_AREA).astype(np.float32)
    h, w = scaled.shape[:2]
    if w > width:
        raise ValueError(f"a photo {photo.shape[1]}x{photo.shape[0]} is too wide for a {width}x{height} frame")
    top, left = height - h - 20, (width - w) // 2
    edges = np.concatenate([photo[:, :20], photo[:, -20:]], axis=1)
    frame = cv2.GaussianBlur(cv2.resize(edges, size), (0, 0), 25).astype(np.float32)
    alpha = np.ones((h, w), np.float32)
    ramp = np.linspace(0.0, 1.0, FEATHER, dtype=np.float32)
    alpha[:, :FEATHER] *= ramp
    alpha[:, -FEATHER:] *= ramp[::-1]
    alpha[:FEATHER] *= ramp[:, None]
    under = frame[top:top + h, left:left + w]
    frame[top:top + h, left:left + w] = scaled * alpha[..., None] + under * (1 - alpha[..., None])
    return np.clip(frame, 0, 255).astype(np.uint8)


def build(source: Path, out: Path, person_share: float = 0.8) -> int:
    """Every image under `source` (labels.csv's photos and the uniform references) framed into `out`."""
    if not (source / "labels.csv").is_file():
        raise FileNotFoundError(f"{source} has no labels.csv: not an evaluation set")
    if out.resolve() == source.resolve():
        raise ValueError("the webcam copy needs a folder of its own")
    count = 0
    for path in sorted(source.rglob("*")):
        target = out / path.relative_to(source)
        if path.is_dir():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        image = cv2.imread(str(path)) if path.suffix.lower() in (".jpg", ".jpeg", ".png") else None
        if image is None:
            shutil.copy(path, target)  # labels.csv, dataset.toml, NOTE.md
            continue
        cv2.imwrite(str(target), webcam_frame(image, person_share=person_share), [cv2.IMWRITE_JPEG_QUALITY, 85])
        count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m calibration.webcam_sets", description=__doc__.split("\n")[0])
    ap.add_argument("source", type=Path, help="an evaluation set (../shared/eval/FORMAT.md)")
    ap.add_argument("out", type=Path)
    ap.add_argument("--person-share", type=float, default=0.8, help="the photo's height in frame heights")
    args = ap.parse_args(argv)
    if not 0.2 <= args.person_share <= 0.95:
        ap.error(f"--person-share must be between 0.2 and 0.95, got {args.person_share}")
    try:
        print(f"{build(args.source, args.out, args.person_share)} photos -> {args.out}")
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
