"""Each rule on synthetic perceptions: painted skin maps, placed badge boxes. No model is loaded."""
import numpy as np
import pytest
from factories import H, W, config, make_keypoints, make_perception, paint, tiles_of

from checks.accessories import AccessoriesCheck
from models.crops import jewellery_crops
from checks.badge import BadgeCheck
from checks.base import Status
from checks.cuffs import CuffsCheck
from checks.footwear import FootwearCheck
from checks.registry import REGISTRY, build_checks
from checks.uniform import UniformCheck
from models.perception import Box, Keypoints

FEET = ("left_ankle", "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index")


def skin_on(*region_names):
    p = make_perception()
    skin = np.zeros((H, W), np.float32)
    for name in region_names:
        paint(skin, p.regions[name], 1.0)
    return make_perception(skin=skin)


def feet(p_left: float, p_right: float | None = None, unseen: float = 0.0) -> dict:
    """The footwear classifier's answer for each foot: P(open), P(unseen), the rest closed."""
    p_right = p_left if p_right is None else p_right
    return {f"foot_{side}": {"closed": 1 - p - unseen, "open": p, "unseen": unseen}
            for side, p in (("left", p_left), ("right", p_right))}


def test_footwear_follows_the_classifier_per_foot():
    check = FootwearCheck(config())
    sandals = check.run(make_perception(classified=feet(0.8)))
    assert sandals.status == Status.FAIL and "Open footwear" in sandals.reason_en and "凉鞋" in sandals.reason_zh
    assert sandals.measurements["open_probability"] == pytest.approx(0.8)
    assert {e.label for e in sandals.evidence if e.status == Status.FAIL} == {"foot_left", "foot_right"}
    one = check.run(make_perception(classified=feet(0.1, 0.9)))
    assert one.status == Status.FAIL and "right foot" in one.reason_en and "left" not in one.reason_en
    closed = check.run(make_perception(classified=feet(0.1)))
    assert closed.status == Status.PASS and closed.score == pytest.approx(0.9)
    strict = FootwearCheck(config(footwear={"open_threshold": 0.05}))
    assert strict.run(make_perception(classified=feet(0.1))).status == Status.FAIL


def test_footwear_threshold_comes_from_the_model_unless_the_policy_sets_one():
    p = make_perception(classified=feet(0.3), operating_points={"footwear.open": 0.25})
    assert FootwearCheck(config()).run(p).status == Status.FAIL
    assert FootwearCheck(config(footwear={"open_threshold": 0.5})).run(p).status == Status.PASS


def test_footwear_scored_just_under_the_fail_point_is_unsure_not_closed():
    points = {"footwear.open": 0.9, "footwear.open_unsure": 0.5}
    check = FootwearCheck(config())
    borderline = check.run(make_perception(classified=feet(0.3, 0.85), operating_points=points))
    assert borderline.status == Status.UNKNOWN and "supervisor" in borderline.reason_en
    assert [e.status for e in borderline.evidence] == [Status.PASS, Status.UNKNOWN]
    assert check.run(make_perception(classified=feet(0.3), operating_points=points)).status == Status.PASS
    assert check.run(make_perception(classified=feet(0.95, 0.85), operating_points=points)).status == Status.FAIL


def test_a_small_foot_needs_a_surer_score_to_fail_and_is_asked_to_step_closer():
    points = {"footwear.open": 0.9, "footwear.open_unsure": 0.5, "footwear.open_small": 0.97}
    check = FootwearCheck(config())
    tile_side = tiles_of(make_keypoints())["foot_left"].width
    far = dict(points, **{"footwear.small_tile_px": tile_side + 1})  # these feet are small for the model
    doubtful = check.run(make_perception(classified=feet(0.95, 0.1), operating_points=far))
    assert doubtful.status == Status.UNKNOWN and "step closer" in doubtful.reason_en
    assert check.run(make_perception(classified=feet(0.99, 0.1), operating_points=far)).status == Status.FAIL
    near = dict(points, **{"footwear.small_tile_px": tile_side - 1})
    assert check.run(make_perception(classified=feet(0.95, 0.1), operating_points=near)).status == Status.FAIL
    # a site's own fail point applies at every size
    own = FootwearCheck(config(footwear={"open_threshold": 0.9}))
    assert own.run(make_perception(classified=feet(0.95, 0.1), operating_points=far)).status == Status.FAIL


def test_bare_toes_fail_unless_the_classifier_is_sure_the_foot_is_shod():
    skin = np.zeros((H, W), np.float32)
    paint(skin, make_perception().region("toes_left"), 0.9)
    unsure = {"foot_left": {"closed": 0.6, "open": 0.4, "unseen": 0.0}, "foot_right": feet(0.0)["foot_right"]}
    bare = FootwearCheck(config()).run(make_perception(skin=skin, classified=unsure))
    assert bare.status == Status.FAIL and "Bare toes on the left foot" in bare.reason_en
    assert any(e.label == "toes_left" and e.status == Status.FAIL for e in bare.evidence)
    # nude shoes look like skin: a foot the classifier is sure is shod passes
    assert FootwearCheck(config()).run(make_perception(skin=skin, classified=feet(0.0))).status == Status.PASS


def test_footwear_never_passes_what_it_could_not_see():
    check = FootwearCheck(config())
    hidden = check.run(make_perception(keypoints=make_keypoints(hidden=FEET), classified={}))
    assert hidden.status == Status.UNKNOWN and "step back" in hidden.reason_en
    small = check.run(make_perception(classified=feet(0.0), operating_points={"footwear.min_tile_px": 500}))
    assert small.status == Status.UNKNOWN and "step closer" in small.reason_en
    covered = check.run(make_perception(classified=feet(0.05, unseen=0.8)))
    assert covered.status == Status.UNKNOWN and "not visible" in covered.reason_en
    # a sandal under a skirt's hem: under every point, and more likely hidden than a closed shoe (ccp_0716)
    under_hem = {"foot_left": {"closed": 0.03, "open": 0.47, "unseen": 0.49}, "foot_right": feet(0.0)["foot_right"]}
    half_hidden = check.run(make_perception(classified=under_hem))
    assert half_hidden.status == Status.UNKNOWN and "not visible" in half_hidden.reason_en
    assert [e.status for e in half_hidden.evidence] == [Status.UNKNOWN, Status.PASS]
    one_foot = make_perception(keypoints=make_keypoints(hidden=("right_ankle", "right_foot_index")),
                               classified={"foot_left": feet(0.0)["foot_left"]})
    result = check.run(one_foot)
    assert result.status == Status.UNKNOWN and "one foot" in result.reason_en
    # an open shoe seen on one foot fails whatever the other foot shows
    half = make_perception(keypoints=make_keypoints(hidden=("right_ankle", "right_foot_index")),
                           classified={"foot_left": feet(0.9)["foot_left"]})
    assert check.run(half).status == Status.FAIL


def test_cuffs_rolled_sleeve_and_trouser_leg():
    check = CuffsCheck(config())
    assert check.run(skin_on()).status == Status.PASS
    sleeve = check.run(skin_on("forearm_lower_right"))
    assert sleeve.status == Status.FAIL and "right sleeve" in sleeve.reason_en.lower() and "右" in sleeve.reason_zh
    leg = check.run(skin_on("shin_lower_left"))
    assert leg.status == Status.FAIL and "trouser" in leg.reason_en


def test_cuffs_unknown_when_a_needed_part_is_hidden():
    check = CuffsCheck(config())
    no_arm = make_perception(keypoints=make_keypoints(hidden=("left_wrist",)))
    result = check.run(no_arm)
    assert result.status == Status.UNKNOWN and "left forearm" in result.reason_en and "左前臂" in result.reason_zh
    # a rolled cuff that is seen still fails
    p = make_perception(keypoints=make_keypoints(hidden=("left_wrist",)))
    skin = paint(np.zeros((H, W), np.float32), p.regions["forearm_lower_right"], 1.0)
    assert check.run(make_perception(keypoints=make_keypoints(hidden=("left_wrist",)), skin=skin)).status == \
        Status.FAIL
    trousers_only = CuffsCheck(config(uniform={"long_sleeves": False}))
    assert trousers_only.run(no_arm).status == Status.PASS


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
    result = BadgeCheck(config()).run(make_perception(detections=[badge], examined=("head",)))
    assert result.status == Status.UNKNOWN


def test_no_badge_on_a_torso_too_small_to_see_one_is_unknown():
    far = make_perception(operating_points={"detector.min_torso_px": 10_000})
    result = BadgeCheck(config()).run(far)
    assert result.status == Status.UNKNOWN and "step closer" in result.reason_en
    badge = Box(663, 197, 687, 233, 0.9, "badge")  # a badge that is seen is judged however small the torso
    assert BadgeCheck(config()).run(make_perception(detections=[badge], operating_points={
        "detector.min_torso_px": 10_000})).status == Status.PASS


def test_a_lanyard_card_below_the_left_chest_is_named():
    card = Box(628, 300, 652, 336, 0.9, "badge")  # mid-torso, on the midline, under the chest
    result = BadgeCheck(config()).run(make_perception(detections=[card]))
    assert result.status == Status.FAIL and "lanyard" in result.reason_en and "elsewhere" not in result.reason_en


def test_badge_below_min_score_is_not_a_badge():
    faint = Box(663, 197, 687, 233, 0.2, "badge")
    assert BadgeCheck(config()).run(make_perception(detections=[faint])).status == Status.FAIL
    assert BadgeCheck(config(badge={"min_score": 0.1})).run(make_perception(detections=[faint])).status == Status.PASS


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


def test_accessories_count_faint_detector_boxes_only_on_a_person_near_enough():
    """Far back, the detector calls noise jewellery more often: its boxes count from the manifest's higher point
    for small people (body scale below the point's edge); the policy's min_score holds at every distance."""
    near = make_keypoints()  # shoulders 140 px apart
    far = Keypoints(near.xy * 0.4, near.visibility, near.image_size)  # 56 px: a cheap webcam, someone far back
    points = {"detector.jewellery": 0.25, "detector.jewellery_small": 0.47, "detector.jewellery_small_scale_px": 80}

    def pieces(kp, score, cfg=config()):
        box = Box(100, 100, 110, 110, score, "bracelet")
        return AccessoriesCheck(cfg).run(make_perception(keypoints=kp, detections=[box], operating_points=points,
                                                         extra_tiles=tiles_of(kp))).measurements["pieces"]

    assert pieces(near, 0.35) == 1 and pieces(far, 0.35) == 0
    assert pieces(far, 0.5) == 1
    assert pieces(far, 0.35, config(accessories={"min_score": 0.3})) == 1


def test_accessories_count_each_adorned_wrist_and_neck_once():
    kp = make_keypoints()
    tiles = {c.part: c.box for c in jewellery_crops(kp)}
    left = tiles["wrist_left"]
    worn = {"wrist_left": {"bare": 0.1, "jewellery": 0.9}, "wrist_right": {"bare": 0.7, "jewellery": 0.3},
            "neck": {"bare": 0.2, "jewellery": 0.8}}
    points = {"jewellery.jewellery_wrist": 0.6, "jewellery.jewellery_neck": 0.7, "jewellery.min_tile_px": 24}
    rings = [Box(x, 100, x + 10, 110, 0.8, "ring") for x in (100, 200)]
    check = AccessoriesCheck(config())

    def judged(detections, op=points):
        return check.run(make_perception(keypoints=kp, detections=detections, classified=worn, operating_points=op,
                                         extra_tiles=tiles))

    result = judged(rings)
    assert result.status == Status.FAIL and result.measurements["pieces"] == 4
    assert sorted(e.label for e in result.evidence if "ring" not in e.label) == ["neck jewellery",
                                                                                 "wrist_left jewellery"]
    # the watch the detector found on that wrist, and a necklace it found, are the same pieces, not more
    cx, cy = (left.x1 + left.x2) / 2, (left.y1 + left.y2) / 2
    watch = Box(cx - 5, cy - 5, cx + 5, cy + 5, 0.8, "watch")
    necklace = Box(600, 150, 680, 200, 0.8, "necklace")
    assert judged(rings + [watch, necklace]).measurements["pieces"] == 4
    # a tile smaller than the classifier judges, or a part under its operating point, adds nothing
    assert judged(rings, {**points, "jewellery.min_tile_px": 10_000}).status == Status.PASS
    assert judged(rings, {**points, "jewellery.jewellery_wrist": 0.95}).measurements["pieces"] == 3
    assert judged(rings, {**points, "jewellery.jewellery_neck": 0.95}).measurements["pieces"] == 3


def test_accessories_pass_only_with_head_and_both_hands_seen():
    check = AccessoriesCheck(config())
    no_hands = make_perception(examined=("torso", "head"))
    result = check.run(no_hands)
    assert result.status == Status.UNKNOWN and "left hand" in result.reason_en and "右手" in result.reason_zh
    four = [Box(x, 100, x + 10, 110, 0.8, "necklace") for x in (100, 200, 300, 400)]
    assert check.run(make_perception(detections=four, examined=("torso", "head"))).status == Status.FAIL
    # nothing worn: the PASS points at the tiles where jewellery was looked for
    bare = check.run(make_perception())
    assert bare.status == Status.PASS and bare.measurements["pieces"] == 0
    assert [e.label for e in bare.evidence] == ["head", "hand_left", "hand_right"]


def test_uniform_without_enrolment_is_unknown(tmp_path):
    cfg = config(uniform={"prototypes": str(tmp_path / "missing.json")})
    result = UniformCheck(cfg).run(make_perception())
    assert result.status == Status.UNKNOWN and "enroll-uniform" in result.reason_en


def test_registry_builds_only_enabled_checks():
    assert {"uniform", "badge", "footwear", "cuffs", "accessories", "sunglasses", "front_closed", "legwear",
            "hair_colour", "beard"} == set(REGISTRY)
    ids = [c.id for c in build_checks(config(footwear={"enabled": False}))]
    assert "footwear" not in ids and "badge" in ids


def test_a_uniform_without_long_trousers_turns_the_legwear_rule_off_on_the_kiosk_too():
    """Shorts allowed: the rule has nothing to check. It used to PASS without looking ("Long trousers ✓ OK" on the
    kiosk of a technician in shorts); it is now off, and the kiosk's card says so."""
    from web.kiosk import rule_cards

    shorts_allowed = config(uniform={"long_trousers": False})
    assert "legwear" not in [c.id for c in build_checks(shorts_allowed)]
    assert "legwear" in [c.id for c in build_checks(config())]
    cards = {c["id"]: c for c in rule_cards({"overall": "pass", "checks": {}}, shorts_allowed)}
    assert cards["legwear"]["status"] == "off" and cards["footwear"]["status"] == "unknown"
    # short sleeves as well: no cuff to roll up, so the cuffs rule is off too (it answered unknown every time)
    summer = config(uniform={"long_trousers": False, "long_sleeves": False})
    assert {"legwear", "cuffs"}.isdisjoint(c.id for c in build_checks(summer))
    assert "cuffs" in [c.id for c in build_checks(shorts_allowed)]  # the sleeves are still checked


def limbs(**up: float) -> dict:
    """The cuffs classifier's answer for each lower forearm and shin: P(up), default down."""
    return {part: {"down": 1 - up.get(part, 0.0), "up": up.get(part, 0.0)}
            for part in ("forearm_left", "forearm_right", "shin_left", "shin_right")}


def with_limb_tiles(classified: dict, width: float = 80.0, **kw):
    """A perception whose cuffs classifier judged each limb from a tile `width` pixels wide."""
    return make_perception(classified=classified, extra_tiles={part: Box(0, 0, width, width, label=part)
                                                               for part in classified}, **kw)


def test_cuffs_follow_the_classifier_per_part():
    check = CuffsCheck(config())
    assert check.run(with_limb_tiles(limbs())).status == Status.PASS
    turned_up = check.run(with_limb_tiles(limbs(shin_left=0.9)))
    assert turned_up.status == Status.FAIL and "left trouser leg" in turned_up.reason_en.lower()
    assert any(e.label == "shin_left" and e.status == Status.FAIL for e in turned_up.evidence)
    # a light sleeve the skin model would call skin: the classifier, not the skin share, decides
    skin = paint(np.zeros((H, W), np.float32), make_perception().regions["forearm_lower_left"], 1.0)
    assert check.run(with_limb_tiles(limbs(), skin=skin)).status == Status.PASS
    far = check.run(with_limb_tiles(limbs(), width=10.0))
    assert far.status == Status.UNKNOWN and "step closer" in far.reason_en


def test_cuffs_judge_each_part_at_its_own_operating_point():
    check = CuffsCheck(config())
    points = {"cuffs.up_forearm": 0.7, "cuffs.up_shin": 0.4, "cuffs.min_tile_px": 24.0}
    shin = check.run(with_limb_tiles(limbs(shin_right=0.5), operating_points=points))
    assert shin.status == Status.FAIL and "right trouser leg" in shin.reason_en.lower()
    assert check.run(with_limb_tiles(limbs(forearm_right=0.5), operating_points=points)).status == Status.PASS
    # a manifest with one point for both parts (`up`) still judges both
    one = {"cuffs.up": 0.45, "cuffs.min_tile_px": 24.0}
    assert check.run(with_limb_tiles(limbs(forearm_right=0.5), operating_points=one)).status == Status.FAIL
