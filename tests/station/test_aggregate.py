"""A session's frames -> one verdict per rule, decided as a strict check would."""
from checks.base import CheckResult, Status
from station.pipeline import aggregate, overall_status


def r(status, score, check="footwear"):
    return CheckResult(check, Status(status), score, "原因", f"reason {status} {score}")


def test_a_rule_seen_in_too_few_frames_is_unknown_however_confident():
    frames = [{"footwear": r("unknown", 0.0)}] * 5 + [{"footwear": r("pass", 0.05)}]
    out = aggregate(frames)["footwear"]
    assert out.status == Status.UNKNOWN and "1 of 6" in out.reason_en
    assert out.votes == {"pass": 1, "fail": 0, "unknown": 5}
    assert aggregate(frames, min_judged=1)["footwear"].status == Status.PASS


def test_confident_fails_outweigh_weak_passes():
    frames = [{"footwear": r("fail", 0.9)}] * 2 + [{"footwear": r("pass", 0.5)}] * 4
    out = aggregate(frames)["footwear"]
    assert out.status == Status.FAIL and out.reason_en == "reason fail 0.9"
    assert abs(out.score - 3.6 / 5.6) < 1e-6 and out.votes == {"pass": 4, "fail": 2, "unknown": 0}
    assert aggregate(frames, fail_weight=1.0)["footwear"].status == Status.PASS  # the old, lenient vote


def test_one_stray_weak_fail_does_not_sink_confident_passes():
    frames = [{"badge": r("pass", 0.9, "badge")}] * 5 + [{"badge": r("fail", 0.4, "badge")}]
    out = aggregate(frames)["badge"]
    assert out.status == Status.PASS and out.votes["fail"] == 1


def test_all_unknown_keeps_the_frames_reason():
    out = aggregate([{"badge": CheckResult("badge", Status.UNKNOWN, 0.0, "看不到", "Chest not in view")}] * 3)
    assert out["badge"].status == Status.UNKNOWN and out["badge"].reason_en == "Chest not in view"


def test_each_check_is_aggregated_separately_and_votes_reach_the_record():
    frames = [{"badge": r("pass", 0.8, "badge"), "footwear": r("fail", 0.7)},
              {"badge": r("pass", 0.6, "badge"), "footwear": r("fail", 0.6)},
              {"badge": r("pass", 0.7, "badge"), "footwear": r("unknown", 0.0)}]
    out = aggregate(frames, min_judged=2)
    assert out["badge"].status == Status.PASS and out["footwear"].status == Status.FAIL
    assert out["footwear"].to_dict()["votes"] == {"pass": 0, "fail": 2, "unknown": 1}


def test_overall_status():
    assert overall_status([r("pass", 1), r("pass", 1)]) == Status.PASS
    assert overall_status([r("pass", 1), r("unknown", 0)]) == Status.UNKNOWN
    assert overall_status([r("unknown", 0), r("fail", 0.6)]) == Status.FAIL
    assert overall_status([]) == Status.UNKNOWN


def test_a_pass_must_outnumber_the_frames_that_saw_the_part_and_could_not_tell():
    """Sandals the classifier puts in its unsure band half the time, and under its pass point the other half: six
    frames, three passes. That was a PASS at confidence 1.0; the frames that could not tell lean towards the
    violation, so it is unknown with their reason (a supervisor will check). Frames that did not see the feet at
    all take nothing from a PASS."""
    unsure = CheckResult("footwear", Status.UNKNOWN, 0.0, "看不准", "Unclear: a supervisor will check", unsure=True)
    half = [{"footwear": r("pass", 0.9)}] * 3 + [{"footwear": unsure}] * 3
    out = aggregate(half)["footwear"]
    assert out.status == Status.UNKNOWN and "supervisor" in out.reason_en
    assert out.votes == {"pass": 3, "fail": 0, "unknown": 3}
    mostly = [{"footwear": r("pass", 0.9)}] * 4 + [{"footwear": unsure}] * 2
    assert aggregate(mostly)["footwear"].status == Status.PASS
    unseen = [{"footwear": r("pass", 0.9)}] * 3 + [{"footwear": r("unknown", 0.0)}] * 3
    assert aggregate(unseen)["footwear"].status == Status.PASS


def test_the_classifiers_unsure_band_marks_its_unknown_as_unsure_and_not_seeing_does_not():
    from factories import config, make_perception

    from checks.front_closed import FrontClosedCheck
    from models.perception import Box

    points = {"front.open": 0.5, "front.open_unsure": 0.2, "front.min_tile_px": 24}
    check = FrontClosedCheck(config())

    def judged(p_open, **kw):
        return check.run(make_perception(classified={"front": {"closed": 1 - p_open, "open": p_open}},
                                         extra_tiles={"front": Box(590, 150, 710, 270, 0.9, "front")},
                                         operating_points=points, **kw))

    assert judged(0.3).status == Status.UNKNOWN and judged(0.3).unsure
    assert judged(0.05).status == Status.PASS and not judged(0.05).unsure
    assert not check.unknown("看不到", "not in view").unsure
