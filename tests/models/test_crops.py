"""Pose-guided tiles: which parts get one, and that tile pixels map back to frame pixels."""
import numpy as np
from factories import H, W, make_keypoints

from models.crops import PAD_VALUE, Crop, attire_crops, beard_crops, foot_crops, jewellery_crops, legs_crops
from models.perception import POSE_NAMES, Box, Keypoints
from models.regions import body_scale

FEET = ("left_ankle", "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index")


def test_every_part_in_view_gets_a_tile_sized_by_the_body():
    kp = make_keypoints()
    crops = {c.part: c for c in attire_crops(kp) + foot_crops(kp)}
    assert set(crops) == {"torso", "head", "hand_left", "hand_right", "foot_left", "foot_right"}
    s = body_scale(kp)
    assert crops["torso"].side >= s and crops["hand_left"].side >= 0.7 * s and crops["foot_left"].side >= 0.7 * s
    # the torso tile holds both shoulders; each foot's tile its ankle and toes
    for part, names in (("torso", ("left_shoulder", "right_shoulder")), ("foot_left", ("left_ankle",
                                                                                     "left_foot_index")),
                        ("foot_right", ("right_ankle", "right_foot_index"))):
        c = crops[part]
        for n in names:
            x, y = kp.point(n)
            assert c.x <= x <= c.x + c.side and c.y <= y <= c.y + c.side


def test_hidden_feet_get_no_tile():
    kp = make_keypoints(hidden=FEET)
    assert foot_crops(kp) == [] and "torso" in {c.part for c in attire_crops(kp)}


def test_jewellery_tiles_centre_each_wrist_and_hang_below_the_neck():
    kp = make_keypoints()
    s = body_scale(kp)
    crops = {c.part: c for c in jewellery_crops(kp)}
    assert set(crops) == {"wrist_left", "wrist_right", "neck"}
    for side in ("left", "right"):
        c = crops[f"wrist_{side}"]
        assert np.allclose([c.x + c.side / 2, c.y + c.side / 2], kp.point(f"{side}_wrist"))
    neck = crops["neck"]
    shoulders = (kp.point("left_shoulder") + kp.point("right_shoulder")) / 2
    # a necklace lies from just above the shoulder line to half a shoulder width below it
    assert neck.y < shoulders[1] - 0.3 * s and neck.y + neck.side > shoulders[1] + 0.5 * s
    assert {c.part for c in jewellery_crops(make_keypoints(hidden=("left_wrist",)))} == {"wrist_right", "neck"}


def test_legs_tile_is_cut_when_a_skirt_hides_the_knees_but_not_when_they_are_out_of_frame():
    kp = make_keypoints()
    low = Keypoints(kp.xy, np.where([n.endswith("knee") for n in POSE_NAMES], 0.3, kp.visibility), kp.image_size)
    assert [c.part for c in legs_crops(low)] == ["legs"]  # MediaPipe rates knees under a dress about 0.3
    assert legs_crops(make_keypoints(hidden=("left_knee",))) == []  # not seen at all
    cut_off = make_keypoints(size=(W, int(kp.point("left_knee")[1]) - 5))  # the frame ends above the knees
    assert legs_crops(cut_off) == []
    # the tile reaches the ankles (the thigh's length again below the knees): a frame ending mid-shin cuts none,
    # since trousers cut off there look like shorts; one ending at the ankles does
    hips = (kp.point("left_hip") + kp.point("right_hip")) / 2
    knees = (kp.point("left_knee") + kp.point("right_knee")) / 2
    assert legs_crops(make_keypoints(size=(W, int((knees + (knees - hips) * 0.5)[1])))) == []
    assert [c.part for c in legs_crops(make_keypoints(size=(W, int((knees + (knees - hips) * 0.95)[1]))))] == ["legs"]


def test_beard_tile_holds_the_mouth_and_chin_below_the_nose_and_needs_a_face_turned_to_the_camera():
    kp = make_keypoints()
    [chin] = beard_crops(kp)
    nose, mouth = kp.point("nose"), (kp.point("mouth_left") + kp.point("mouth_right")) / 2
    eyes = float(np.hypot(*(kp.point("left_eye") - kp.point("right_eye"))))
    assert chin.part == "chin" and np.isclose(chin.side, 2.2 * eyes)
    assert chin.y < mouth[1] < chin.y + chin.side and chin.y + chin.side > mouth[1] + 0.8 * eyes  # the chin below
    assert chin.x < nose[0] < chin.x + chin.side and chin.y + chin.side / 2 > nose[1]  # centred below the nose
    assert beard_crops(make_keypoints(hidden=("mouth_left",))) == []
    xy = kp.xy.copy()  # a head turned to the side: the eyes nearly on top of each other
    xy[POSE_NAMES.index("right_eye")] = xy[POSE_NAMES.index("left_eye")] + (3, 0)
    assert beard_crops(Keypoints(xy, kp.visibility, kp.image_size)) == []


def test_cut_pads_outside_the_frame_and_maps_boxes_both_ways():
    image = np.full((H, W, 3), 200, np.uint8)
    crop = Crop("feet", -50.0, H - 100.0, 200.0)  # reaches past the left and bottom edges
    tile = crop.cut(image, 160)
    assert tile.shape == (160, 160, 3)
    assert (tile[5, 5] == PAD_VALUE).all() and (tile[40, 120] == 200).all()
    frame_box = Box(10, H - 80, 60, H - 40, 0.7, "shoe")
    back = crop.to_frame(crop.to_tile(frame_box, 160), 160)
    assert np.allclose([back.x1, back.y1, back.x2, back.y2], [10, H - 80, 60, H - 40], atol=1e-3)
    assert back.label == "shoe" and back.score == 0.7
