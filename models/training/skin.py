"""Train the skin-colour model from the `skin` masks of Clothing Co-Parsing and measure it.

    python -m models.training.skin [--ccp DIR] [--out models/skin/skin_model.npz]

Photos 0001-0600 train the histograms and pick the thresholds, 0601-0700 are only scored. 0701-0850 are the
station's evaluation set (../shared/eval/ccp-public) and are never read here.
Writes the model and, next to it, manifest.json (data, licence, ranges, bins, command, validation scores, sha256).
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import scipy.io
from scipy.ndimage import gaussian_filter

from models.skin import (
    C_BINS,
    CHROMA_FLOOR,
    LUMA_FLOOR,
    MIN_REFERENCE_PIXELS,
    PERSON_WEIGHT,
    Y_BINS,
    SkinModel,
    bin_index,
)
from models.detector import sha256_file
from models.training.common import CCP, ROOT, rel

DEFAULT_CCP = CCP
DEFAULT_OUT = ROOT / "models" / "skin" / "skin_model.npz"
TRAIN = range(1, 601)
VAL = range(601, 701)
HELD_OUT = range(701, 851)  # evaluation set: never train, tune or score on it here
NULL, SKIN = 0, 41
# Bins: 8 x 64 x 64 (models.skin). On 0001-0500 -> 0501-0600, 64 chroma bins beat 32 (F1 0.72 vs 0.70).
SMOOTH_SIGMA = (0.5, 0.5, 0.5)  # Gaussian blur of the count histograms, in bins (Y, Cr, Cb)
UNIFORM_MASS = 1e-4  # share of each likelihood spread evenly: a colour never seen in either class gets the prior
FACE_BAND = 0.15  # reference pixels: skin inside the top 15% of the person's bounding box (roughly the face)
SCORE_BINS = 1000  # score histogram resolution for thresholds, precision/recall and AUC


def load_pair(ccp: Path, i: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(BGR photo, label map resized to the photo) or None when either file is missing."""
    assert i not in HELD_OUT, f"photo {i:04d} belongs to the held-out evaluation set"
    img = cv2.imread(str(ccp / "photos" / f"{i:04d}.jpg"), cv2.IMREAD_COLOR)
    mat = ccp / "annotations" / "pixel-level" / f"{i:04d}.mat"
    if img is None or not mat.is_file():
        return None
    labels = scipy.io.loadmat(str(mat))["groundtruth"].astype(np.uint8)
    if labels.shape != img.shape[:2]:
        labels = cv2.resize(labels, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_NEAREST)
    return img, labels


def count(ccp: Path, ids: range) -> tuple[np.ndarray, np.ndarray, int]:
    """Colour-bin counts of skin pixels and of the other person pixels over the photos `ids`."""
    n_bins = Y_BINS * C_BINS * C_BINS
    skin, other, used = np.zeros(n_bins), np.zeros(n_bins), 0
    for k, i in enumerate(ids, 1):
        pair = load_pair(ccp, i)
        if pair is not None and (pair[1] != NULL).any():
            img, labels = pair
            idx = bin_index(cv2.cvtColor(img, cv2.COLOR_BGR2YCrCb), Y_BINS, C_BINS)
            is_skin = labels == SKIN
            # Negatives are the person's own non-skin pixels (clothes, hair, shoes, bags), not the background
            # (label 0): the station looks at pixels inside the person mask, and street backgrounds would swamp
            # the clothing colours the model must tell apart from skin.
            is_other = (labels != NULL) & ~is_skin
            skin += np.bincount(idx[is_skin], minlength=n_bins)
            other += np.bincount(idx[is_other], minlength=n_bins)
            used += 1
        if k % 100 == 0 or k == len(ids):
            print(f"  counted {k}/{len(ids)} photos ({used} usable), skin px {skin.sum():.0f}, "
                  f"other person px {other.sum():.0f}", flush=True)
    return skin, other, used


def likelihood(counts: np.ndarray) -> np.ndarray:
    """Smoothed P(colour bin | class): blurred histogram plus a little uniform mass, summing to 1."""
    h = gaussian_filter(counts.reshape(Y_BINS, C_BINS, C_BINS), SMOOTH_SIGMA, mode="nearest")
    return (1.0 - UNIFORM_MASS) * h / h.sum() + UNIFORM_MASS / h.size


def person_box(labels: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y1, y2, x1, x2) of the labelled person, or None for a photo without annotation (0536 is all null)."""
    ys, xs = np.nonzero(labels != NULL)
    return (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1) if len(ys) else None


def face_reference(img: np.ndarray, labels: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
    """Skin pixels in the top 15% of the person's mask bounding box: what a face box would give the station."""
    y1, y2, x1, x2 = box
    band = slice(y1, y1 + max(1, int(round(FACE_BAND * (y2 - y1))))), slice(x1, x2)
    ref = img[band][labels[band] == SKIN]
    return ref if len(ref) else None


class Scores:
    """Histograms of a score over positive and negative pixels: exact P/R/F1 at 0.001 steps, AUC from the bins."""

    def __init__(self) -> None:
        self.pos = np.zeros(SCORE_BINS)
        self.neg = np.zeros(SCORE_BINS)

    def add(self, prob: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> None:
        k = np.minimum((prob * SCORE_BINS).astype(np.int32), SCORE_BINS - 1)
        self.pos += np.bincount(k[pos], minlength=SCORE_BINS)
        self.neg += np.bincount(k[neg], minlength=SCORE_BINS)

    def _curves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tp = np.cumsum(self.pos[::-1])[::-1]  # tp[k]: positives with score >= k / SCORE_BINS
        fp = np.cumsum(self.neg[::-1])[::-1]
        precision = tp / np.maximum(tp + fp, 1)
        recall = tp / max(self.pos.sum(), 1)
        f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
        return precision, recall, f1

    def best_threshold(self) -> float:
        return float(np.argmax(self._curves()[2]) / SCORE_BINS)

    def auc(self) -> float:
        above = np.cumsum(self.pos[::-1])[::-1] - self.pos  # positives strictly above each bin; ties count half
        return float((self.neg * (above + 0.5 * self.pos)).sum() / max(self.pos.sum() * self.neg.sum(), 1))

    def report(self, threshold: float) -> dict:
        precision, recall, f1 = self._curves()
        k = int(round(threshold * SCORE_BINS))
        return {"threshold": threshold, "precision": round(float(precision[k]), 4),
                "recall": round(float(recall[k]), 4), "f1": round(float(f1[k]), 4), "roc_auc": round(self.auc(), 4),
                "positives": int(self.pos.sum()), "negatives": int(self.neg.sum())}


def score(model: SkinModel, ccp: Path, ids: range, name: str) -> tuple[dict[str, Scores], int, int]:
    """Score the generic and the face-adapted maps on the photos `ids` (person pixels, skin vs the rest).
    Returns the scores, the photos scored and how many of them had enough reference pixels to adapt."""
    out = {k: Scores() for k in ("generic", "adapted", "generic_below_face", "adapted_below_face",
                                 "generic_all_pixels")}
    used = adapted_n = 0
    for k, i in enumerate(ids, 1):
        pair = load_pair(ccp, i)
        box = None if pair is None else person_box(pair[1])
        if box is not None:
            img, labels = pair
            skin, person = labels == SKIN, labels != NULL
            ref = face_reference(img, labels, box)
            generic = model.probability(img)
            adapted = model.adapted_probability(img, ref)
            used += 1
            adapted_n += ref is not None and len(ref) >= MIN_REFERENCE_PIXELS
            out["generic"].add(generic, skin, person & ~skin)
            out["adapted"].add(adapted, skin, person & ~skin)
            out["generic_all_pixels"].add(generic, skin, ~skin)
            # the same, leaving out the band the reference came from (the adapted model has seen those pixels)
            below = np.zeros_like(person)
            below[box[0] + int(round(FACE_BAND * (box[1] - box[0]))):] = True
            out["generic_below_face"].add(generic, skin & below, person & ~skin & below)
            out["adapted_below_face"].add(adapted, skin & below, person & ~skin & below)
        if k % 100 == 0 or k == len(ids):
            print(f"  scored {name} {k}/{len(ids)} photos", flush=True)
    return out, used, adapted_n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ccp", type=Path, default=DEFAULT_CCP, help="Clothing Co-Parsing folder (photos/, annotations/)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="model file to write; manifest.json goes beside it")
    args = ap.parse_args(argv)
    if not (args.ccp / "photos").is_dir() or not (args.ccp / "annotations" / "pixel-level").is_dir():
        print(f"error: no CCP photos/annotations under {args.ccp}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()

    print(f"training on CCP photos {TRAIN.start:04d}-{TRAIN.stop - 1:04d} from {args.ccp}", flush=True)
    skin_counts, other_counts, n_train = count(args.ccp, TRAIN)
    prior = float(skin_counts.sum() / (skin_counts.sum() + other_counts.sum()))
    model = SkinModel(likelihood(skin_counts), likelihood(other_counts), prior)

    print("choosing thresholds (best F1 on the training photos)", flush=True)
    train_scores, _, _ = score(model, args.ccp, TRAIN, "train")
    model.threshold = train_scores["generic"].best_threshold()
    model.adapted_threshold = train_scores["adapted"].best_threshold()

    print(f"validating on CCP photos {VAL.start:04d}-{VAL.stop - 1:04d}", flush=True)
    val_scores, n_val, n_adapted = score(model, args.ccp, VAL, "validation")
    thresholds = {"generic": model.threshold, "adapted": model.adapted_threshold}
    validation = {name: s.report(thresholds[name.split("_")[0]]) for name, s in val_scores.items()}

    model.save(args.out)
    manifest = {
        "model": rel(args.out),
        "sha256": sha256_file(args.out),
        "bytes": args.out.stat().st_size,
        "made_by": " ".join(["python -m models.training.skin", *map(shlex.quote, sys.argv[1:] if argv is None else argv)]),
        "data": {
            "name": "Clothing Co-Parsing (CCP)",
            "source": "https://github.com/bearpaw/clothing-co-parsing",
            "licence": "Apache-2.0",
            "citation": "W. Yang, P. Luo, L. Lin. Clothing Co-Parsing by Joint Image Segmentation and Labeling. "
                        "CVPR 2014.",
            "path": rel(args.ccp),
            "labels": {"positive": "skin (41)", "negative": "every other person label (1-58 except 41), e.g. hair 19",
                       "ignored": "null (0): background, not counted as a negative"},
        },
        "photos": {"train": f"{TRAIN.start:04d}-{TRAIN.stop - 1:04d} ({n_train} used; histograms and thresholds)",
                   "validation": f"{VAL.start:04d}-{VAL.stop - 1:04d} (scores below only)",
                   "never_used": f"{HELD_OUT.start:04d}-{HELD_OUT.stop - 1:04d} (station evaluation set)"},
        "colour_space": "YCrCb (OpenCV 8-bit BGR2YCrCb)",
        "bins": {"shape": [Y_BINS, C_BINS, C_BINS], "axes": ["Y", "Cr", "Cb"],
                 "bin_of": f"Y>>{8 - Y_BINS.bit_length() + 1}, Cr and Cb>>{8 - C_BINS.bit_length() + 1}",
                 "lookup": "bilinear in Cr, Cb between bin centres, per Y bin"},
        "smoothing": {"gaussian_sigma_bins": list(SMOOTH_SIGMA), "uniform_mass": UNIFORM_MASS},
        "prior_skin_among_person_pixels": round(prior, 4),
        "threshold": model.threshold,
        "adapted_threshold": model.adapted_threshold,
        "threshold_rule": "F1-best on the training photos (person pixels)",
        "adaptation": f"skin likelihood = {PERSON_WEIGHT} * person model + {1 - PERSON_WEIGHT} * generic; "
                      f"person model = robust (MCD) Gaussian in Cr,Cb (+{CHROMA_FLOOR} levels std added) x "
                      f"broad Gaussian in Y (std >= {LUMA_FLOOR})",
        "validation": {
            "pixels": "person pixels (label != 0) of the validation photos, skin vs the rest; *_below_face leaves "
                      "out the top 15% of the person box (where the reference comes from); generic_all_pixels "
                      "counts the background as negatives too",
            "reference_pixels": "skin-labelled pixels inside the top 15% of the person's mask bounding box",
            "photos_scored": n_val,
            "photos_with_reference": n_adapted,
            **validation,
        },
        "train_scores": {name: train_scores[name].report(thresholds[name]) for name in ("generic", "adapted")},
        "limitations": "CCP is street-fashion photos of mostly light-skinned people: the generic model scores very "
                       "dark or unsaturated skin low (adaptation helps only where its colour differs from the "
                       "clothes), and it was trained on person pixels, so mask the background before using it.",
        "software": {"numpy": np.__version__, "opencv": cv2.__version__, "python": sys.version.split()[0]},
    }
    manifest_path = args.out.with_name("manifest.json")
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    for name in ("generic", "adapted", "generic_below_face", "adapted_below_face", "generic_all_pixels"):
        v = validation[name]
        print(f"validation {name:<20} t={v['threshold']:.3f} P={v['precision']:.3f} R={v['recall']:.3f} "
              f"F1={v['f1']:.3f} AUC={v['roc_auc']:.4f}")
    print(f"wrote {args.out} ({manifest['bytes']} bytes) and {manifest_path} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
