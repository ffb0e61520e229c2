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


def person_mask(*columns: tuple[int, int]):
    """A 720x1280 person mask with one standing figure per (x1, x2) column range."""
    import numpy as np

    mask = np.zeros((720, 1280), np.float32)
    for x1, x2 in columns:
        mask[40:700, x1:x2] = 1.0
    return mask


def test_a_mirrored_camera_still_faces_and_a_turned_back_still_does_not():
    mirrored = make_keypoints().mirrored()  # what the pipeline hands on for a selfie-style camera
    assert assess_framing(mirrored, [FACE], mirrored=True).ok
    assert "not_facing" in assess_framing(mirrored, [FACE], mirrored=False).issues
    assert "not_facing" in assess_framing(make_keypoints(), [FACE], mirrored=True).issues


def test_people_are_counted_from_the_person_mask_not_only_from_faces():
    one = assess_framing(make_keypoints(), [FACE], person_mask=person_mask((540, 740)))
    assert one.ok and one.people == 1
    apart = assess_framing(make_keypoints(), [FACE], person_mask=person_mask((540, 740), (900, 1100)))
    assert apart.people == 2 and apart.issues[0] == "several_people" and "One person" in apart.instruction_en
    # side by side, touching: one blob, but far wider at the chest than one person
    close = assess_framing(make_keypoints(), [FACE], person_mask=person_mask((540, 1000)))
    assert close.people == 2 and "several_people" in close.issues


def test_a_body_without_a_head_asks_to_step_back_for_the_head():
    headless = assess_framing(None, [], person_mask=person_mask((540, 740)))
    assert headless.issues == ("head_out_of_view",) and "head" in headless.instruction_en
    close = Box(400, 100, 800, 600, 0.9, "face")  # a face filling the frame: too close for a body to show
    face_only = assess_framing(None, [close], person_mask=person_mask((300, 900)))
    assert face_only.issues == ("body_out_of_view",) and "whole body" in face_only.instruction_en


def test_dark_and_colourless_frames_are_named():
    import numpy as np

    grey = np.full((720, 1280, 3), 128, np.uint8)
    f = assess_framing(make_keypoints(), [FACE], image=grey)
    assert f.ok and f.issues == ("no_colour",)  # a grey camera still frames: the colour rules say unknown
    dark = np.full((720, 1280, 3), (10, 20, 30), np.uint8)
    f = assess_framing(make_keypoints(), [FACE], image=dark)
    assert not f.ok and f.issues[0] == "too_dark" and "light" in f.instruction_en


def test_a_person_far_back_before_a_grey_wall_is_in_colour():
    """A person in grey clothes about 300 px tall before a grey wall: only the face and the hands carry colour, a
    twentieth of a percent of the frame. The frame was called colourless (every colour rule unknown) when the test
    read the frame's 90th percentile; the same frame from a grey camera still is."""
    import cv2
    import numpy as np

    frame = np.full((720, 1280, 3), (190, 195, 200), np.uint8)  # a bluish grey wall, Lab chroma about 3
    cv2.rectangle(frame, (600, 330), (680, 650), (110, 110, 110), -1)  # grey work clothes
    skin = (120, 150, 200)
    cv2.ellipse(frame, (640, 310), (12, 15), 0, 0, 360, skin, -1)  # a face 24 px wide
    for x in (592, 688):
        cv2.circle(frame, (x, 500), 7, skin, -1)  # the hands
    assert "no_colour" not in assess_framing(make_keypoints(), [FACE], image=frame).issues
    grey = cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    assert "no_colour" in assess_framing(make_keypoints(), [FACE], image=grey).issues


def moved(dx: float = 0.0, parts: tuple[str, ...] | None = None, hidden: tuple[str, ...] = ()):
    """The standing person with `parts` (default: every point) `dx` pixels to the side."""
    from factories import _STANDING

    return make_keypoints({n: (x + dx, y) for n, (x, y) in _STANDING.items() if parts is None or n in parts}, hidden)


def test_body_speed_is_in_shoulder_widths_a_second():
    from station.framing import body_speed

    still = make_keypoints()
    assert body_speed(still, moved(0.0), 0.1) == 0.0
    # shoulders 140 px apart: 14 px in 0.1 s is one shoulder width a second, whichever part moves
    assert abs(body_speed(still, moved(14.0), 0.1) - 1.0) < 1e-6
    feet = ("right_ankle", "right_heel", "right_foot_index")
    assert abs(body_speed(still, moved(28.0, feet), 0.1) - 2.0) < 1e-6  # a step: one foot is enough


def test_one_jittering_point_is_not_motion_and_unseen_parts_do_not_count():
    from station.framing import body_speed

    still = make_keypoints()
    assert body_speed(still, moved(30.0, ("left_heel",)), 0.1) == 0.0  # the median of the foot's three points
    foot = ("left_ankle", "left_heel", "left_foot_index")
    assert body_speed(still, moved(50.0, foot, hidden=foot), 0.1) == 0.0  # a foot MediaPipe does not see
    hand = ("left_wrist", "left_pinky", "left_index", "left_thumb")
    assert body_speed(still, moved(50.0, hand), 0.1) == 0.0  # hands gesture, and MediaPipe places them least surely
    assert body_speed(still, moved(14.0), 0.0) is None
    assert body_speed(still, make_keypoints(size=(640, 360)), 0.1) is None  # another camera mode


def test_a_moving_body_is_told_to_hold_still_after_what_blocks_framing():
    from station.framing import with_motion

    good = assess_framing(make_keypoints(), [FACE])
    f = with_motion(good, 2.0, 0.75)
    assert f.ok and not f.still and f.issues == ("moving",)  # shown, not judged: the session waits
    assert (f.instruction_zh, f.instruction_en) == ("请保持不动", "Hold still")
    assert with_motion(good, 0.5, 0.75) is good and with_motion(good, None, 0.75).still
    feet_out = assess_framing(make_keypoints(hidden=("left_ankle",)), [FACE])
    f = with_motion(feet_out, 2.0, 0.75)
    assert not f.ok and f.issues == ("feet_out_of_view", "moving") and "feet" in f.instruction_en
