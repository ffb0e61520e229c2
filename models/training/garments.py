"""Train the two garment classifiers: is the front of the jacket open (`front`), and are the legs in trousers
(`legwear`)?

    python -m models.training.garments front|legwear [prepare|fit|export|rescore|probe]

- front: the torso tile (`models.crops.front_crops`), `closed` or `open`;
- legwear: hips to the ankles (`models.crops.legs_crops`), `trousers` or `not_trousers`.
Labels by eye (`labels/ccp_front.csv`, `labels/ccp_legwear.csv`, rules in `labels/README.md`) for 0001-0700 and
1005-1800: the labels derived before from CCP's masks and tags called most open jackets closed and many wide
trousers skirts. 0701-0850 and CCP_RULES_HELD_OUT (the photos of the ccp-rules evaluation set) and their
near-duplicates are never read. Validation: 0601-0700 and every 10th photo of 1005-1800.
"""
from __future__ import annotations

import argparse
import sys

from models.crops import front_crops, legs_crops
from models.training import classifier
from models.training.common import (CCP_NEAR_DUPLICATES_OF_HELD_OUT, CCP_RULES_HELD_OUT, CCP_VAL, ROOT, WORK,
                                    eye_labels)

TILE = {"front": 96, "legwear": 96}  # an open front is a narrow strip, a hem above tights a thin line: 96 px keeps them
MODELS = {"front": (("closed", "open"), front_crops, {"closed": 2, "open": 3}, "front",
                    "the torso tile (models.crops.front_crops)"),
          "legwear": (("not_trousers", "trousers"), legs_crops, {"not_trousers": 3, "trousers": 3}, "legs",
                      "hips to the ankles (models.crops.legs_crops)")}
MAX_PASS_FAILED = 0.04
MAX_PASS_UNSURE = 0.10  # right garments the station may call unsure (a supervisor looks) rather than pass


def _split(i: int) -> str:
    return "val" if i in CCP_VAL or (i >= 1005 and i % 10 == 0) else "train"


def samples(name: str) -> list[classifier.TileSample]:
    classes, part = MODELS[name][0], MODELS[name][3]
    labels = eye_labels(name, classes)
    return [classifier.ccp_sample(i, _split(i), {part: label}) for i, label in sorted(labels.items())
            if i not in CCP_RULES_HELD_OUT and i not in CCP_NEAR_DUPLICATES_OF_HELD_OUT]


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
    ap = argparse.ArgumentParser(prog="python -m models.training.garments", description=__doc__.split("\n")[0],
                                 add_help=False)
    ap.add_argument("model", choices=sorted(MODELS))
    known, rest = ap.parse_known_args(sys.argv[1:] if argv is None else argv)
    name = known.model
    classes, crops, copies, _, tiles = MODELS[name]
    return classifier.main(
        name, __doc__, rest, samples=lambda limit: samples(name)[:limit] if limit else samples(name),
        classes=classes, crops=crops, copies=copies, tile=TILE[name], min_scale=0.3, score=scorer(name), epochs=20,
        data=WORK / name, out=ROOT / "models" / name, sources=__doc__.split("\n\n")[2], tiles=tiles,
        module=f"models.training.garments {name}")


if __name__ == "__main__":
    sys.exit(main())
