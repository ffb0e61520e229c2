"""`models.training.footwear.score`: the operating points chosen from scored validation feet (no model run)."""
import numpy as np

from models.training.classifier import Scored
from models.training.footwear import MAX_CLOSED_FAILED, score


def feet(kind: str, scale: str, side_px: int, p_open: list[float]) -> list[Scored]:
    return [Scored(kind, f"ccp_{scale}_{side_px}_{i}", scale, "foot_left", side_px,
                   {"closed": 1 - p, "open": p, "unseen": 0.0}) for i, p in enumerate(p_open)]


def test_small_feet_get_their_own_fail_point_up_to_the_size_where_closed_shoes_stop_failing_too_often():
    rng = np.random.default_rng(0)
    # full size (150 px tiles): the classifier is sure; at the webcam scale (50 px tiles) 6 % of the closed shoes
    # score 0.92-0.95, which the general fail point (from all people together) would fail
    scored = (feet("closed", "s100", 150, list(rng.uniform(0.0, 0.3, 300)))
              + feet("open", "s100", 150, list(rng.uniform(0.95, 1.0, 100)))
              + feet("closed", "s040", 50, list(rng.uniform(0.0, 0.3, 282)) + [0.92, 0.93, 0.94, 0.95] * 4 + [0.5] * 2)
              + feet("open", "s040", 50, list(rng.uniform(0.96, 1.0, 60)) + list(rng.uniform(0.9, 0.95, 40))))
    thresholds, validation = score(scored)
    assert 50 < thresholds["small_tile_px"] <= 150 and thresholds["open_small"] > thresholds["open"]
    assert all(v["closed_failed"] <= MAX_CLOSED_FAILED for v in validation.values())
    # the open shoes between the two points are not passed: they are "step closer"
    assert validation["s040"]["open_passed"] == 0.0 and validation["s040"]["open_recall"] < 1.0


def test_feet_of_a_size_where_a_third_of_open_shoes_pass_are_step_closer_not_judged():
    rng = np.random.default_rng(1)
    # 36 px tiles (a person about 200 px tall): closed shoes still score low, so the size band is judged right 80 %
    # of the time, but a third of its open shoes score as closed
    scored = (feet("closed", "s100", 150, list(rng.uniform(0.0, 0.3, 300)))
              + feet("open", "s100", 150, list(rng.uniform(0.95, 1.0, 100)))
              + feet("closed", "s025", 36, list(rng.uniform(0.0, 0.3, 200)))
              + feet("open", "s025", 36, list(rng.uniform(0.95, 1.0, 40)) + list(rng.uniform(0.0, 0.3, 20))))
    thresholds, validation = score(scored)
    assert thresholds["min_tile_px"] == 40
    assert validation["s025"]["too_small"] == 260 and validation["s100"]["too_small"] == 0
    # the same band with one open shoe in ten passed is judged
    scored = scored[:-20] + feet("open", "s025", 36, list(rng.uniform(0.0, 0.3, 4)))
    assert score(scored)[0]["min_tile_px"] < 36


def test_a_foot_more_likely_hidden_than_closed_is_scored_as_not_seen_not_as_a_closed_shoe():
    rng = np.random.default_rng(2)
    scored = (feet("closed", "s100", 150, list(rng.uniform(0.0, 0.3, 300)))
              + feet("open", "s100", 150, list(rng.uniform(0.95, 1.0, 100))))
    # feet under a hem: open under every point, unseen under 0.5 but above the closed share (as checks.footwear)
    hems = [Scored(kind, f"ccp_hem_{i}", "s100", "foot_left", 150, {"closed": 0.35, "open": 0.2, "unseen": 0.45})
            for i, kind in enumerate(["unseen"] * 4 + ["open"] * 4)]
    _, validation = score(scored + hems)
    assert validation["s100"]["unseen_recall"] == 1.0  # the hidden feet are called not visible
    assert validation["s100"]["open_passed"] == 0.0  # and the open ones among them are not passed as closed
