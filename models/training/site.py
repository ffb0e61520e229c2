"""`station train site EXPORT --out BUNDLE.zip`: fine-tune the installed tile classifiers on this site's reviewed
check-ins (a `station learn export` folder), mixed with public tiles so that nothing they knew is forgotten.

For each classifier with site tiles: the installed model (its ONNX file, taken back to torch weights exactly) is
fine-tuned for a few epochs on the site's training tiles, each repeated `site_copies` times, together with tiles cut
from the public CCP photos the shipped model was trained on; it is exported to ONNX with the installed manifest's
classes and operating points, and scored through the station's own runtime on the site's held-out tiles beside the
installed model. A classifier that is a fine-tuned model and a linear probe in one graph (front, legwear, footwear) keeps its
fine-tuned half and backbone as they are and has its probe fitted again on the same mix of tiles (seconds). The
classifiers that trained go into one bundle, ready for `station models evaluate` and `install`.

Runs on 2 CPU cores in minutes for a few hundred tiles (`--hours` bounds a larger run), or on a GPU (`--device 0`).
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from models.training import classifier
from models.training.common import (CCP, CCP_LICENCE, CCP_TRAIN, WORK, PoseCache, export_onnx, offline_ultralytics,
                                    progress, unfused_from_onnx, write_manifest)
from models.training.common import fit as fit_run

MIN_SITE_TILES = 4  # a classifier with fewer reviewed training tiles than this is left as it is


def _replay_samples(name: str, photos: int, seed: int) -> list[classifier.TileSample]:
    """At most `photos` public training photos of classifier `name`'s own training set, with their tile labels."""
    import cv2

    rng = random.Random(seed)
    if name == "footwear":
        from models.training import footwear
        samples = footwear.samples()
    elif name == "cuffs":
        from models.training import cuffs
        samples = cuffs.samples()
    else:  # front, legwear: their labels need each photo's pose in the cache; fill it for a sample of photos
        from models.training import garments
        pose = PoseCache()
        for i in rng.sample(list(CCP_TRAIN), min(photos, len(CCP_TRAIN))):
            if not (pose.folder / f"ccp_{i:04d}.npz").exists():
                pose(f"ccp_{i:04d}", cv2.imread(str(CCP / f"photos/{i:04d}.jpg")))
        samples = garments.samples(name)
    train = [s for s in samples if s.split == "train"]
    rng.shuffle(train)
    return train[:photos]


def public_tiles(name: str, classes: tuple[str, ...], size: int, photos: int, seed: int = 0) -> Path:
    """Training tiles of the public photos for classifier `name`, cut once and kept (var/train/site/public-...)."""
    out = WORK / "site" / f"public-{name}-{size}-{photos}-{seed}"
    if (out / "summary.json").is_file():
        return out
    if not CCP.is_dir():
        raise FileNotFoundError(f"the public photos are not at {CCP}: give --public none to fine-tune on the site's "
                                "tiles alone (the model may then forget what it knew)")
    from models.crops import CLASSIFIER_TILES

    samples = _replay_samples(name, photos, seed)
    classifier.prepare(out, samples, classes, CLASSIFIER_TILES[name], {c: 1 for c in classes}, size, 1.0, seed,
                       sources=f"{CCP_LICENCE}: {len(samples)} training photos of the classifier's own set")
    return out


def _site_counts(folder: Path, classes: tuple[str, ...]) -> dict[str, int]:
    return {c: len(list((folder / c).glob("*.jpg"))) for c in classes}


def _copy_tiles(src: Path, dest: Path, prefix: str, copies: int = 1) -> int:
    n = 0
    for f in sorted(src.glob("*.jpg")):
        for k in range(copies):
            shutil.copy(f, dest / f"{prefix}{k}_{f.name}")
            n += 1
    return n


def tile_accuracy(manifest_path: Path, folder: Path, classes: tuple[str, ...]) -> dict:
    """Accuracy and per-class recall of a classifier (through the station's runtime) on tiles in class folders."""
    import cv2

    from models.detector import OnnxClassifier

    model = OnnxClassifier(manifest_path, threads=2)
    per_class, right, total = {}, 0, 0
    for c in classes:
        files = sorted((folder / c).glob("*.jpg"))
        probs = model.classify([cv2.imread(str(f)) for f in files]) if files else []
        hits = sum(max(p, key=p.get) == c for p in probs)
        per_class[c] = {"n": len(files), "recall": round(hits / len(files), 4) if files else None}
        right, total = right + hits, total + len(files)
    return {"n": total, "accuracy": round(right / total, 4) if total else None, "classes": per_class}


def _site_inputs(name: str, installed: Path, site: Path, public: str, public_photos: int,
                 seed: int) -> tuple[dict, dict, Path | None] | None:
    """What one classifier is trained from: the installed manifest, the tile counts, and the public tiles mixed in
    with the site's (none, a given folder, or cut from ../shared: "auto"); None when the site has too few tiles."""
    manifest = json.loads(installed.read_text())
    classes, size = tuple(manifest["classes"]), int(manifest["input_size"])
    site_train = _site_counts(site / "train", classes)
    if sum(site_train.values()) < MIN_SITE_TILES:
        return None
    counts = {"site_train": site_train, "site_val": _site_counts(site / "val", classes), "public": {}}
    replay = None if public == "none" else Path(public) if public != "auto" else \
        public_tiles(name, classes, size, public_photos, seed)
    return manifest, counts, replay


def _site_manifest(target: Path, installed: Path, manifest: dict, site: Path, counts: dict, **how) -> dict:
    """The site-trained model's manifest (the installed one's fields, operating points included, and how it was
    trained), with both models scored through the station's runtime on the site's held-out tiles."""
    classes, size = tuple(manifest["classes"]), int(manifest["input_size"])
    before = tile_accuracy(installed, site / "val", classes)
    fields = {k: v for k, v in manifest.items() if k not in ("name", "file", "sha256", "classes", "input_size",
                                                             "data", "command", "trained", "validation")}
    new_manifest = write_manifest(target, list(classes), size, "station train site", {"site": counts}, **fields,
                                  validation_before_site=manifest.get("validation"), **how)
    after = tile_accuracy(new_manifest, site / "val", classes)
    m = json.loads(new_manifest.read_text())
    m["site_validation"] = {"installed": before, "fine_tuned": after}
    new_manifest.write_text(json.dumps(m, indent=2, ensure_ascii=False) + "\n")
    return {"manifest": new_manifest, "tiles": counts, "site_validation": m["site_validation"]}


def fine_tune(name: str, installed: Path, site: Path, work: Path, epochs: int, hours: float | None,
              public: str, public_photos: int, site_copies: int, batch: int, device: str, seed: int) -> dict | None:
    """One classifier: returns what went into it and its manifest path, or None when the site has too few tiles."""
    import torch
    from ultralytics import YOLO
    from ultralytics.nn.tasks import ClassificationModel

    inputs = _site_inputs(name, installed, site, public, public_photos, seed)
    if inputs is None:
        return None
    manifest, counts, replay = inputs
    classes, size = tuple(manifest["classes"]), int(manifest["input_size"])
    data = work / name / "data"
    shutil.rmtree(data, ignore_errors=True)
    for c in classes:
        (data / "train" / c).mkdir(parents=True)
        (data / "val" / c).mkdir(parents=True)
        _copy_tiles(site / "train" / c, data / "train" / c, "site", site_copies)
        if replay is not None:
            counts["public"][c] = _copy_tiles(replay / "train" / c, data / "train" / c, "public")
        # ultralytics validates on every class: the site's held-out tiles, else public ones for a class it lacks
        if not _copy_tiles(site / "val" / c, data / "val" / c, "site") and replay is not None:
            if not _copy_tiles(replay / "val" / c, data / "val" / c, "public"):
                _copy_tiles(replay / "train" / c, data / "val" / c, "public")
        if not any((data / "train" / c).iterdir()):
            raise ValueError(f"{name}: no training tile of class {c!r} (site or public): cannot fine-tune")
    # the installed model, back in torch exactly, as the starting point
    calibration = sorted((data / "train").rglob("*.jpg"))
    calibration = [calibration[i] for i in np.random.default_rng(seed).permutation(len(calibration))[:256]]
    offline_ultralytics()
    model = unfused_from_onnx(ClassificationModel(manifest.get("architecture", "yolov8s-cls.yaml"), nc=len(classes),
                                                  verbose=False), installed.parent / manifest["file"], calibration,
                              size, {})
    model.names = dict(enumerate(classes))
    model.task = "classify"  # ultralytics picks its trainer from this (it would guess "detect" here)
    start = work / name / "installed.pt"
    torch.save({"model": model, "train_args": {}, "epoch": -1, "date": time.strftime("%Y-%m-%d")}, start)
    run_args = dict(epochs=epochs, imgsz=size, batch=batch, device=device, workers=0, plots=False, scale=0.1,
                    erasing=0.0, hsv_h=0.01, hsv_s=0.3, hsv_v=0.3, fliplr=0.5, auto_augment=None,
                    optimizer="AdamW", lr0=5e-4, lrf=0.2, warmup_epochs=0, seed=seed, val=True)
    if hours:
        run_args["time"] = hours
    shutil.rmtree(work / name / "run", ignore_errors=True)
    run = fit_run(YOLO(str(start)), str(data.resolve()), work / name, "run", **run_args)
    # ONNX with the installed manifest's classes and operating points; then scored by the station's runtime
    target, _ = export_onnx(run, work / name / "export", name)
    return _site_manifest(target, installed, manifest, site, counts, fine_tuned={
        "from": str(installed), "epochs": epochs, "hours": hours, "site_copies": site_copies,
        "public": "none" if replay is None else str(replay), "tiles": counts})


def refit_probe(name: str, installed: Path, site: Path, work: Path, public: str, public_photos: int,
                site_copies: int, seed: int) -> dict | None:
    """A fine-tuned classifier and a linear probe in one graph (front, legwear): the probe is fitted again on the
    site's training tiles (each `site_copies` times) and the public ones, with the installed probe's
    regularisation; the fine-tuned model and the frozen backbone stay as they are. Seconds, not an epoch: the
    probe is the half that can learn a site's uniform from a few hundred reviewed tiles without forgetting."""
    import cv2

    from models.training.probe import L2, refit_in_graph

    inputs = _site_inputs(name, installed, site, public, public_photos, seed)
    if inputs is None:
        return None
    manifest, counts, replay = inputs
    classes, size = tuple(manifest["classes"]), int(manifest["input_size"])
    files = []  # (tile, class index, how many times it counts): a site tile site_copies times
    for k, c in enumerate(classes):
        files += [(f, k, site_copies) for f in sorted((site / "train" / c).glob("*.jpg"))]
        if replay is not None:
            public_files = sorted((replay / "train" / c).glob("*.jpg"))
            counts["public"][c] = len(public_files)
            files += [(f, k, 1) for f in public_files]
        if not any(label == k for _, label, _ in files):
            raise ValueError(f"{name}: no training tile of class {c!r} (site or public): cannot fit its probe")
    tiles = [cv2.resize(cv2.imread(str(f)), (size, size), interpolation=cv2.INTER_AREA) for f, _, _ in files]
    c_reg = float(manifest.get("probe", {}).get("regularisation_C", L2))
    target = refit_in_graph(installed.parent / manifest["file"], tiles, np.array([k for _, k, _ in files]),
                            np.array([n for _, _, n in files]), len(classes), c_reg,
                            work / name / "export" / f"{name}.onnx")
    return _site_manifest(target, installed, manifest, site, counts, probe_refit={
        "from": str(installed), "site_copies": site_copies, "regularisation_C": c_reg,
        "public": "none" if replay is None else str(replay), "tiles": counts})


def train_site(export: Path, out: Path, installed: dict[str, Path], version: str, epochs: int = 3,
               hours: float | None = None, public: str = "auto", public_photos: int = 300, site_copies: int = 4,
               batch: int = 32, device: str = "cpu", seed: int = 0, only: list[str] | None = None,
               work: Path = WORK / "site") -> Path:
    """Fine-tune every classifier the export has tiles for; one bundle with those that trained."""
    from station.model_versions import pack_bundle

    site_manifest = json.loads((export / "manifest.json").read_text())
    tiles = export / "tiles"
    names = sorted(p.name for p in tiles.iterdir() if p.is_dir()) if tiles.is_dir() else []
    trained, skipped = {}, {}
    for name in progress([n for n in names if not only or n in only], "classifiers"):
        if "probe" in json.loads(installed[name].read_text()):
            # a fine-tuned model and a probe in one graph (models/training/probe.py): the probe learns the site
            result = refit_probe(name, installed[name], tiles / name, work, public, public_photos, site_copies, seed)
        else:
            result = fine_tune(name, installed[name], tiles / name, work, epochs, hours, public, public_photos,
                               site_copies, batch, device, seed)
        if result is None:
            skipped[name] = f"fewer than {MIN_SITE_TILES} reviewed training tiles"
        else:
            trained[name] = result
    if not trained:
        why = "; ".join(f"{n}: {reason}" for n, reason in skipped.items()) or "no classifier tiles"
        raise ValueError(f"{export}: no classifier could be fine-tuned ({why}; tiles: "
                         f"{site_manifest.get('tiles', {})}); review more check-ins first")
    return pack_bundle(out, {n: r["manifest"] for n, r in trained.items()}, f"site-{time.strftime('%Y%m%d-%H%M')}",
                       trained_from=version, site_export={k: site_manifest.get(k) for k in (
                           "created", "since", "date_range", "stations", "records", "tiles")},
                       training={n: {"tiles": r["tiles"], "site_validation": r["site_validation"]}
                                 for n, r in trained.items()},
                       skipped=skipped, settings={"epochs": epochs, "hours": hours, "public": public,
                                                  "public_photos": public_photos, "site_copies": site_copies,
                                                  "device": device, "seed": seed})


def main(argv: list[str] | None = None) -> int:
    from station.config import load_config
    from station.model_versions import Bundle, ModelStore

    ap = argparse.ArgumentParser(prog="station train site", description=__doc__.split("\n")[0])
    ap.add_argument("export", type=Path, help="a `station learn export` folder")
    ap.add_argument("--out", type=Path, required=True, help="the bundle to write (.zip)")
    ap.add_argument("--config", help="station config TOML (where the installed models are)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--hours", type=float, default=None, help="bound the run's time (overrides --epochs)")
    ap.add_argument("--public", default="auto", help="auto (cut from ../shared), none, or a folder of public tiles")
    ap.add_argument("--public-photos", type=int, default=300, help="public photos mixed in, per classifier")
    ap.add_argument("--site-copies", type=int, default=4, help="how often each site tile is repeated per epoch")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--device", default="cpu", help="cpu, or a CUDA device number")
    ap.add_argument("--only", nargs="*", help="classifiers to fine-tune (default: every one with site tiles)")
    ap.add_argument("--work", type=Path, default=WORK / "site", help="scratch folder (public tiles are kept there)")
    args = ap.parse_args(argv)
    config = load_config(args.config)
    store = ModelStore(config.resolve(config.learn.models_dir))
    version = store.active()
    bundle = train_site(args.export, args.out, store.manifests(version), version, args.epochs, args.hours,
                        args.public, args.public_photos, args.site_copies, args.batch, args.device, only=args.only,
                        work=args.work)
    info = Bundle.open(bundle).info
    for name, t in info["training"].items():
        before, after = t["site_validation"]["installed"], t["site_validation"]["fine_tuned"]
        print(f"{name}: site held-out tiles {after['n']}: accuracy {before['accuracy']} installed -> "
              f"{after['accuracy']} trained on the site")
    for name, why in info["skipped"].items():
        print(f"{name}: not fine-tuned ({why})")
    print(f"bundle: {bundle} (next: station models evaluate {bundle} --site {args.export})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
