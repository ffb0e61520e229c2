from factories import make_keypoints

from models.perception import Box
from station.framing import assess_framing

FACE = Box(615, 65, 665, 125, 0.9, "face")


def test_whole_body_facing_the_camera_is_ok():
    f = assess_framing(make_keypoints(), [FACE])
    assert f.ok and f.people == 1 and f.issues == ()


def test_feet_out_of_view_asks_to_step_back():
    kp = make_keypoints({"left_ankle": (690, 800), "right_ankle": (590, 800), "left_heel": (688, 810),
                         "right_heel": (592, 810), "left_foot_index": (705, 830), "right_foot_index": (575, 830)})
    f = assess_framing(kp, [FACE])
    assert not f.ok and f.issues == ("feet_out_of_view",)
    assert "feet" in f.instruction_en and "双脚" in f.instruction_zh


def test_several_people_and_no_person():
    f = assess_framing(make_keypoints(), [FACE, Box(100, 60, 150, 120, 0.9, "face")])
    assert not f.ok and f.people == 2 and f.issues[0] == "several_people"
    f = assess_framing(None, [])
    assert not f.ok and f.people == 0 and f.issues == ("no_person",)


def test_back_to_the_camera_or_sideways_is_not_facing():
    back = make_keypoints({"left_shoulder": (570, 160), "right_shoulder": (710, 160)})
    assert "not_facing" in assess_framing(back, [FACE]).issues
    side = make_keypoints({"left_shoulder": (650, 160), "right_shoulder": (630, 160)})
    assert "not_facing" in assess_framing(side, [FACE]).issues
