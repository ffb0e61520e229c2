"""Train the two garment classifiers: is the front of the jacket open (`front`), and are the legs in trousers
(`legwear`)?

    python -m models.training.garments front|legwear [prepare|fit|export|rescore]

- front: the torso tile (`models.crops.front_crops`), `closed` or `open`. Labels by eye
  (`labels/ccp_front.csv`) for 0001-0700 and 1005-1800: the masks' outerwear and inner garments had called most
  open jackets closed (126 of 700 open, where the eye finds about a third).
- legwear: hips to below the knees (`models.crops.legs_crops`), `trousers` or `not_trousers`. Labels from the masks
  of 0001-0700 (pants, jeans or leggings on the thighs; or shorts, skirt, dress or skin) and from the tags of
  1005-1800 where they name only one kind.
0701-0850 and CCP_RULES_HELD_OUT (the photos of the ccp-rules evaluation set) and their near-duplicates are never
read. Validation: 0601-0700 and every 10th photo of 1005-1800.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from models.crops import front_crops, legs_crops
from models.regions import build_regions
from models.training import classifier
from models.training.common import (CCP_LICENCE, CCP_NEAR_DUPLICATES_OF_HELD_OUT, CCP_RULES_HELD_OUT, CCP_TAGGED,
                                    CCP_TRAIN, CCP_VAL, DEFAULT_WEIGHTS, ROOT, WEIGHTS_DIR, WORK, PoseCache,
                                    ccp_label_names, ccp_mask, ccp_tags)
from models.training.rules import NOT_TROUSERS, TROUSERS, share

TILE = 64
FRONT_LABELS = Path(__file__).resolve().parent / "labels" / "ccp_front.csv"
MODELS = {"front": (("closed", "open"), front_crops, {"closed": 2, "open": 3}, "front",
                    "the torso tile (models.crops.front_crops)"),
          "legwear": (("not_trousers", "trousers"), legs_crops, {"not_trousers": 3, "trousers": 3}, "legs",
                      "hips to below the knees (models.crops.legs_crops)")}
MAX_PASS_FAILED = 0.04
MAX_PASS_UNSURE = 0.10  # right garments the station may call unsure (a supervisor looks) rather than pass


def _split(i: int) -> str:
    return "val" if i in CCP_VAL or (i >= 1005 and i % 10 == 0) else "train"


def legs_label(mask, regions, ids) -> str | None:
    thighs = [regions[k] for k in ("thigh_left", "thigh_right") if k in regions]
    if len(thighs) < 2:
        return None
    trousers = min(share(mask, r, [ids[n] for n in TROUSERS])[0] for r in thighs)
    other = min(share(mask, r, [ids[n] for n in NOT_TROUSERS] + [ids["skin"], ids["tights"], ids["stockings"]])[0]
                for r in thighs)
    return "trousers" if trousers >= 0.6 else "not_trousers" if other >= 0.6 else None


def front_samples() -> list[classifier.TileSample]:
    with open(FRONT_LABELS, newline="") as f:
        labels = {int(r["photo"]): r["front"] for r in csv.DictReader(f) if r["front"] in MODELS["front"][0]}
    return [classifier.ccp_sample(i, _split(i), {"front": label}) for i, label in sorted(labels.items())
            if i not in CCP_RULES_HELD_OUT and i not in CCP_NEAR_DUPLICATES_OF_HELD_OUT]


def samples(name: str) -> list[classifier.TileSample]:
    if name == "front":
        return front_samples()
    names, pose = ccp_label_names(), PoseCache()
    ids = {n: names.index(n) for n in names if n}
    part = MODELS[name][3]
    out = []
    for i in list(CCP_TRAIN) + list(CCP_VAL):
        if i in CCP_NEAR_DUPLICATES_OF_HELD_OUT or not (pose.folder / f"ccp_{i:04d}.npz").exists():
            continue
        kp = pose(f"ccp_{i:04d}", None)
        if kp is None:
            continue
        regions = build_regions(kp)
        label = legs_label(ccp_mask(i), regions, ids)
        if label:
            out.append(classifier.ccp_sample(i, _split(i), {part: label}))
    for i in CCP_TAGGED:  # image tags that name one kind of legwear only
        tags = ccp_tags(i, names)
        if not tags or i in CCP_RULES_HELD_OUT or i in CCP_NEAR_DUPLICATES_OF_HELD_OUT:
            continue
        has_t, has_n = bool(tags & set(TROUSERS)), bool(tags & set(NOT_TROUSERS))
        if has_t != has_n:
            out.append(classifier.ccp_sample(i, _split(i), {part: "trousers" if has_t else "not_trousers"}))
    return out


def scorer(name: str):
    classes = MODELS[name][0]
    bad, good = classes[1 if name == "front" else 0], classes[0 if name == "front" else 1]  # fail class, pass class

    def score(scored: list[classifier.Scored]) -> tuple[dict, dict]:
        t = classifier.operating_point([r.probs[bad] for r in scored if r.kind == good and r.scale == "s100"],
                                       MAX_PASS_FAILED)
        # below the fail point, a band where the station says it cannot tell rather than pass: its lower edge lets
        # at most MAX_PASS_UNSURE of the right garments (at every scale) into it
        unsure = min(t, classifier.operating_point([r.probs[bad] for r in scored if r.kind == good],
                                                   MAX_PASS_UNSURE, lo=0.05))

        def right(r):
            return (r.probs[bad] >= t) == (r.kind == bad)

        min_px = classifier.smallest_judged_size([(r.side_px, right(r)) for r in scored], 0.8,
                                                 edges=(24, 32, 48, 64, 96, 128))
        validation = {}
        for tag in sorted({r.scale for r in scored}, reverse=True):
            rows = [r for r in scored if r.scale == tag and r.side_px >= min_px]
            fails, passes = [r for r in rows if r.kind == bad], [r for r in rows if r.kind == good]
            validation[tag] = {"tiles": len(rows), "fail_recall": round(sum(map(right, fails)) / max(len(fails), 1), 3),
                               "pass_failed": round(sum(not right(r) for r in passes) / max(len(passes), 1), 3),
                               "accuracy": round(sum(map(right, rows)) / max(len(rows), 1), 3),
                               "auc": classifier.auc([r.probs[bad] for r in fails], [r.probs[bad] for r in passes]),
                               # with the band: how many wrong garments still pass, how many right ones are unsure
                               "fail_passed": round(sum(r.probs[bad] < unsure for r in fails) / max(len(fails), 1),
                                                    3),
                               "pass_unsure": round(sum(unsure <= r.probs[bad] < t for r in passes)
                                                    / max(len(passes), 1), 3)}
        return {bad: round(t, 3), f"{bad}_unsure": round(unsure, 3), "min_tile_px": min_px}, validation

    return score


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.training.garments", description=__doc__.split("\n")[0])
    ap.add_argument("model", choices=sorted(MODELS))
    ap.add_argument("step", nargs="?", default="all", choices=("all", "prepare", "fit", "export", "rescore"))
    ap.add_argument("--weights", default=str(WEIGHTS_DIR / DEFAULT_WEIGHTS))
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--project", type=Path, default=WORK / "runs")
    args = ap.parse_args(argv)
    classes, crops, copies, _, tiles = MODELS[args.model]
    data = WORK / args.model
    command = f"python -m models.training.garments {' '.join(argv if argv is not None else sys.argv[1:])}"
    if args.step in ("all", "prepare"):
        print(json.dumps(classifier.prepare(data, samples(args.model), classes, crops, copies, TILE, 0.3,
                                            sources=__doc__.split("\n\n")[2])["tiles"]))
    if args.step in ("all", "fit"):
        classifier.fit(data, args.weights, args.epochs, TILE, args.device, args.batch, args.project, args.model,
                       args.workers)
    if args.step in ("all", "export"):
        print(classifier.export(args.project / args.model, ROOT / "models" / args.model, args.model, command, data,
                                classes, scorer(args.model), tiles=tiles, licences=CCP_LICENCE))
    if args.step == "rescore":
        print(classifier.rescore(ROOT / "models" / args.model, args.model, command, data, classes, scorer(args.model)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
