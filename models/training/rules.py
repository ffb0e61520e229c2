"""Calibrate the rules that measure without a model of their own: front_closed, legwear, hair_colour.

    python -m models.training.rules          # writes models/rules/rules.json

Each rule measures something in the frame (how the middle of the front differs from its sides, skin on the legs and
cloth between them, the colours of the hair). What value is too much is chosen here, on CCP's pixel-labelled
training photos, never on an evaluation set (the beard has a classifier of its own: models.training.beard):

- front_closed and legwear: labels from the masks (an open front: jacket, coat, blazer, cardigan or vest on both
  sides of the front and another garment or skin down the middle; legwear: pants, jeans or leggings on the thighs
  against shorts, skirts and dresses). The threshold is the best-accuracy one on 0001-0600 and is scored on
  0601-0700.
- hair_colour: CCP has few dyed heads, so the `hair` pixels of 0001-0600 are dyed at random (`random_dye`) and a
  map of the colours dyed hair has and natural hair has not is learned from both; the threshold fails at most 2 % of
  the natural heads of 0601-0700 and is scored on dyed copies of them, at full size and shrunk to 40 % and 25 %
  (as a cheap webcam or a person farther back sees them). Which heads are natural was looked at by eye
  (`labels/ccp_hair.csv`): the few dyed red, pink or blue heads count as dyed, the unclear ones (copper, burgundy,
  brassy) are left out, and a photo nobody looked at is not used.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import cv2
import numpy as np

from models.training.common import (CCP, CCP_LICENCE, CCP_NEAR_DUPLICATES_OF_HELD_OUT, CCP_TRAIN, CCP_VAL, ROOT,
                                    ccp_label_names, ccp_mask, eye_labels, progress, rel, shrunk)

OUT = ROOT / "models" / "rules" / "rules.json"
OUTER = ("jacket", "coat", "blazer", "cardigan", "vest", "cape", "hoodie")
INNER = ("shirt", "t-shirt", "blouse", "top", "sweater", "dress", "bodysuit", "jumper", "sweatshirt", "bra", "skin",
         "intimate", "romper", "suit")
TROUSERS, NOT_TROUSERS = ("pants", "jeans", "leggings"), ("shorts", "skirt", "dress")
HAIR_BINS, HAIR_SMOOTH = 32, 0.6  # (L, a, b) cells of 8 levels; smoothing in cells (chosen on 0601-0700)
# OpenCV hues, less those natural hair has: 70 natural heads of 0001-0600 are at least a fifth saturated pixels, all
# of hue 7-19 (auburn, ginger, golden brown); 20-34 are golden blonde and light brown. Dyed to those hues, a copy looks
# natural and taught the map that natural colours are striking.
DYE_HUES = [h for h in range(180) if not 7 <= h < 35]
MIN_HAIR_PX = 500
MAX_NATURAL_FLAGGED = 0.02  # natural heads of 0601-0700 the hair threshold may fail
HAIR_VAL_SCALES = (1.0, 0.4, 0.25)  # full size, the -small eval sets, a person farther back


def share(mask: np.ndarray, region, values: list[int]) -> tuple[float, int]:
    (x1, y1, x2, y2), m = region.local_mask(mask.shape[1], mask.shape[0])
    sub = mask[y1:y2, x1:x2][m]
    sub = sub[sub != 0]
    return (float(np.isin(sub, values).mean()), len(sub)) if len(sub) else (0.0, 0)


def mask_labels(mask: np.ndarray, regions: dict, names: list[str]) -> dict[str, str]:
    """front_closed and legwear as the photo's masks tell them, where they do."""
    ids = {n: names.index(n) for n in names if n}
    outer, inner = [ids[n] for n in OUTER if n in ids], [ids[n] for n in INNER if n in ids]
    labels = {}
    if all(k in regions for k in ("front_left", "front_centre", "front_right")):
        sides = min(share(mask, regions[k], outer)[0] for k in ("front_left", "front_right"))
        centre_outer, n = share(mask, regions["front_centre"], outer)
        centre_inner, _ = share(mask, regions["front_centre"], inner)
        if n:
            if sides >= 0.5 and centre_outer <= 0.4 and centre_inner >= 0.4:
                labels["front_closed"] = "fail"
            elif centre_outer >= 0.6 or (sides < 0.1 and centre_outer < 0.1):
                labels["front_closed"] = "pass"
    thighs = [regions[k] for k in ("thigh_left", "thigh_right") if k in regions]
    if len(thighs) == 2:
        trousers = np.mean([share(mask, r, [ids[n] for n in TROUSERS])[0] for r in thighs])
        other = np.mean([share(mask, r, [ids[n] for n in NOT_TROUSERS] + [ids["skin"]])[0] for r in thighs])
        if trousers >= 0.6:
            labels["legwear"] = "pass"
        elif other >= 0.6:
            labels["legwear"] = "fail"
    return labels


def random_dye(image: np.ndarray, hair: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`calibration.build_sets.dye` at a random hue (any but the golden blondes and browns natural hair has),
    strength and lightening, so the map learns dyed hair, not one recipe."""
    from calibration.build_sets import dye

    hue = int(rng.choice(DYE_HUES))
    return dye(image, hair, hue, saturation=int(rng.integers(130, 201)), lift=int(rng.integers(15, 51)))


def enough_hair(mask: np.ndarray, names: list[str]) -> np.ndarray | None:
    """The `hair` pixels of a CCP mask, where there are enough to learn or dye."""
    hair = mask == names.index("hair")
    return hair if hair.sum() >= MIN_HAIR_PX else None


def striking_colours(ids: list[int], names: list[str], rng: np.random.Generator, labels: dict[int, str]) -> dict:
    """The (L, a, b) cells where dyed hair is likelier than natural hair: histograms of CCP's `hair` pixels, as
    photographed (natural heads; really dyed heads count as dyed) and dyed (`random_dye`), each photo weighted alike,
    smoothed, compared at equal priors."""
    from scipy.ndimage import gaussian_filter

    hist = {"natural": np.zeros((HAIR_BINS,) * 3), "dyed": np.zeros((HAIR_BINS,) * 3)}
    for i in progress([i for i in ids if labels.get(i) in ("natural", "striking")], "hair colours"):
        hair = enough_hair(ccp_mask(i), names)
        if hair is None:
            continue
        image = cv2.imread(str(CCP / f"photos/{i:04d}.jpg"))
        looks = [("dyed", image)] if labels[i] == "striking" else [("natural", image),
                                                                   ("dyed", random_dye(image, hair, rng))]
        for kind, photo in looks:
            pixels = cv2.cvtColor(photo, cv2.COLOR_BGR2LAB)[hair]
            h, _ = np.histogramdd(pixels, bins=HAIR_BINS, range=[(0, 256)] * 3)
            hist[kind] += h / h.sum()
    natural, dyed = (gaussian_filter(h / h.sum(), HAIR_SMOOTH) for h in (hist["natural"], hist["dyed"]))
    return {"bins": HAIR_BINS, "space": "OpenCV 8-bit L, a, b; cell (L * bins + a) * bins + b",
            "striking_bits": np.packbits((dyed > natural).ravel()).tobytes().hex()}


def head_share(pipeline, image: np.ndarray, hair_model: dict) -> float | None:
    """The striking share the hair rule measures on `image` (None where it cannot measure)."""
    from checks import hair_colour

    found = hair_colour.measure(pipeline.run(image).perception, hair_model)
    return found[0] if found else None


def best_threshold(values: list[float], labels: list[str]) -> float:
    """The cut that classifies `values` (higher = fail) most accurately."""
    v, y = np.array(values), np.array([lab == "fail" for lab in labels])
    cuts = np.unique(np.round(v, 4))
    acc = [((v > c) == y).mean() for c in cuts]
    return float(cuts[int(np.argmax(acc))])


def score(values, labels, cut) -> dict:
    v, y = np.array(values), np.array([lab == "fail" for lab in labels])
    pred = v > cut
    return {"n": int(len(v)), "fail": int(y.sum()), "accuracy": round(float((pred == y).mean()), 3),
            "fail_recall": round(float(pred[y].mean()), 3) if y.any() else None,
            "pass_failed": round(float(pred[~y].mean()), 3) if (~y).any() else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.training.rules", description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="only the first N photos of each split (smoke tests)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    from checks import front_closed, hair_colour, legwear
    from models.mediapipe_models import MediaPipeFaces, MediaPipePose, MediaPipeSegmenter
    from models.skin import SkinModel
    from station.config import StationConfig
    from station.pipeline import Models, Pipeline

    names = ccp_label_names()
    train = [i for i in CCP_TRAIN if i not in CCP_NEAR_DUPLICATES_OF_HELD_OUT][: args.limit]
    val = list(CCP_VAL)[: args.limit]
    rng = np.random.default_rng(0)
    hair_seen = eye_labels("hair")  # natural, striking (dyed a colour hair does not grow in) or unsure
    hair_model = striking_colours(train, names, rng, hair_seen)
    pipeline = Pipeline(StationConfig(), Models(MediaPipePose(), MediaPipeSegmenter(), MediaPipeFaces(),
                                                SkinModel.load()))
    rows = {"train": [], "val": []}
    for split, ids in (("train", train), ("val", val)):
        for i in progress(ids, f"measuring {split}"):
            image, mask = cv2.imread(str(CCP / f"photos/{i:04d}.jpg")), ccp_mask(i)
            p = pipeline.run(image).perception
            row = {"labels": mask_labels(mask, p.regions, names)}
            row["front"] = front_closed.measure(p)
            row["legs"] = legwear.measure(p)
            natural = hair_seen.get(i) == "natural"  # the threshold and its dyed copies: natural heads only
            head = hair_colour.measure(p, hair_model) if natural else None
            row["hair"] = head[0] if head else None
            hair = enough_hair(mask, names) if split == "val" and natural else None
            if hair is not None:
                looks = {"natural": image, "dyed": random_dye(image, hair, rng)}
                # each validation head also as a cheap webcam or a person farther back sees it
                # (the natural head at full size is `head`, measured above: not run through the pipeline again)
                row["heads"] = {(kind, k): row["hair"] if (kind, k) == ("natural", 1.0) else
                                head_share(pipeline, shrunk(photo, k), hair_model)
                                for kind, photo in looks.items() for k in HAIR_VAL_SCALES}
            rows[split].append(row)

    def pairs(split, key, measure, label):
        out = [(r[key][measure], r["labels"][label]) for r in rows[split]
               if r[key] is not None and measure in r[key] and label in r["labels"]]
        return [v for v, _ in out], [lab for _, lab in out]

    cuts, validation = {}, {}
    for rule, key, measure in (("front_closed", "front", "contrast"), ("legwear", "legs", "leg_skin"),
                               ("legwear", "legs", "gap_cloth")):
        v, y = pairs("train", key, measure, rule)
        cut = best_threshold(v, y)
        cuts[(rule, measure)] = cut
        validation[f"{rule}.{measure}"] = {"train": score(v, y, cut), "val": score(*pairs("val", key, measure, rule),
                                                                                  cut)}
    heads = [r["hair"] for r in rows["val"] if r["hair"] is not None]
    max_striking = float(np.percentile(heads, 100 * (1 - MAX_NATURAL_FLAGGED))) if heads else 0.5
    validation["hair_colour"] = {}
    for k in HAIR_VAL_SCALES:
        shares = {kind: [r["heads"][(kind, k)] for r in rows["val"] if "heads" in r] for kind in ("natural", "dyed")}
        judged = {kind: np.array([v for v in values if v is not None]) for kind, values in shares.items()}
        validation["hair_colour"][f"s{round(100 * k):03d}"] = {
            "heads": len(shares["natural"]), "judged": len(judged["natural"]),
            "flagged": round(float(np.mean(judged["natural"] > max_striking)), 3) if len(judged["natural"]) else None,
            "dyed_heads": len(shares["dyed"]), "dyed_judged": len(judged["dyed"]),
            "dyed_caught": round(float(np.mean(judged["dyed"] > max_striking)), 3) if len(judged["dyed"]) else None}
    result = {
        "rules": {
            "front_closed": {"max_contrast": round(cuts[("front_closed", "contrast")], 4), "max_centre_skin": 0.35},
            "legwear": {"max_leg_skin": round(cuts[("legwear", "leg_skin")], 4),
                        "max_gap_cloth": round(cuts[("legwear", "gap_cloth")], 4)},
            "hair_colour": {"max_striking": round(max_striking, 4), "striking_colours": hair_model},
        },
        "validation": validation,
        "data": f"CCP pixel-labelled photos: {len(train)} of {CCP_TRAIN.start:04d}-{CCP_TRAIN.stop - 1:04d} choose, "
                f"{len(val)} of {CCP_VAL.start:04d}-{CCP_VAL.stop - 1:04d} score; 0701-0850 never read",
        "licences": CCP_LICENCE,
        "command": "python -m models.training.rules " + " ".join(argv if argv is not None else sys.argv[1:]),
        "made": time.strftime("%Y-%m-%d"),
        "source": rel(CCP),
    }
    from pathlib import Path

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result["rules"].items() if k != "hair_colour"}), json.dumps(validation))
    return 0


if __name__ == "__main__":
    sys.exit(main())
