"""The evidence photo a supervisor reviews: where each rule looked, coloured by its verdict."""
import numpy as np
from factories import make_perception

from checks.base import CheckResult, Evidence, Status
from models.perception import Box
from station.evidence import COLOURS, draw_evidence
from station.pipeline import FrameResult

TILE = Box(300, 300, 400, 400, 0.9, "tile")


def frame_with(*results: CheckResult) -> FrameResult:
    image = np.full((720, 1280, 3), 128, np.uint8)
    return FrameResult(make_perception(image=image), {r.check: r for r in results}, {})


def result(check: str, status: Status) -> CheckResult:
    return CheckResult(check, status, 0.9, "理由", "reason", (Evidence.of_box(TILE, status, check),))


def test_a_failing_rules_evidence_is_drawn_over_a_passing_one_and_thicker():
    """A FAIL must point at its evidence: where a passing rule looked at the same place (a tile shared by two rules),
    the failing outline is the one on top, whatever order the rules ran in."""
    for order in ((Status.FAIL, Status.PASS), (Status.PASS, Status.FAIL)):
        out = draw_evidence(frame_with(*(result(f"rule{i}", s) for i, s in enumerate(order))))
        edge = out[350, 300]  # the middle of the shared left edge
        assert np.abs(edge.astype(int) - COLOURS[Status.FAIL]).max() < 30, order
    # the outline's weight: a passing tile alone is thinner than a failing one
    widths = {}
    for status in (Status.PASS, Status.FAIL):
        row = draw_evidence(frame_with(result("rule", status)))[350].astype(int)
        widths[status] = int((np.abs(row - 128).max(axis=1) > 40).sum())
    assert widths[Status.FAIL] > widths[Status.PASS] > 0


def test_the_legend_sits_below_the_photo_and_leaves_its_pixels_where_the_frame_had_them():
    """Over the photo the legend hid the head (sunglasses, hair, beard are judged there); below it, the photo keeps
    the frame's coordinates, so the face boxes that pixelate a stored photo still fall on the face."""
    frame = frame_with(result("sunglasses", Status.FAIL), result("beard", Status.PASS))
    out = draw_evidence(frame)
    h, w = frame.perception.image.shape[:2]
    assert out.shape[1] == w and out.shape[0] > h
    assert np.array_equal(out[:250, :250], frame.perception.image[:250, :250])  # the head's corner untouched
    band = out[h:]
    assert (np.abs(band.astype(int) - COLOURS[Status.FAIL]).max(axis=2) < 30).any()  # the failing rule's line
