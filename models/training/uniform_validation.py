"""How well the enrolled-uniform comparison tells the uniform from street clothes, on photos outside the eval sets.

    python -m models.training.uniform_validation      # ~1 min

The uniform-public references are enrolled as a site would enrol them (`calibration.enrol`); the uniform is every
other princeID student (one photo per source photo, none of uniform-public's), street clothes are every 4th CCP
photo of 0001-0600. Prints the AUC of the distance, and how many of each side the learned limit gets wrong.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from calibration.enrol import enrol_uniform
from checks.uniform import describe
from models.training.classifier import auc
from models.training.common import CCP, SHARED

UNIFORM_SET = SHARED / "eval" / "uniform-public"


def photos() -> tuple[list[Path], list[Path], list[Path]]:
    references = sorted((UNIFORM_SET / "reference").glob("*/*.jpg"))
    taken = {p.stem for p in references} | {p.stem for p in (UNIFORM_SET / "images").glob("*.jpg")}
    students: dict[str, Path] = {}
    for path in sorted((SHARED / "datasets" / "princeid" / "obb").glob("*/images/*.jpg")):
        source = path.name.split("_jpg.rf.")[0]  # augmented copies of one photo share it
        if source not in taken:
            students.setdefault(source, path)
    street = [CCP / "photos" / f"{i:04d}.jpg" for i in range(1, 601, 4)]
    return references, list(students.values()), street


def main() -> int:
    from station.config import StationConfig
    from station.imageio import read_image
    from station.pipeline import Models, Pipeline

    pipeline = Pipeline(StationConfig(), Models.load(tracking=False))
    references, students, street = photos()
    prototypes, notes = enrol_uniform(references, pipeline)
    distances = {}
    for name, paths in (("uniform", students), ("street", street)):
        d = [prototypes.distance(describe(pipeline.run(read_image(p)).perception)[0])[0] for p in paths]
        distances[name] = np.array([x for x in d if np.isfinite(x)])
    limit = prototypes.max_distance
    print(f"references {len(prototypes.prototypes)} (limit {limit:.3f}); uniform {len(distances['uniform'])}, "
          f"street {len(distances['street'])}; AUC {auc(list(distances['street']), list(distances['uniform']))}; "
          f"uniform failed {int((distances['uniform'] > limit).sum())}, "
          f"street passed {int((distances['street'] <= limit).sum())}", *notes, sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
