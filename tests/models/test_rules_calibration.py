"""`python -m models.training.rules` on a few shared photos: the hair colour map and the calibration file."""
import json

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_the_hair_map_calls_vivid_dyes_striking_and_natural_hair_not(shared_datasets):
    pytest.importorskip("scipy")
    from checks.hair_colour import striking_share
    from models.training.common import ccp_label_names
    from models.training.common import eye_labels
    from models.training.rules import striking_colours

    model = striking_colours(list(range(1, 81)), ccp_label_names(), np.random.default_rng(0), eye_labels("hair"))
    assert len(model["striking_bits"]) * 4 == model["bins"] ** 3

    def striking(bgr):
        return striking_share(cv2.cvtColor(np.uint8([[bgr]]), cv2.COLOR_BGR2LAB).reshape(-1, 3), model) == 1.0

    for vivid in ((220, 80, 40), (60, 200, 60), (180, 60, 220), (170, 40, 110)):  # blue, green, pink, purple
        assert striking(vivid), vivid
    for natural in ((25, 28, 32), (40, 55, 75), (90, 120, 150), (150, 150, 150)):  # black, browns, grey
        assert not striking(natural), natural


def test_calibration_writes_every_rule_and_scores_dyed_heads(tmp_path, shared_datasets):
    pytest.importorskip("scipy")
    from models.training import rules

    out = tmp_path / "rules.json"
    assert rules.main(["--limit", "4", "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert set(written["rules"]) == {"front_closed", "legwear", "hair_colour"}
    assert 0 <= written["rules"]["hair_colour"]["max_striking"] <= 1
    assert set(written["validation"]["hair_colour"]) == {"s100", "s040", "s025"}
    assert all(scale["dyed_heads"] >= 1 for scale in written["validation"]["hair_colour"].values())
