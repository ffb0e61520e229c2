"""The rules added for the rest of the service code, on synthetic perceptions: painted frames, placed boxes."""
import numpy as np
from factories import H, W, config, make_frame, make_keypoints, make_perception, paint

from checks.base import Status
from checks.beard import BeardCheck
from checks.front_closed import FrontClosedCheck
from checks.hair_colour import HairColourCheck, measure
from checks.legwear import LegwearCheck
from checks.sunglasses import SunglassesCheck
from models.crops import beard_crops
from models.perception import Box

FACE = Box(615, 65, 665, 125, 0.9, "face")


def test_sunglasses_over_the_eyes_fail_ordinary_glasses_and_sunglasses_elsewhere_pass():
    check = SunglassesCheck(config())
    over_eyes = Box(615, 78, 665, 92, 0.9, "sunglasses")  # the factory's eyes are at y=85, x=620..660
    worn = check.run(make_perception(detections=[over_eyes]))
    assert worn.status == Status.FAIL and "take them off" in worn.reason_en
    glasses = check.run(make_perception(detections=[Box(615, 78, 665, 92, 0.9, "glasses")]))
    assert glasses.status == Status.PASS and [e.label for e in glasses.evidence] == ["head", "glasses"]
    on_collar = Box(620, 170, 660, 185, 0.9, "sunglasses")
    assert check.run(make_perception(detections=[on_collar])).status == Status.PASS
    faint = Box(615, 78, 665, 92, 0.1, "sunglasses")
    assert check.run(make_perception(detections=[faint])).status == Status.PASS
    hidden = make_perception(keypoints=make_keypoints(hidden=("left_eye", "right_eye")), detections=[over_eyes])
    assert check.run(hidden).status == Status.UNKNOWN


def fill(image, region, bgr):
    import cv2

    cv2.fillPoly(image, [np.round(region.polygon).astype(np.int32)], bgr)
    return image


def front_image(centre_bgr):
    image = np.full((H, W, 3), (40, 90, 160), np.uint8)  # a jacket of one colour over the whole torso
    return fill(image, make_perception().regions["front_centre"], centre_bgr)


def test_an_open_jacket_shows_another_garment_down_the_middle():
    check = FrontClosedCheck(config())
    closed = check.run(make_perception(image=front_image((40, 90, 160))))
    assert closed.status == Status.PASS
    opened = check.run(make_perception(image=front_image((230, 230, 230))))  # a white shirt between the fronts
    assert opened.status == Status.FAIL and "open" in opened.reason_en
    assert any(e.label == "front_centre" and e.status == Status.FAIL for e in opened.evidence)


def test_the_front_classifier_is_unsure_between_its_two_operating_points():
    check = FrontClosedCheck(config())
    points = {"front.open": 0.6, "front.open_unsure": 0.3, "front.min_tile_px": 24.0}
    torso = Box(560, 150, 720, 330, label="front")

    def judged(p_open):
        return check.run(make_perception(classified={"front": {"closed": 1 - p_open, "open": p_open}},
                                         extra_tiles={"front": torso}, operating_points=points))

    assert judged(0.1).status == Status.PASS and judged(0.8).status == Status.FAIL
    unsure = judged(0.45)  # neither a PASS nothing saw nor a FAIL without evidence: a supervisor looks
    assert unsure.status == Status.UNKNOWN and "supervisor" in unsure.reason_en
    assert [e.status for e in unsure.evidence] == [Status.UNKNOWN] and unsure.measurements["open_probability"] == 0.45
    # a manifest without the band passes everything below the fail point, as before
    no_band = {"front.open": 0.6, "front.min_tile_px": 24.0}
    assert check.run(make_perception(classified={"front": {"closed": 0.55, "open": 0.45}},
                                     extra_tiles={"front": torso}, operating_points=no_band)).status == Status.PASS


def test_bare_legs_and_a_skirt_fail_trousers_pass():
    check = LegwearCheck(config())
    p = make_perception()
    trousers = paint(np.ones((H, W), np.float32), p.regions["leg_gap"], 0.0)  # background between the legs
    assert check.run(make_perception(person_mask=trousers)).status == Status.PASS
    skin = np.zeros((H, W), np.float32)
    for name in ("thigh_left", "thigh_right"):
        paint(skin, p.regions[name], 1.0)
    bare = check.run(make_perception(skin=skin, person_mask=trousers))
    assert bare.status == Status.FAIL and "shorts" in bare.reason_en
    skirt = check.run(make_perception(person_mask=np.ones((H, W), np.float32)))  # cloth fills the gap
    assert skirt.status == Status.FAIL


def test_with_its_classifier_loaded_a_rule_without_its_tile_says_unknown_not_the_fallback_verdict():
    # the frame cut the lower legs off, so no legs tile was cut: the heuristic fallback (meant for a station without
    # the classifier) would pass these painted trousers on what it saw of the thighs
    trousers = paint(np.ones((H, W), np.float32), make_perception().regions["leg_gap"], 0.0)
    loaded = {"legwear.not_trousers": 0.35, "legwear.min_tile_px": 24.0}
    assert LegwearCheck(config()).run(make_perception(person_mask=trousers)).status == Status.PASS  # no classifier
    legs = LegwearCheck(config()).run(make_perception(person_mask=trousers, operating_points=loaded))
    assert legs.status == Status.UNKNOWN and "step back" in legs.reason_en
    front = FrontClosedCheck(config()).run(make_perception(image=front_image((40, 90, 160)),
                                                           operating_points={"front.open": 0.5}))
    assert front.status == Status.UNKNOWN


def pink_is_striking() -> dict:
    """A colour map in which only vivid pink-magenta cells (a > 160) are striking."""
    bins = 32
    a = np.arange(bins ** 3) // bins % bins
    return {"bins": bins, "striking_bits": np.packbits(a * 256 // bins >= 160).tobytes().hex()}


def test_hair_of_a_colour_hair_does_not_grow_in_fails():
    image = make_frame()
    image[:, :] = (40, 50, 60)  # dark brown everywhere, the hair included
    share, zone = measure(make_perception(image=image), pink_is_striking())
    assert share < 0.05 and zone.name == "hair"
    image[0:70, 560:720] = (200, 60, 230)  # pink above and beside the face
    share, _ = measure(make_perception(image=image), pink_is_striking())
    assert share > 0.4
    assert HairColourCheck(config()).run(make_perception(faces=[])).status == Status.UNKNOWN


def test_hair_colour_judges_a_webcam_sized_face_and_asks_a_farther_one_to_come_closer():
    check = HairColourCheck(config(hair_colour={"enabled": True}))
    image = make_frame()
    image[:, :] = (40, 50, 60)
    webcam = check.run(make_perception(image=image, faces=[Box(630, 80, 650, 104, 0.9, "face")]))  # 20 px wide
    assert webcam.status == Status.PASS and [e.label for e in webcam.evidence] == ["hair"]
    far = check.run(make_perception(image=image, faces=[Box(634, 84, 645, 97, 0.9, "face")]))  # 11 px wide
    assert far.status == Status.UNKNOWN and "step closer" in far.reason_en
    unseen = check.run(make_perception(image=image, faces=[]))
    assert unseen.status == Status.UNKNOWN and "face the camera" in unseen.reason_en


def test_pink_hair_is_measured_even_where_the_skin_model_calls_it_skin():
    """Red, copper and pink hair look like skin to the skin model: only the face ellipse is left out."""
    image = make_frame()
    image[:, :] = (40, 50, 60)
    image[0:70, 560:720] = (200, 60, 230)
    skin_everywhere = np.ones(image.shape[:2], np.float32)
    share, _ = measure(make_perception(image=image, skin=skin_everywhere), pink_is_striking())
    assert share > 0.4
    image[:, :] = (40, 50, 60)
    image[65:125, 615:665] = (200, 60, 230)  # a pink face (make-up, light) is not hair
    face_only, _ = measure(make_perception(image=image), pink_is_striking())
    assert face_only < 0.1  # the whole face box would be a quarter of the head box


def test_the_beard_classifier_fails_a_beard_at_the_chin_and_never_passes_what_it_could_not_see():
    check = BeardCheck(config(beard={"enabled": True}))
    points = {"beard.beard": 0.2, "beard.min_tile_px": 20.0}
    chin = beard_crops(make_keypoints())[0].box

    def judged(p_beard, tile=chin, points=points):
        return check.run(make_perception(classified={"chin": {"none": 1 - p_beard, "beard": p_beard}},
                                         extra_tiles={"chin": tile}, operating_points=points))

    shaven, bearded = judged(0.05), judged(0.6)
    assert shaven.status == Status.PASS and shaven.measurements["beard_probability"] == 0.05
    assert bearded.status == Status.FAIL and "shave" in bearded.reason_en
    assert [(e.label, e.status) for e in bearded.evidence] == [("chin", Status.FAIL)]
    far = judged(0.05, tile=Box(630, 100, 645, 115, label="chin"))  # a 15 px lower face: stubble is not visible
    assert far.status == Status.UNKNOWN and "closer" in far.reason_en
    # no lower-face tile (a face turned away or hidden) or no model: unknown, never "No beard"
    turned = check.run(make_perception(operating_points=points))
    assert turned.status == Status.UNKNOWN and "face the camera" in turned.reason_en
    assert check.run(make_perception()).status == Status.UNKNOWN
    # a site's own fail point wins over the manifest's
    strict = BeardCheck(config(beard={"enabled": True, "min_probability": 0.04}))
    assert strict.run(make_perception(classified={"chin": {"none": 0.95, "beard": 0.05}}, extra_tiles={"chin": chin},
                                      operating_points=points)).status == Status.FAIL
