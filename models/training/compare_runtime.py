"""The station's onnxruntime path against ultralytics' own torch predict, on the same weights and the same tiles.

    python -m models.training.compare_runtime RUN/weights/best.pt [PHOTOS_DIR] [--out docs/runtime_onnx_vs_torch.png]

Needs the train extra. Both sides get the same pose-guided tiles of the same photos, one batch per photo, on the
CPU with the same thread count; the figure shows median ms per photo and the ratio, and the script prints how often
the two agree on the boxes (same class, IoU >= 0.5), so the speed is not bought with different answers.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from models.detector import OnnxDetector
from models.perception import Box


def iou(a: Box, b: Box) -> float:
    w = min(a.x2, b.x2) - max(a.x1, b.x1)
    h = min(a.y2, b.y2) - max(a.y1, b.y1)
    inter = max(w, 0) * max(h, 0)
    return inter / max(a.area + b.area - inter, 1e-9)


def main(argv: list[str] | None = None) -> int:
    from models.training.common import ROOT, offline_ultralytics

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("weights", type=Path)
    ap.add_argument("photos", type=Path, nargs="?", default=ROOT.parent / "shared/eval/ccp-public/images")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "runtime_onnx_vs_torch.png")
    args = ap.parse_args(argv)
    offline_ultralytics()
    import cv2
    import torch
    from ultralytics import YOLO

    from models.crops import attire_crops
    from models.mediapipe_models import MediaPipePose

    torch.set_num_threads(args.threads)
    onnx = OnnxDetector(threads=args.threads)
    size = onnx.manifest.input_size
    torch_model = YOLO(str(args.weights))
    pose = MediaPipePose()
    batches = []
    for f in sorted(args.photos.glob("*.jpg"))[: args.n]:
        image = cv2.imread(str(f))
        kp = pose.estimate(image)
        if kp is not None:
            batches.append([c.cut(image, size) for c in attire_crops(kp)])
    times = {"onnxruntime (station)": [], "ultralytics torch predict": []}
    agree = total = 0
    for tiles in batches:
        for _ in range(2):  # warm once per batch shape, keep the second timing
            t0 = time.perf_counter()
            ours = onnx.detect_batch(tiles)
            t_onnx = time.perf_counter() - t0
            t0 = time.perf_counter()
            theirs = torch_model.predict(tiles, imgsz=size, conf=onnx.conf, iou=onnx.iou, device="cpu",
                                         verbose=False)
            t_torch = time.perf_counter() - t0
        times["onnxruntime (station)"].append(t_onnx * 1000)
        times["ultralytics torch predict"].append(t_torch * 1000)
        for mine, result in zip(ours, theirs):
            ref = [Box(*map(float, xyxy), float(s), result.names[int(c)]) for xyxy, s, c in
                   zip(result.boxes.xyxy.tolist(), result.boxes.conf.tolist(), result.boxes.cls.tolist())]
            total += len(ref)
            agree += sum(any(m.label == r.label and iou(m, r) >= 0.5 for m in mine) for r in ref)
    med = {k: float(np.median(v)) for k, v in times.items()}
    ratio = med["ultralytics torch predict"] / med["onnxruntime (station)"]
    report = {"photos": len(batches), "tiles_per_photo": float(np.mean([len(b) for b in batches])),
              "tile_size": size, "threads": args.threads, "median_ms": {k: round(v, 1) for k, v in med.items()},
              "p95_ms": {k: round(float(np.percentile(v, 95)), 1) for k, v in times.items()},
              "ratio_torch_over_onnx": round(ratio, 2), "boxes_matched": f"{agree}/{total}"}
    print(json.dumps(report, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.2), dpi=110)
    names = list(med)
    ax.barh(names, [med[n] for n in names], color=["#2b8a3e", "#868e96"])
    for i, n in enumerate(names):
        ax.text(med[n], i, f" {med[n]:.1f} ms", va="center")
    ax.set_xlabel(f"median ms per photo ({report['tiles_per_photo']:.1f} tiles of {size}px, {args.threads} CPU threads)")
    ax.set_title(f"Attire detector, same weights and tiles\ntorch / onnxruntime = {ratio:.2f}x", fontsize=10)
    ax.set_xlim(0, max(med.values()) * 1.3)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
