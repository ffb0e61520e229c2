"""Uniform enrolment: reference photos of people correctly in uniform become the prototypes the check compares to."""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from checks.uniform import DEFAULT_MAX_DISTANCE, UniformPrototypes, describe
from station.imageio import ImageError, read_image

MARGIN = 1.2  # threshold = margin x the median leave-one-out distance among the references


class EnrolmentError(ValueError):
    pass


def enrol_uniform(photos: list[Path], pipeline) -> tuple[UniformPrototypes, list[str]]:
    """Prototypes from reference photos, and a note for every photo that could not be used.

    The distance limit is learned from the references themselves: each one's distance to its nearest other
    reference, so a site whose uniform photos vary more (mixed light, several people) gets a wider limit. The median,
    not the largest: a variant enrolled from one photo alone (the only vest in the set) has no near twin and would
    otherwise widen the limit for everyone.
    """
    protos, sources, notes = [], [], []
    for path in photos:
        try:
            image = read_image(path)
        except ImageError as exc:  # one bad reference must not stop enrolment from the others
            notes.append(f"{exc}, skipped")
            continue
        frame = pipeline.run(image)
        feats, _ = describe(frame.perception)
        if "torso" not in feats:
            notes.append(f"{path}: no upper body found, skipped")
            continue
        protos.append(feats)
        sources.append(str(path))
    if not protos:
        raise EnrolmentError("no usable reference photo: each needs one person with the upper body in view")
    limit = DEFAULT_MAX_DISTANCE
    if len(protos) >= 2:
        loo = []
        for i, feats in enumerate(protos):
            others = UniformPrototypes(protos[:i] + protos[i + 1:], limit, [])
            loo.append(others.distance(feats)[0])
        limit = float(np.clip(MARGIN * np.median(loo), 0.1, 0.6))
    return UniformPrototypes(protos, limit, sources), notes


class Enroller:
    """Enrolment beside the running station, with its own photo-mode models (built at its first enrolment).

    The live worker's MediaPipe graphs are never run from another thread: shared, they crashed the station or
    stopped it judging. Its tracking pose also follows the previous frame, which shifts a reference photo's
    features or misses its person. One enrolment at a time; the saved enrolment (the one the running rules use)
    is replaced only by a complete new one.
    """

    def __init__(self, make_pipeline: Callable | None = None) -> None:
        from station.pipeline import Pipeline

        self._make = make_pipeline or Pipeline  # Pipeline(config): photo mode (tracking=False)
        self._pipeline = None
        self._lock = threading.Lock()

    def enrol(self, photos: list[Path], config) -> tuple[UniformPrototypes, list[str], Path]:
        """Enrol from `photos` and save to the policy's `[uniform] prototypes`; EnrolmentError leaves it as it was."""
        with self._lock:
            if self._pipeline is None:
                self._pipeline = self._make(config)
            self._pipeline.config = config
            prototypes, notes = enrol_uniform(photos, self._pipeline)
            out = config.resolve(config.uniform.prototypes)
            prototypes.save(out)
        return prototypes, notes, out
