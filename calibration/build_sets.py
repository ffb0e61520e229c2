"""Put together an evaluation set whose labels live in this repository and whose photos live in ../shared.

    python -m calibration.build_sets ccp-rules var/eval/ccp-rules     # then: station eval var/eval/ccp-rules

calibration/sets/NAME/labels.csv names photos `images/ccp_NNNN.jpg`: they are copied from
../shared/datasets/ccp/photos/NNNN.jpg (Clothing Co-Parsing, Apache-2.0), so the shared photos are never committed.
Striking hair colours are rare in CCP (9 labelled photos, 4 people), so the hair set also gets dyed copies: photos
of 0701-0850 with natural hair, their CCP `hair` pixels recoloured pink, blue, green, purple, red or teal, the
lightness kept. They are transformed real photos, labelled `fail` for hair_colour only, and named `-dyed-COLOUR`.
"""
from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SETS = Path(__file__).resolve().parent / "sets"
CCP = ROOT.parent / "shared" / "datasets" / "ccp"
# OpenCV hue (0-179). Not orange (12, until 2026-11-25): it is the hue of 20 natural ginger and auburn heads of CCP
# 0001-0600, and its four copies looked natural by eye, so their `fail` contradicted the set's own labelling rule.
DYES = {"pink": 165, "blue": 110, "green": 60, "purple": 140, "red": 178, "teal": 90}
DYE_EVERY = 6  # every 6th eligible photo of 0701-0850 gets a dyed copy


def dye(image: np.ndarray, hair: np.ndarray, hue: int, saturation: int = 150, lift: int = 35) -> np.ndarray:
    """The photo with the hair pixels recoloured: hue set, saturation raised to at least `saturation`, dark hair
    lightened by `lift` (dye on black hair is only seen where it is bleached first), edges blended. (The hair
    colour map of `models.training.rules` learns from copies of training photos dyed at random strengths.)"""
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.float32)
    dyed = hsv.copy()
    dyed[..., 0] = hue
    dyed[..., 1] = np.maximum(hsv[..., 1], saturation)
    dyed[..., 2] = np.clip(hsv[..., 2] * 1.15 + lift, 0, 255)
    out = cv2.cvtColor(dyed.astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
    alpha = cv2.GaussianBlur(hair.astype(np.float32), (0, 0), 1.5)[..., None]
    return (out * alpha + image.astype(np.float32) * (1 - alpha)).astype(np.uint8)


def build(name: str, out: Path, scale: float = 1.0) -> int:
    """The set NAME in `out`; `scale` < 1: every photo shrunk as the shared `-small` sets are (0.4: a full-body
    person about 300 px tall, JPEG 85), after any dyed copy is made from the full-size photo."""
    source = SETS / name
    with open(source / "labels.csv", newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = list(reader.fieldnames or []), list(reader)
    (out / "images").mkdir(parents=True, exist_ok=True)
    for row in rows:
        number = int(Path(row["image"]).stem.split("_")[1])
        shutil.copy(CCP / f"photos/{number:04d}.jpg", out / row["image"])
    if "hair_colour" in fields:
        rows += dyed_copies(rows, fields, out)
    if scale != 1.0:
        for row in rows:
            path = str(out / row["image"])
            small = cv2.resize(cv2.imread(path), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            cv2.imwrite(path, small, [cv2.IMWRITE_JPEG_QUALITY, 85])
    with open(out / "labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    for extra in ("NOTE.md", "dataset.toml"):  # the set's notes and its policy (rules a site switches on)
        if (source / extra).exists():
            shutil.copy(source / extra, out / extra)
    return len(rows)


def ccp_hair(number: int) -> np.ndarray:
    """CCP's `hair` pixels of photo `number`, held-out photos included (the eval set is made from them)."""
    from scipy.io import loadmat

    names = [str(x[0]) if len(x) else "" for x in loadmat(CCP / "label_list.mat")["label_list"][0]]
    return loadmat(CCP / f"annotations/pixel-level/{number:04d}.mat")["groundtruth"] == names.index("hair")


def dyed_copies(rows: list[dict], fields: list[str], out: Path) -> list[dict]:
    eligible = [r for r in rows if r.get("hair_colour") == "pass" and 701 <= int(Path(r["image"]).stem[4:8]) <= 850]
    added = []
    for k, row in enumerate(eligible[::DYE_EVERY]):
        number = int(Path(row["image"]).stem[4:8])
        hair = ccp_hair(number)
        if hair.sum() < 500:
            continue
        colour, hue = list(DYES.items())[k % len(DYES)]
        image = cv2.imread(str(CCP / f"photos/{number:04d}.jpg"))
        path = f"images/ccp_{number:04d}-dyed-{colour}.jpg"
        cv2.imwrite(str(out / path), dye(image, hair, hue), [cv2.IMWRITE_JPEG_QUALITY, 92])
        added.append({**{f: "" for f in fields}, "image": path, "hair_colour": "fail"})
    return added


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m calibration.build_sets", description=__doc__.split("\n")[0])
    ap.add_argument("name", choices=sorted(p.name for p in SETS.iterdir() if (p / "labels.csv").exists()
                                           and not (p / "images").exists()))
    ap.add_argument("out", type=Path)
    ap.add_argument("--scale", type=float, default=1.0, help="shrink every photo by this factor (0.4: as the "
                    "shared -small sets)")
    args = ap.parse_args(argv)
    if not 0.05 <= args.scale <= 1.0:
        ap.error(f"--scale must be between 0.05 and 1, got {args.scale}")
    print(f"{build(args.name, args.out, args.scale)} photos -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
