"""Train the jewellery classifier: is a watch or a bracelet worn on this wrist, a necklace round this neck?

    python -m models.training.jewellery                  # prepare, fine-tune, export to models/jewellery/
    python -m models.training.jewellery prepare|fit|export|rescore

One tile per wrist and one around the neck (`models.crops.jewellery_crops`), two classes: `bare` and `jewellery`
(a watch, bracelet, bangle or wristband; a necklace or pendant). The attire detector finds boxes around a few such
pieces (CCP holds 91 in 0001-0700) and missed three in four on ccp-public; a tile classifier only has to say
whether a piece is there, and learns it from the far more photos that are only tagged.

Labels:
- by eye first (`labels/ccp_wrists.csv`, rule in `labels/README.md`): both wrists of the photos of 1005-1800
  tagged `bracelet` or `watch`, and the wrists taken as bare that a first model scored highest; `ring` and
  `unsure` wrists are left out;
- else CCP 0001-0700, from the pixel masks: a wrist is `jewellery` when a bracelet or watch mask lies within 0.45
  shoulder widths of it, or an `accessories` mask within 0.3 (CCP's name for many watches and bracelets), and
  nearer it than the other wrist; `bare` when none is (a wrist with only a ring near it is left out); the neck is
  `jewellery` when the photo has a necklace mask;
- else CCP 1005-1800: both wrists `bare` unless the photo is tagged `bracelet`, `watch` or `accessories` (then left
  out); the neck `jewellery` when the photo is tagged `necklace` (one neck, so the tag says where).
Photos that are near-duplicates of a ccp-public photo, and the ccp-rules evaluation photos, are left out; 0701-0850
are never read (ccp-public scores jewellery from them). Validation: 0601-0700 and every 10th photo of 1005-1800.

An operating point per part (wrist, neck) is chosen on the validation photos with no piece at all, at every scale
together: at most MAX_PHOTO_FALSE_ALARM[part] of them get that part flagged.
"""
from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from models.crops import jewellery_crops
from models.regions import body_scale
from models.training import classifier
from models.training.common import (CCP, CCP_NEAR_DUPLICATES_OF_HELD_OUT, CCP_RULES_HELD_OUT, CCP_TAGGED, CCP_TRAIN,
                                    CCP_VAL, ROOT, WORK, PoseCache, ccp_label_names, ccp_mask, ccp_tags)

CLASSES = ("bare", "jewellery")
TILE = 64  # a bracelet is about a fifth of the tile
MODEL_DIR = ROOT / "models" / "jewellery"
LABELS = Path(__file__).resolve().parent / "labels" / "ccp_wrists.csv"
COPIES = {"bare": 2, "jewellery": 2}  # the first exact, the second shrunk: the same share of each class
REPEATS = 3  # pieces are scarce (one tile in ten): a photo's adorned tiles are cut this many times in training
MIN_SCALE = 0.3
NEAR_WRIST = 0.45  # body scales from the wrist point: 95 % of CCP's bracelet and watch masks lie closer
NEAR_ACCESSORY = 0.3  # CCP's masks call many watches and bracelets `accessories`: that label on the wrist is one
WRIST_PIECES = ("bracelet", "watch")
MAX_PHOTO_FALSE_ALARM = {"wrist": 0.03, "neck": 0.02}  # validation photos with no piece that get one counted
EYE_LABELS = {"watch": "jewellery", "bracelet": "jewellery", "none": "bare"}  # ring, unsure: left out


def _split(i: int) -> str:
    return "val" if i in CCP_VAL or (i >= 1005 and i % 10 == 0) else "train"


def _mask_labels(i: int, names: list[str], pose: PoseCache) -> dict[str, str]:
    """Per tile from CCP's masks: the wrist nearest each bracelet or watch (within NEAR_WRIST) or `accessories` mask
    (within NEAR_ACCESSORY) is `jewellery`, one with only a ring near it is left out; the neck is `jewellery` when
    the photo has a necklace."""
    mask = ccp_mask(i)
    kp = pose(f"ccp_{i:04d}", cv2.imread(str(CCP / f"photos/{i:04d}.jpg")))
    if kp is None:
        return {}
    s = body_scale(kp)
    wrists = {side: kp.point(f"{side}_wrist") for side in ("left", "right")}
    labels = {f"wrist_{side}": "bare" for side in wrists}
    labels["neck"] = "jewellery" if (mask == names.index("necklace")).any() else "bare"
    for name in (*WRIST_PIECES, "accessories", "ring"):
        count, _, stats, centres = cv2.connectedComponentsWithStats((mask == names.index(name)).astype(np.uint8))
        for k in range(1, count):
            if stats[k, cv2.CC_STAT_AREA] < 15:
                continue
            side, d = min(((side, float(np.hypot(*(centres[k] - w)))) for side, w in wrists.items()),
                          key=lambda t: t[1])
            if d <= (NEAR_ACCESSORY if name == "accessories" else NEAR_WRIST) * s:
                part = f"wrist_{side}"
                if name != "ring":
                    labels[part] = "jewellery"
                elif labels[part] == "bare":
                    labels[part] = "ring"
    return {part: label for part, label in labels.items() if label in CLASSES}


def samples(limit: int | None = None) -> list[classifier.TileSample]:
    names, pose = ccp_label_names(), PoseCache()
    with open(LABELS, newline="") as f:
        # a wrist looked at by eye: its class, or None (ring, unsure, unseen: left out); an empty cell: not looked at
        by_eye = {int(r["photo"]): {f"wrist_{side}": EYE_LABELS.get(r[f"wrist_{side}"]) for side in ("left", "right")
                                    if r[f"wrist_{side}"]} for r in csv.DictReader(f)}
    out = []
    for i in [*CCP_TRAIN, *CCP_VAL, *CCP_TAGGED]:
        if i in CCP_RULES_HELD_OUT or i in CCP_NEAR_DUPLICATES_OF_HELD_OUT:
            continue
        if i < 1000:
            labels = _mask_labels(i, names, pose)
        else:
            tags = ccp_tags(i, names) or set()
            # a photo tagged `accessories` may have its watch under that name: its wrists are known only by eye
            labels = {} if {*WRIST_PIECES, "accessories"} & tags else {"wrist_left": "bare", "wrist_right": "bare"}
            labels["neck"] = "jewellery" if "necklace" in tags else "bare"
        for part, label in by_eye.get(i, {}).items():  # the eye wins over masks and tags
            labels[part] = label
        labels = {part: label for part, label in labels.items() if label}
        if labels:
            out.append(classifier.ccp_sample(i, _split(i), labels))
        worn = {part: label for part, label in labels.items() if label == "jewellery"}
        if worn and _split(i) == "train":  # more copies of the adorned tiles only, so that the classes are
            # shrunk in the same share and shrinking says nothing about the class
            out += [classifier.ccp_sample(i, "train", worn, tag=f"r{k}") for k in range(1, REPEATS)]
        if limit and len(out) >= limit:
            break
    return out


def _kind(part: str) -> str:
    return part.split("_")[0]  # wrist_left -> wrist, neck -> neck


def score(scored: list[classifier.Scored]) -> tuple[dict, dict]:
    """The P(jewellery) that counts a piece, per part: at most MAX_PHOTO_FALSE_ALARM[part] of the validation photos
    with no piece anywhere (at every scale) get one there; then, per scale and part, the recall of tiles with a
    piece, the bare tiles flagged and the AUC, and the photos with no piece that get any counted."""
    photos: dict[tuple[str, str], list[classifier.Scored]] = defaultdict(list)
    for r in scored:
        photos[(r.photo, r.scale)].append(r)
    clean = [rows for rows in photos.values() if all(r.kind == "bare" for r in rows)]
    at = {part: classifier.operating_point([max((r.probs["jewellery"] for r in rows if _kind(r.part) == part),
                                                default=0.0) for rows in clean], limit, lo=0.3, hi=0.99)
          for part, limit in MAX_PHOTO_FALSE_ALARM.items()}

    def flagged(r: classifier.Scored) -> bool:
        return r.probs["jewellery"] >= at[_kind(r.part)]

    validation = {}
    for tag in sorted({r.scale for r in scored}, reverse=True):
        for part in at:
            rows = [r for r in scored if r.scale == tag and _kind(r.part) == part]
            worn, bare = [r for r in rows if r.kind == "jewellery"], [r for r in rows if r.kind == "bare"]
            validation[f"{part}_{tag}"] = {
                "tiles": len(rows), "with_piece": len(worn),
                "recall": round(sum(map(flagged, worn)) / max(len(worn), 1), 3),
                "bare_flagged": round(sum(map(flagged, bare)) / max(len(bare), 1), 3),
                "auc": classifier.auc([r.probs["jewellery"] for r in worn], [r.probs["jewellery"] for r in bare])}
        mine = [rows for rows in clean if rows[0].scale == tag]
        validation[f"photo_false_alarm_{tag}"] = round(sum(any(map(flagged, rows)) for rows in mine)
                                                       / max(len(mine), 1), 3)
    return {**{f"jewellery_{part}": round(t, 3) for part, t in at.items()}, "min_tile_px": 24}, validation


def main(argv: list[str] | None = None) -> int:
    return classifier.main(
        "jewellery", __doc__, argv, samples=samples, classes=CLASSES, crops=jewellery_crops, copies=COPIES, tile=TILE,
        min_scale=MIN_SCALE, score=score, epochs=20, data=WORK / "jewellery", out=MODEL_DIR,
        sources="wrists by eye (models/training/labels/ccp_wrists.csv), else CCP 0001-0700 bracelet, watch and "
                "accessories masks, 1005-1800 untagged: bare; the neck: necklace masks and tags; val = "
                f"{CCP_VAL.start:04d}-{CCP_VAL.stop - 1:04d} and every 10th of 1005-1800; 0701-0850 never read",
        tiles="one pose-guided tile per wrist and one around the neck (models.crops.jewellery_crops)")


if __name__ == "__main__":
    sys.exit(main())
