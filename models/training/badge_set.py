"""Build the badge-at-a-distance evaluation set: real ID cards on real full-body people, 8 to 40 px wide.

    python -m models.training.badge_set var/eval/badge-distance      # then: station eval var/eval/badge-distance

No public set shows work badges on full-body people far from a cheap camera, so this one is made the way the
detector's training data is, from photos that training never reads: the people are CCP 0701-0850 (ccp-public), the
cards are cut from the princeID photos of princeid-public (both left out of every training set). Each person gets a
card on the wearer's left chest (pass), on the right chest (fail: wrong place) or none (fail), sized like a real card
(a sixth to a third of the shoulder width), then the whole photo is shrunk so the card is 8-40 px wide, blurred and
JPEG-compressed as a webcam would. labels.csv also names the card's width in pixels (`badge_px`), so the score can be
read per size. Deterministic: the same command writes the same set.
"""
from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path

import cv2
import numpy as np

from models.perception import Box
from models.regions import body_scale, build_regions
from models.training.common import CCP, CCP_HELD_OUT, SHARED, PoseCache
from models.training.detector import card_box, evaluation_prefixes, princeid_prefix


def held_out_cards() -> list[np.ndarray]:
    """Card crops from the princeID photos whose source photo is in princeid-public (never trained on)."""
    prefixes, cards = evaluation_prefixes(), []
    for image in sorted((SHARED / "datasets/princeid/box").glob("*/images/*.jpg")):
        if princeid_prefix(image) not in prefixes:
            continue
        pixels = cv2.imread(str(image))
        h, w = pixels.shape[:2]
        label = image.parent.parent / "labels" / (image.stem + ".txt")
        for line in label.read_text().split("\n") if label.exists() else []:
            v = [float(x) for x in line.split()]
            if len(v) == 5 and int(v[0]) == 0:
                card = card_box(pixels, Box((v[1] - v[3] / 2) * w, (v[2] - v[4] / 2) * h, (v[1] + v[3] / 2) * w,
                                            (v[2] + v[4] / 2) * h))
                if card is not None:
                    x1, y1, x2, y2 = card.as_int()
                    if min(y2 - y1, x2 - x1) >= 16:
                        cards.append(pixels[y1:y2, x1:x2])
    return cards


def paste(image: np.ndarray, card: np.ndarray, centre: np.ndarray, long_side: float) -> float:
    """The card pasted upright at `centre`, its long side `long_side` pixels; returns its width."""
    h0, w0 = card.shape[:2]
    k = long_side / max(h0, w0)
    w, h = max(int(w0 * k), 4), max(int(h0 * k), 4)
    x1, y1 = int(centre[0] - w / 2), int(centre[1] - h / 2)
    image[y1:y1 + h, x1:x1 + w] = cv2.resize(card, (w, h), interpolation=cv2.INTER_AREA)
    return float(w)


def build(out: Path, seed: int = 0) -> int:
    rng = random.Random(seed)
    cards = held_out_cards()
    if not cards:
        raise SystemExit("no princeid-public cards found under ../shared/datasets/princeid")
    (out / "images").mkdir(parents=True, exist_ok=True)
    pose = PoseCache()
    rows = []
    for i in CCP_HELD_OUT:
        image = cv2.imread(str(CCP / f"photos/{i:04d}.jpg"))
        kp = pose(f"ccp_{i:04d}", image)
        if kp is None:
            continue
        regions = build_regions(kp)
        if "chest_left" not in regions or "chest_right" not in regions:
            continue
        s = body_scale(kp)
        where = ("left", "right", "none")[i % 3]
        target = rng.uniform(8, 40)  # the card's width in the final photo, at most this
        card = rng.choice(cards)
        long_side = s * rng.uniform(0.16, 0.34)  # a card is a sixth to a third of the shoulder width long
        width = long_side * min(card.shape[:2]) / max(card.shape[:2])
        if where != "none":
            centre = regions[f"chest_{where}"].polygon.mean(axis=0)
            width = paste(image, card, centre, long_side)
        k = min(1.0, target / max(width, 1.0))  # never enlarged: a bigger card only means a closer camera
        small = cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), rng.uniform(0.3, 0.7))
        name = f"images/ccp_{i:04d}_{where}.jpg"
        cv2.imwrite(str(out / name), small, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(70, 90)])
        rows.append((name, "pass" if where == "left" else "fail", round(width * k, 1) if where != "none" else ""))
    with open(out / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "badge", "badge_px"])
        writer.writerows(rows)
    (out / "NOTE.md").write_text(__doc__.split("\n\n", 2)[2])
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.training.badge_set", description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    args = ap.parse_args(argv)
    print(f"{build(args.out)} photos -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
