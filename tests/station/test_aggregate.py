from checks.base import CheckResult, Status
from station.pipeline import aggregate, overall_status


def r(status, score, check="footwear"):
    return CheckResult(check, Status(status), score, "原因", f"reason {status} {score}")


def test_confident_votes_win_and_unknowns_do_not_vote():
    frames = [{"footwear": r("unknown", 0.0)}] * 5 + [{"footwear": r("fail", 0.9)}, {"footwear": r("pass", 0.5)}]
    out = aggregate(frames)["footwear"]
    assert out.status == Status.FAIL
    assert abs(out.score - 0.9 / 1.4) < 1e-6
    assert out.reason_en == "reason fail 0.9"  # the most confident frame of the winning side


def test_all_unknown_stays_unknown_and_ties_are_unknown():
    assert aggregate([{"badge": r("unknown", 0.0, "badge")}] * 3)["badge"].status == Status.UNKNOWN
    tie = aggregate([{"badge": r("pass", 0.6, "badge")}, {"badge": r("fail", 0.6, "badge")}])["badge"]
    assert tie.status == Status.UNKNOWN and "again" in tie.reason_en


def test_each_check_is_aggregated_separately():
    frames = [{"badge": r("pass", 0.8, "badge"), "footwear": r("fail", 0.7)},
              {"badge": r("pass", 0.6, "badge"), "footwear": r("fail", 0.6)}]
    out = aggregate(frames)
    assert out["badge"].status == Status.PASS and out["footwear"].status == Status.FAIL


def test_overall_status():
    assert overall_status([r("pass", 1), r("pass", 1)]) == Status.PASS
    assert overall_status([r("pass", 1), r("unknown", 0)]) == Status.UNKNOWN
    assert overall_status([r("unknown", 0), r("fail", 0.6)]) == Status.FAIL
    assert overall_status([]) == Status.UNKNOWN
