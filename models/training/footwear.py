"""Train the footwear classifier: is each foot in a closed shoe, in open footwear (or bare), or not to be seen?

    python -m models.training.footwear                  # prepare, fine-tune, export to models/footwear/
    python -m models.training.footwear prepare|fit|export

One tile per foot (`models.crops.foot_crops`), three classes:
- `closed`, `open` (sandals, flip-flops, strappy, caged and peep-toe shoes, clogs and mules, bare feet),
- `unseen` (the foot hidden by a long skirt or wide trousers, or the pose put the tile beside the foot), so the
  station says "cannot see your feet" instead of guessing.

Labels: every CCP photo of 0001-0700 and 1005-1800 looked at by eye (`labels/ccp_footwear.csv`, see its README):
CCP's own names call about half the open shoes `shoes`, `heels` or `wedges`. Photos that are near-duplicates of a
ccp-public photo are left out. Validation: CCP 0601-0700 and every 10th photo of 1005-1800. Bare feet: the sandal
photos of 0001-0700 that show most of the foot, with the sandal painted out (`BareFeet`), in both splits.

Resolution: a foot is 12 px wide on a cheap webcam with the person far back and 200 px close up. Training tiles are
also cut from copies of their photo shrunk to 25-100 % (blurred and JPEG-compressed at random), so small feet are
seen in training; validation tiles are cut at 100 %, 40 % and 25 % and scored per scale. The operating points
(the P(open) that fails a foot, the tile size below which a foot is too small to judge) are chosen on the
validation tiles and written into the manifest.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import cv2
import numpy as np

from checks.footwear import hidden
from models.crops import foot_crops
from models.training import classifier
from models.training.common import (CCP_HELD_OUT, CCP_NEAR_DUPLICATES_OF_HELD_OUT, CCP_VAL,
                                    ROOT, WORK, ccp_label_names, ccp_mask)

CLASSES = ("closed", "open", "unseen")  # ultralytics orders ImageFolder classes alphabetically
TILE = 96
MODEL_DIR = ROOT / "models" / "footwear"
LABELS = Path(__file__).resolve().parent / "labels" / "ccp_footwear.csv"
COPIES = {"closed": 3, "open": 5, "unseen": 5}  # training copies per foot (the first exact): open feet are scarce
MIN_SCALE = 0.25
FOOTWEAR_LABELS = ("shoes", "boots", "sneakers", "loafers", "flats", "pumps", "heels", "clogs", "wedges", "sandals")
MAX_CLOSED_FAILED = 0.02  # a wrong FAIL sends a technician home to change shoes: at most 2 % of people in closed shoes
MAX_CLOSED_UNSURE = 0.05  # people in closed shoes the rule may be unsure of (a supervisor looks) rather than pass
MIN_ACCURACY = 0.8  # feet whose tile size band is judged right less often than this are "step closer"
# ... and so are feet of a size band in which more of the open shoes than this pass as "Closed shoes": most feet are
# closed, so accuracy alone let a band pass a third of its open shoes (32-40 px, 27 of 83 on validation: a person
# about 200 px tall) while larger feet pass 11-19 %
MAX_OPEN_PASSED = 0.2
# a small foot tile (a person about 300 px tall: a cheap webcam, or standing far back) is scored less surely: such
# feet get their own fail point. Where "small" ends is the first of these sizes at which the closed feet failed stay
# within MAX_CLOSED_FAILED at every validation scale (40 px left 3.1 % of closed feet failed at 40 % scale)
SMALL_TILE_EDGES = (40, 48, 56, 64, 72, 80, 96)


class BareFeet:
    """A sandal photo with its footwear painted out of the picture (the pixels CCP's mask calls footwear filled in
    from around them): bare feet. No public photo set in reach shows bare feet, and a classifier that never saw one
    calls them closed shoes; a sandal shows most of the foot, so painting its straps out leaves a bare foot."""

    def __init__(self, i: int) -> None:
        self.i = i

    def __call__(self, image: np.ndarray) -> np.ndarray:
        names = ccp_label_names()
        footwear = np.isin(ccp_mask(self.i), [names.index(n) for n in FOOTWEAR_LABELS]).astype(np.uint8)
        return cv2.inpaint(image, cv2.dilate(footwear, np.ones((3, 3), np.uint8)), 4, cv2.INPAINT_TELEA)


def shows_the_foot(i: int, names: list[str]) -> bool:
    """Whether a sandal leaves most of the foot in view: skin at least half as large as the footwear in the mask."""
    mask = ccp_mask(i)
    footwear = int(np.isin(mask, [names.index(n) for n in FOOTWEAR_LABELS]).sum())
    lower = mask[int(0.75 * mask.shape[0]):]
    return footwear > 0 and int((lower == names.index("skin")).sum()) >= 0.5 * footwear


def samples(limit: int | None = None) -> list[classifier.TileSample]:
    out, names = [], ccp_label_names()
    with open(LABELS, newline="") as f:
        for row in csv.DictReader(f):
            i, kind = int(row["photo"]), row["footwear"]
            if kind not in CLASSES or i in CCP_NEAR_DUPLICATES_OF_HELD_OUT:
                continue
            split = "val" if i in CCP_VAL or (i >= 1005 and i % 10 == 0) else "train"
            out.append(classifier.ccp_sample(i, split, {"foot_left": kind, "foot_right": kind}))
            if kind == "open" and i < CCP_HELD_OUT.start and shows_the_foot(i, names):
                out.append(classifier.ccp_sample(i, split, {"foot_left": "open", "foot_right": "open"},
                                                 BareFeet(i), "bare"))
    if limit:
        out = [s for split in ("train", "val") for kind in CLASSES
               for s in [q for q in out if q.split == split and q.labels["foot_left"] == kind][:limit]]
    return out


def score(scored: list[classifier.Scored]) -> tuple[dict, dict]:
    """Operating points from the validation feet: the P(open) threshold from the closed feet, and its own for the
    small tiles, small ending at the first of SMALL_TILE_EDGES where closed feet failed stay within MAX_CLOSED_FAILED
    at every scale; the smallest foot tile judged right often enough, and raised where too many open shoes pass;
    then open recall, closed feet failed and accuracy per scale."""
    for small_px in SMALL_TILE_EDGES:
        thresholds, validation = score_with_small_tiles(scored, small_px)
        if all(v["closed_failed"] <= MAX_CLOSED_FAILED for v in validation.values()):
            break
    # after the small-tile point is chosen on every foot: the feet below the size raised here are "step closer",
    # and the few left at a scale would make its closed-failed share too noisy to choose that point on
    t_unsure = thresholds["open_unsure"]
    floor = classifier.smallest_judged_size([(r.side_px, not passed(r, t_unsure)) for r in scored if r.kind == "open"],
                                            1 - MAX_OPEN_PASSED)
    if floor > thresholds["min_tile_px"]:
        thresholds, validation = score_with_small_tiles(scored, small_px, floor)
    return thresholds, validation


def called_unseen(r: classifier.Scored, t_unsure: float) -> bool:
    """Not seen, as the rule decides (`checks.footwear.hidden`) at the unseen point 0.5."""
    return hidden(r.probs, t_unsure, 0.5)


def passed(r: classifier.Scored, t_unsure: float) -> bool:
    """A foot the rule calls closed with confidence: below the unsure band and seen."""
    return r.probs["open"] < t_unsure and not called_unseen(r, t_unsure)


def score_with_small_tiles(scored: list[classifier.Scored], small_px: int, min_px_floor: int = 0) -> tuple[dict, dict]:
    """`score` with foot tiles under `small_px` pixels scored as small, and none under `min_px_floor` judged."""
    # the rule fails a person when either foot looks open: the threshold is set on each validation person's more
    # open-looking foot, at every scale
    people: dict[tuple[str, str], float] = {}
    small: dict[tuple[str, str], float] = {}  # the same, over the feet whose tiles are small
    for r in scored:
        if r.kind == "closed":
            people[(r.photo, r.scale)] = max(people.get((r.photo, r.scale), 0.0), r.probs["open"])
            if r.side_px < small_px:
                small[(r.photo, r.scale)] = max(small.get((r.photo, r.scale), 0.0), r.probs["open"])
    t_open = classifier.operating_point(list(people.values()), MAX_CLOSED_FAILED)
    # never below the general point: a small foot is not failed on less than a large one
    t_small = classifier.operating_point(list(small.values()), MAX_CLOSED_FAILED, lo=t_open, hi=0.995)

    def fails(r: classifier.Scored, t_far: float = t_small) -> bool:
        return r.probs["open"] >= (t_far if r.side_px < small_px else t_open) and r.probs["unseen"] < 0.5

    # below it, a band where the rule cannot tell and says so: at most MAX_CLOSED_UNSURE of the people in closed
    # shoes fall in it, and an open shoe scored just under the fail point is no longer a confident "Closed shoes"
    t_unsure = min(t_open, classifier.operating_point(list(people.values()), MAX_CLOSED_UNSURE, lo=0.05))

    def right(r: classifier.Scored, t_far: float = t_small) -> bool:
        if r.kind == "unseen":
            return called_unseen(r, t_unsure)
        return fails(r, t_far) == (r.kind == "open") and not called_unseen(r, t_unsure)

    # the size below which a foot is "step closer" is where the classifier stops telling open from closed at the
    # general point; the small-tile point then moves its doubtful open scores into the unsure band, not into a PASS
    min_px = max(min_px_floor, classifier.smallest_judged_size([(r.side_px, right(r, t_open)) for r in scored
                                                                if r.kind != "unseen"], MIN_ACCURACY))
    thresholds = {"open": round(t_open, 3), "open_small": round(t_small, 3), "small_tile_px": small_px,
                  "open_unsure": round(t_unsure, 3), "unseen": 0.5, "min_tile_px": min_px}
    validation = {}
    for tag in sorted({r.scale for r in scored}, reverse=True):
        rows = [r for r in scored if r.scale == tag]
        judged = [r for r in rows if r.side_px >= min_px]
        by = {k: [r for r in judged if r.kind == k] for k in CLASSES}
        validation[tag] = {
            "feet": len(rows), "too_small": len(rows) - len(judged),
            "open_recall": round(sum(right(r) for r in by["open"]) / max(len(by["open"]), 1), 3),
            "closed_failed": round(sum(fails(r) for r in by["closed"]) / max(len(by["closed"]), 1), 3),
            "accuracy": round(sum(right(r) for r in by["open"] + by["closed"])
                              / max(len(by["open"]) + len(by["closed"]), 1), 3),
            "unseen_recall": round(sum(right(r) for r in by["unseen"]) / max(len(by["unseen"]), 1), 3),
            # with the band: open feet still passed, closed feet the rule is unsure of
            "open_passed": round(sum(passed(r, t_unsure) for r in by["open"]) / max(len(by["open"]), 1), 3),
            "closed_unsure": round(sum(t_unsure <= r.probs["open"] and not fails(r) and r.probs["unseen"] < 0.5
                                       for r in by["closed"]) / max(len(by["closed"]), 1), 3),
            "open_auc": classifier.auc([r.probs["open"] for r in rows if r.kind == "open"],
                                       [r.probs["open"] for r in rows if r.kind == "closed"])}
    return thresholds, validation


def main(argv: list[str] | None = None) -> int:
    return classifier.main(
        "footwear", __doc__, argv, samples=samples, classes=CLASSES, crops=foot_crops, copies=COPIES, tile=TILE,
        min_scale=MIN_SCALE, score=score, epochs=30, data=WORK / "feet", out=MODEL_DIR,
        sources="CCP 0001-0700 and 1005-1800 labelled by eye (models/training/labels/ccp_footwear.csv); "
                f"val = {CCP_VAL.start:04d}-{CCP_VAL.stop - 1:04d} and every 10th of 1005-1800; 0701-0850 "
                "(ccp-public) and their near-duplicates never read",
        tiles="one pose-guided tile per foot (models.crops.foot_crops)")


if __name__ == "__main__":
    sys.exit(main())
