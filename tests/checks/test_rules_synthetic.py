"""Each rule on synthetic perceptions: painted skin maps, placed badge boxes. No model is loaded."""
import numpy as np
import pytest
from factories import H, W, config, make_keypoints, make_perception, paint

from checks.accessories import AccessoriesCheck
from checks.badge import BadgeCheck
from checks.base import Status
from checks.cuffs import CuffsCheck
from checks.footwear import FootwearCheck
from checks.registry import REGISTRY, build_checks
from checks.uniform import UniformCheck
from models.perception import Box

FEET = ("left_ankle", "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index")


def skin_on(*region_names):
    p = make_perception()
    skin = np.zeros((H, W), np.float32)
    for name in region_names:
        paint(skin, p.regions[name], 1.0)
    return make_perception(skin=skin)


def test_footwear_bare_and_out_of_view():
    check = FootwearCheck(config())
    bare = check.run(skin_on("toes_left"))
    assert bare.status == Status.FAIL and "foot" in bare.reason_en
    assert any(e.label == "toes_left" and e.status == Status.FAIL for e in bare.evidence)
    hidden = make_perception(keypoints=make_keypoints(hidden=FEET))
    assert check.run(hidden).status == Status.UNKNOWN


def test_cuffs_rolled_sleeve_and_trouser_leg():
    check = CuffsCheck(config())
    assert check.run(skin_on()).status == Status.PASS
    sleeve = check.run(skin_on("forearm_lower_right"))
    assert sleeve.status == Status.FAIL and "right sleeve" in sleeve.reason_en.lower() and "右" in sleeve.reason_zh
    leg = check.run(skin_on("shin_lower_left"))
    assert leg.status == Status.FAIL and "trouser" in leg.reason_en


def test_cuffs_follow_the_uniform_policy():
    short_sleeves = config(uniform={"long_sleeves": False})
    assert CuffsCheck(short_sleeves).run(skin_on("forearm_lower_right")).status == Status.PASS


@pytest.mark.parametrize("centre, position, expected, where", [
    ((675, 215), "left_chest", Status.PASS, ""),   # wearer's left chest: the image's right of the midline
    ((605, 215), "left_chest", Status.FAIL, "right chest"),
    ((605, 215), "chest", Status.PASS, ""),        # lanyard sites allow anywhere on the chest
    ((640, 330), "chest", Status.PASS, ""),        # hanging low on a lanyard, still on the chest
    ((735, 350), "chest", Status.FAIL, "in the hand"),
    ((665, 395), "left_chest", Status.FAIL, "at the waist"),  # clipped to the belt
])
def test_badge_position_rule(centre, position, expected, where):
    x, y = centre
    badge = Box(x - 12, y - 18, x + 12, y + 18, 0.9, "badge")
    result = BadgeCheck(config(badge={"position": position})).run(make_perception(detections=[badge]))
    assert result.status == expected, result.reason_en
    assert where in result.reason_en


def test_no_badge_fails_with_a_reason():
    result = BadgeCheck(config()).run(make_perception())
    assert result.status == Status.FAIL and "No work badge" in result.reason_en


def test_badge_not_examined_is_unknown():
    badge = Box(663, 197, 687, 233, 0.9, "badge")
    result = BadgeCheck(config()).run(make_perception(detections=[badge], examined=("feet",)))
    assert result.status == Status.UNKNOWN


def test_badge_below_min_score_is_not_a_badge():
    faint = Box(663, 197, 687, 233, 0.2, "badge")
    assert BadgeCheck(config()).run(make_perception(detections=[faint])).status == Status.FAIL
    assert BadgeCheck(config(badge={"min_score": 0.1})).run(make_perception(detections=[faint])).status == Status.PASS


def foot_box(label: str, side: str, score: float) -> Box:
    region = make_perception().region(f"foot_{side}").box
    return Box(region.x1, region.y1, region.x2, region.y2, score, label)


def feet(p_open: float) -> dict:
    return {"feet": {"closed": 1 - p_open, "open": p_open}}


def test_footwear_follows_the_classifier():
    check = FootwearCheck(config())
    shoes = [foot_box("shoe", s, 0.8) for s in ("left", "right")]
    sandals = check.run(make_perception(detections=shoes, classified=feet(0.8)))
    assert sandals.status == Status.FAIL and "Open footwear" in sandals.reason_en and "凉鞋" in sandals.reason_zh
    assert sandals.measurements["open_probability"] == pytest.approx(0.8)
    closed = check.run(make_perception(detections=shoes, classified=feet(0.1)))
    assert closed.status == Status.PASS and closed.score == pytest.approx(0.9)
    strict = FootwearCheck(config(footwear={"open_threshold": 0.05}))
    assert strict.run(make_perception(detections=shoes, classified=feet(0.1))).status == Status.FAIL


def test_footwear_bare_toes_fail_unless_a_shoe_is_seen():
    check = FootwearCheck(config())
    skin = np.zeros((H, W), np.float32)
    for side in ("left", "right"):
        paint(skin, make_perception().region(f"toes_{side}"), 0.9)
    bare = check.run(make_perception(skin=skin, classified=feet(0.2)))
    assert bare.status == Status.FAIL and "bare feet" in bare.reason_en
    # tan shoes look like skin: a detected closed shoe outweighs skin on the toes
    shoes = [foot_box("shoe", s, 0.8) for s in ("left", "right")]
    assert check.run(make_perception(skin=skin, detections=shoes, classified=feet(0.2))).status == Status.PASS


def test_footwear_without_the_classifier_or_feet_is_unknown():
    assert FootwearCheck(config()).run(make_perception()).status == Status.UNKNOWN
    hidden = make_perception(keypoints=make_keypoints(hidden=FEET), classified={})
    assert FootwearCheck(config()).run(hidden).status == Status.UNKNOWN


def test_accessories_count_and_pairs():
    def piece(label, x):
        return Box(x, 100, x + 10, 110, 0.8, label)

    check = AccessoriesCheck(config())
    three = [piece("watch", 100), piece("ring", 200), piece("necklace", 300)]
    assert check.run(make_perception(detections=three)).status == Status.PASS
    four = three + [piece("bracelet", 400)]
    result = check.run(make_perception(detections=four))
    assert result.status == Status.FAIL and result.measurements["pieces"] == 4 and len(result.evidence) == 4
    ears = three + [piece("earring", 500), piece("earring", 600)]
    assert check.run(make_perception(detections=ears)).measurements["pieces"] == 4  # the pair is one piece
    apart = AccessoriesCheck(config(accessories={"pair_counts_as_one": False}))
    assert apart.run(make_perception(detections=ears)).measurements["pieces"] == 5
    faint = three + [Box(700, 100, 710, 110, 0.1, "bracelet")]
    assert check.run(make_perception(detections=faint)).status == Status.PASS
    strict = AccessoriesCheck(config(accessories={"max_pieces": 0}))
    assert strict.run(make_perception(detections=[piece("ring", 1)])).status == Status.FAIL


def test_uniform_without_enrolment_is_unknown(tmp_path):
    cfg = config(uniform={"prototypes": str(tmp_path / "missing.json")})
    result = UniformCheck(cfg).run(make_perception())
    assert result.status == Status.UNKNOWN and "enroll-uniform" in result.reason_en


def test_registry_builds_only_enabled_checks():
    assert set(REGISTRY) == {"uniform", "badge", "footwear", "cuffs", "accessories"}
    ids = [c.id for c in build_checks(config(footwear={"enabled": False}))]
    assert "footwear" not in ids and "badge" in ids
