import numpy as np
import pytest
from factories import make_keypoints

from models.perception import POSE_INDEX, Box, Keypoints, Region
from models.regions import FOOT_VISIBILITY, build_regions, feet_on_silhouette


def centre_x(region: Region) -> float:
    return float(region.polygon[:, 0].mean())


def test_own_left_chest_is_on_the_image_right_for_a_plain_camera():
    regions = build_regions(make_keypoints())
    assert centre_x(regions["chest_left"]) > 640 > centre_x(regions["chest_right"])


def test_mirrored_camera_swaps_sides():
    # MediaPipe labels sides by appearance: in a mirrored preview the person's real left shoulder shows on the
    # image's left, where a facing person's RIGHT shoulder would be, so MediaPipe calls it "right_shoulder".
    # Its output for a mirrored frame therefore looks just like a plain frame's; Keypoints.mirrored() swaps the
    # labels back to the person's own sides.
    as_mediapipe_labels_it = make_keypoints()
    own = as_mediapipe_labels_it.mirrored()
    regions = build_regions(own)
    assert centre_x(regions["chest_left"]) < 640 < centre_x(regions["chest_right"])
    assert np.allclose(own.point("left_shoulder"), as_mediapipe_labels_it.point("right_shoulder"))
    assert np.allclose(own.point("mouth_left"), as_mediapipe_labels_it.point("mouth_right"))
    assert np.allclose(own.mirrored().xy, as_mediapipe_labels_it.xy)


def test_regions_need_visible_keypoints():
    feet = ("left_ankle", "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index")
    regions = build_regions(make_keypoints(hidden=feet))
    assert not any(name.startswith("foot_") for name in regions)
    assert "shin_left" not in regions and "shin_lower_left" not in regions
    assert {"chest_left", "chest_right", "torso", "forearm_lower_left", "thigh_left"} <= set(regions)


def test_off_frame_keypoints_are_not_visible_even_with_high_visibility():
    kp = make_keypoints({"left_ankle": (690, 900), "left_heel": (688, 910), "left_foot_index": (705, 930)})
    assert kp.visibility[27] > 0.9 and not kp.visible("left_ankle")
    regions = build_regions(kp)
    assert "foot_left" not in regions and "foot_right" in regions


def test_upper_body_photo_still_gets_a_chest():
    hidden = ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
              "right_heel", "left_foot_index", "right_foot_index")
    regions = build_regions(make_keypoints(hidden=hidden))
    chest = regions["chest_left"].box
    assert chest.y1 > 160 and chest.height > 30


def test_chest_left_lies_between_shoulders_and_mid_torso():
    box = build_regions(make_keypoints())["chest_left"].box
    assert 160 <= box.y1 and box.y2 <= (160 + 380) / 2 + 30
    assert 640 <= box.x1 and box.x2 <= 710


def test_containers_validate_shapes():
    with pytest.raises(ValueError):
        Keypoints(np.zeros((17, 2)), np.zeros(17), (10, 10))
    with pytest.raises(ValueError):
        Box(10, 10, 5, 20)
    with pytest.raises(ValueError):
        Region("x", np.zeros((2, 2)))


def test_local_mask_is_the_full_mask_cropped_including_off_frame_regions():
    shape = (720, 1280)
    for region in (Region("inside", np.array([[100, 100], [180, 120], [150, 200]])),
                   Region("off_edge", np.array([[1250, 690], [1330, 700], [1300, 760]]))):
        (x1, y1, x2, y2), local = region.local_mask(shape[1], shape[0])
        full = region.mask(shape)
        assert full[y1:y2, x1:x2].sum() == local.sum() == full.sum() > 0
        assert x2 <= shape[1] and y2 <= shape[0]
    gone = Region("gone", np.array([[-50, -50], [-10, -50], [-10, -10]]))
    assert gone.local_mask(1280, 720)[1].size == 0 and not gone.mask(shape).any()


def legs_mask(end_y: int, leg_width: int = 60, h: int = 720, w: int = 1280) -> np.ndarray:
    """The standing person's silhouette from the hips down: two legs ending at `end_y` (the soles)."""
    mask = np.zeros((h, w), np.float32)
    for x in (590, 690):
        mask[380:end_y + 1, x - leg_width // 2:x + leg_width // 2] = 1.0
    return mask


def low_feet_on_the_shins(visibility: float = 0.3) -> Keypoints:
    """MediaPipe under a long skirt: both feet rated low and placed 80 px up the shins."""
    feet = {f"{side}_{j}": (x, y - 80) for side, x in (("left", 690), ("right", 590))
            for j, y in (("ankle", 640), ("heel", 655), ("foot_index", 675))}
    kp = make_keypoints(feet)
    for side in ("left", "right"):
        for j in ("ankle", "heel", "foot_index"):
            kp.visibility[POSE_INDEX[f"{side}_{j}"]] = visibility
    return kp


def test_feet_the_pose_put_on_the_shins_move_down_to_where_the_silhouette_ends():
    kp = feet_on_silhouette(low_feet_on_the_shins(), legs_mask(end_y=700))
    for side in ("left", "right"):
        assert kp.visible(f"{side}_ankle", FOOT_VISIBILITY) and kp.visible(f"{side}_foot_index", FOOT_VISIBILITY)
        assert 660 <= kp.point(f"{side}_foot_index")[1] < 700  # the toe a little above the sole, not on the shin
    assert "foot_left" in build_regions(kp) and "foot_left" not in build_regions(low_feet_on_the_shins())


def test_a_foot_the_pose_is_sure_of_stays_where_it_is():
    kp = make_keypoints()  # visibility 0.98; a shadow makes the silhouette run on below the feet
    assert np.array_equal(feet_on_silhouette(kp, legs_mask(end_y=715)).xy, kp.xy)


def test_feet_stay_unseen_where_the_silhouette_runs_off_the_frame_or_ends_in_a_wide_hem():
    low = low_feet_on_the_shins()
    for mask in (legs_mask(end_y=719),  # cut off by the frame's bottom edge: the feet may be below it
                 legs_mask(end_y=700, leg_width=160)):  # a skirt to the floor: its hem hides the feet
        kp = feet_on_silhouette(low, mask)
        assert np.array_equal(kp.xy, low.xy) and not kp.visible("left_ankle", FOOT_VISIBILITY)
