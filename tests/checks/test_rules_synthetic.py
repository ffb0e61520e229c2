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


def test_footwear_closed_bare_and_out_of_view():
    check = FootwearCheck(config())
    assert check.run(skin_on()).status == Status.PASS
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


@pytest.mark.parametrize("centre, position, expected", [
    ((675, 215), "left_chest", Status.PASS),   # wearer's left chest: the image's right of the midline
    ((605, 215), "left_chest", Status.FAIL),   # right chest
    ((605, 215), "chest", Status.PASS),        # lanyard sites allow anywhere on the chest
    ((640, 330), "chest", Status.PASS),        # hanging low on a lanyard, still on the chest
    ((735, 350), "chest", Status.FAIL),        # held in the hand
])
def test_badge_position_rule(centre, position, expected):
    x, y = centre
    badge = Box(x - 12, y - 18, x + 12, y + 18, 0.9, "badge")
    result = BadgeCheck(config(badge={"position": position})).run(make_perception(detections=[badge]))
    assert result.status == expected, result.reason_en


def test_no_badge_fails_with_a_reason():
    result = BadgeCheck(config()).run(make_perception())
    assert result.status == Status.FAIL and "No work badge" in result.reason_en


def test_badge_candidates_on_a_painted_card():
    image = np.full((H, W, 3), 40, np.uint8)  # dark uniform
    image[190:230, 665:690] = 235  # a white card, 25x40 px, on the wearer's left chest
    result = BadgeCheck(config()).run(make_perception(image=image))
    assert result.status == Status.PASS, result.reason_en


def test_accessories_count_and_pairs():
    def piece(label, x):
        return Box(x, 100, x + 10, 110, 0.8, label)

    check = AccessoriesCheck(config())
    three = [piece("watch", 100), piece("ring", 200), piece("necklace", 300)]
    assert check.run(make_perception(detections=three)).status == Status.PASS
    four = three + [piece("bracelet", 400)]
    result = check.run(make_perception(detections=four))
    assert result.status == Status.FAIL and result.measurements["pieces"] == 4 and len(result.evidence) == 4
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
