"""Slow tests: the real MediaPipe and skin models on real photos from ../shared/eval (CCP Apache-2.0, princeID
CC BY 4.0), and the commands end to end."""
import csv
import json

import numpy as np
import pytest

from checks.base import Status
from station.cli import main
from station.config import StationConfig, load_config
from station.imageio import read_image
from station.pipeline import Pipeline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipeline(real_models):
    return Pipeline(StationConfig(), real_models)


def test_pose_sides_on_a_real_photo(pipeline, shared_eval):
    frame = pipeline.run(read_image(shared_eval / "ccp-public/images/ccp_0702.jpg"))
    kp = frame.perception.pose
    assert kp is not None
    # facing the camera: the person's own left shoulder is on the image's right
    assert kp.point("left_shoulder")[0] > kp.point("right_shoulder")[0]
    chest_left = frame.perception.regions["chest_left"].polygon[:, 0].mean()
    chest_right = frame.perception.regions["chest_right"].polygon[:, 0].mean()
    assert chest_left > chest_right
    assert frame.perception.framing.ok, frame.perception.framing.issues


def test_mirrored_camera_on_a_flipped_photo(real_models, shared_eval):
    image = read_image(shared_eval / "ccp-public/images/ccp_0701.jpg")
    mirrored = Pipeline(load_config(None), real_models)
    mirrored.config.camera.mirrored = True
    frame = mirrored.run(np.ascontiguousarray(image[:, ::-1]))
    regions = frame.perception.regions
    # in a mirror image the wearer's own left chest shows on the image's LEFT
    assert regions["chest_left"].polygon[:, 0].mean() < regions["chest_right"].polygon[:, 0].mean()


def test_sandals_and_rolled_trousers(pipeline, shared_eval):
    frame = pipeline.run(read_image(shared_eval / "ccp-public/images/ccp_0714.jpg"))  # labelled footwear=fail
    assert frame.results["footwear"].status == Status.FAIL
    assert frame.results["badge"].status == Status.FAIL  # a street photo: no work badge
    assert frame.overall == Status.FAIL


def test_feet_under_a_long_skirt_are_found_where_the_silhouette_ends(pipeline, shared_eval):
    # ccp_0719: boots below a pleated skirt. MediaPipe puts both feet on the shins and rates them 0.2-0.25, so the
    # feet used to be "not in view"; the silhouette shows them. ccp_0840: a skirt to the ground hides the feet, and
    # its hem must not be judged as shoes.
    boots = pipeline.run(read_image(shared_eval / "ccp-public/images/ccp_0719.jpg"))
    assert boots.results["footwear"].status == Status.PASS
    soles = np.flatnonzero((boots.perception.person_mask[:, 240:360] > 0.5).any(axis=1)).max()
    for side in ("left", "right"):
        tile = boots.perception.attire.tiles[f"foot_{side}"]
        assert tile.y1 < soles - 20 < tile.y2  # the boot, not the skirt above it
    hem = pipeline.run(read_image(shared_eval / "ccp-public/images/ccp_0840.jpg"))
    assert hem.results["footwear"].status == Status.UNKNOWN


def test_an_open_coat_is_never_passed_by_the_front_rule_and_a_shirt_and_tie_passes(pipeline, shared_eval):
    # ccp_0733: a grey coat worn open over a dress, which the fine-tuned classifier alone passed (P(open) 0.11); with
    # the linear probe beside it the pair fails it at webcam resolution and cannot tell at full size (P 0.45, the
    # unsure band: a supervisor looks). ccp_0723: the demo's shirt and tie, which averaging the two models'
    # probabilities (instead of their log-odds) had sent to "cannot tell".
    for folder, verdicts in (("ccp-public", {Status.FAIL, Status.UNKNOWN}), ("ccp-public-small", {Status.FAIL})):
        coat = pipeline.run(read_image(shared_eval / f"{folder}/images/ccp_0733.jpg")).results["front_closed"]
        assert coat.status in verdicts, (folder, coat.measurements)
        assert all(e.status == coat.status for e in coat.evidence)  # the torso tile, marked as the verdict is
        shirt = pipeline.run(read_image(shared_eval / f"{folder}/images/ccp_0723.jpg")).results["front_closed"]
        assert shirt.status == Status.PASS, (folder, shirt.measurements)


def test_skirts_and_shorts_fail_and_wide_or_patterned_trousers_pass_at_full_and_webcam_resolution(pipeline,
                                                                                                   shared_eval):
    # ccp-public photos the legwear classifier never trained on, each judged wrongly by the hips-to-knees tile it
    # replaced: 0766 a long floral skirt, 0748 a black skirt, 0778 a kilt, 0726 a short skirt over black tights,
    # 0802 cargo shorts ending at the knee (all passed, P 0.05-0.89); 0710 grey suit trousers, 0786 wide patterned
    # trousers, 0850 tapered rust trousers (failed, P 0.93-0.998)
    for folder in ("ccp-public", "ccp-public-small"):
        for number in ("0766", "0748", "0778", "0726"):
            legs = pipeline.run(read_image(shared_eval / f"{folder}/images/ccp_{number}.jpg")).results["legwear"]
            assert legs.status == Status.FAIL, (folder, number, legs.measurements)
            assert [(e.label, e.status) for e in legs.evidence] == [("legs", Status.FAIL)]
        shorts = pipeline.run(read_image(shared_eval / f"{folder}/images/ccp_0802.jpg")).results["legwear"]
        assert shorts.status != Status.PASS, (folder, shorts.measurements)  # failed, or "cannot tell" on -small
        for number in ("0710", "0786", "0850"):
            legs = pipeline.run(read_image(shared_eval / f"{folder}/images/ccp_{number}.jpg")).results["legwear"]
            assert legs.status == Status.PASS, (folder, number, legs.measurements)


def test_dyed_hair_fails_and_natural_hair_passes(real_models, shared_datasets):
    # ccp_1224: real hair dyed red-pink; ccp_0707: natural dark hair, and the same photo with its CCP `hair` pixels
    # dyed blue (as the ccp-rules set does; the colour map learned from training photos dyed at random).
    pytest.importorskip("scipy")
    from calibration.build_sets import ccp_hair, dye

    pipeline = Pipeline(StationConfig(hair_colour={"enabled": True}), real_models)
    ccp = shared_datasets / "ccp"
    dyed = pipeline.run(read_image(ccp / "photos/1224.jpg")).results["hair_colour"]
    assert dyed.status == Status.FAIL and dyed.evidence[0].status == Status.FAIL
    natural = read_image(ccp / "photos/0707.jpg")
    assert pipeline.run(natural).results["hair_colour"].status == Status.PASS
    blue = pipeline.run(dye(natural, ccp_hair(707), 110)).results["hair_colour"]
    assert blue.status == Status.FAIL and blue.measurements["striking"] > 0.5


def test_natural_ginger_hair_and_a_blue_collar_below_the_chin_pass(real_models, shared_eval):
    # ccp-public photos no model was trained on: 0746 natural strawberry-blonde hair (the map learnt from dyes at
    # ginger hues and failed her at 0.46 of the head), 0713 dark hair over a blue shirt collar (the head box reached
    # below the chin and counted the collar: 0.23, just under the limit)
    pipeline = Pipeline(StationConfig(hair_colour={"enabled": True}), real_models)
    for number in ("0746", "0713"):
        hair = pipeline.run(read_image(shared_eval / f"ccp-public/images/ccp_{number}.jpg")).results["hair_colour"]
        assert hair.status == Status.PASS and hair.measurements["striking"] < 0.1, (number, hair.measurements)


def test_a_beard_fails_at_the_chin_and_a_shaven_face_passes_at_full_and_webcam_resolution(real_models, shared_eval):
    # ccp-public photos no model was trained on: 0796 a full dark beard, 0810 a beard and moustache, 0707 and 0701
    # no facial hair; the -small copies are the same photos at 40 % (a face about 30 px wide)
    pipeline = Pipeline(StationConfig(beard={"enabled": True}), real_models)
    for folder in ("ccp-public", "ccp-public-small"):
        for number in ("0796", "0810"):
            beard = pipeline.run(read_image(shared_eval / f"{folder}/images/ccp_{number}.jpg")).results["beard"]
            assert beard.status == Status.FAIL, (folder, number, beard.measurements)
            assert [(e.label, e.status) for e in beard.evidence] == [("chin", Status.FAIL)]
        for number in ("0707", "0701"):
            shaven = pipeline.run(read_image(shared_eval / f"{folder}/images/ccp_{number}.jpg")).results["beard"]
            assert shaven.status == Status.PASS, (folder, number, shaven.measurements)


def test_bracelets_are_counted_once_at_full_and_webcam_resolution(pipeline, shared_eval):
    # ccp_0811 wears bracelets on her left wrist (ccp-public: jewellery 1); -small is the same photo as a cheap webcam
    # sees it. The jewellery classifier calls that wrist adorned at both sizes; where the detector boxes the bracelet
    # too, it is still one piece.
    for folder in ("ccp-public", "ccp-public-small"):
        frame = pipeline.run(read_image(shared_eval / f"{folder}/images/ccp_0811.jpg"))
        p = frame.perception
        assert p.classified["wrist_left"]["jewellery"] >= p.attire.operating_points["jewellery.jewellery_wrist"]
        assert p.classified["wrist_right"]["jewellery"] < p.attire.operating_points["jewellery.jewellery_wrist"]
        result = frame.results["accessories"]
        on_wrist = [e for e in result.evidence if e.label.startswith("wrist_") or e.label in ("bracelet", "watch")]
        assert len(on_wrist) == 1 and result.measurements["pieces"] == len(result.evidence), (folder, result)
        assert result.status == Status.PASS  # bracelets and a necklace: not more than three pieces


def test_upper_body_photo_judges_what_it_sees(pipeline, shared_eval):
    frame = pipeline.run(read_image(shared_eval / "princeid-public/images/PXL_20240320_050355512.jpg"))
    assert frame.results["footwear"].status == Status.UNKNOWN  # feet out of frame: never a guess
    assert frame.results["badge"].status != Status.UNKNOWN  # the chest is in view
    assert "feet_out_of_view" in frame.perception.framing.issues


def test_lanyard_card_found_on_the_chest(real_models, shared_eval):
    config = StationConfig.model_validate({"badge": {"position": "chest"}})
    frame = Pipeline(config, real_models).run(
        read_image(shared_eval / "princeid-public/images/PXL_20240320_050355512.jpg"))
    badge = frame.results["badge"]
    assert badge.status == Status.PASS, badge.reason_en
    box = next(e for e in badge.evidence if e.label == "badge")
    lanyard = frame.perception.region("lanyard").box
    cx, cy = box.polygon.mean(axis=0)
    assert lanyard.x1 <= cx <= lanyard.x2 and lanyard.y1 <= cy <= lanyard.y2
    assert {"torso", "head"} <= set(frame.perception.examined)


def test_check_command_json_and_evidence(shared_eval, tmp_path, capsys):
    out = tmp_path / "evidence.jpg"
    code = main(["check", str(shared_eval / "ccp-public/images/ccp_0714.jpg"), "--json", "--evidence", str(out)])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["overall"] == "fail"
    assert set(data["checks"]) == {"uniform", "front_closed", "badge", "footwear", "cuffs", "legwear", "accessories",
                                   "sunglasses"}  # hair_colour and beard are off unless a site switches them on
    assert data["checks"]["footwear"]["reason_zh"] and data["checks"]["footwear"]["evidence"]
    assert read_image(out).shape[0] > 500


def test_eval_on_a_small_set_in_the_format(shared_eval, tmp_path, capsys):
    """A set built from shared photos, with a uniform reference folder and a dataset.toml override."""
    src = shared_eval / "uniform-public"
    (tmp_path / "images").mkdir()
    (tmp_path / "reference" / "uniform").mkdir(parents=True)
    for ref in sorted((src / "reference" / "uniform").iterdir())[:3]:
        (tmp_path / "reference" / "uniform" / ref.name).write_bytes(ref.read_bytes())
    rows = list(csv.DictReader(open(src / "labels.csv")))
    picked = [r for r in rows if r["uniform"] == "pass"][:2] + [r for r in rows if r["uniform"] == "fail"][:2]
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        f.write("jewellery,image,uniform,extra\n")  # columns in any order; unknown columns ignored
        for r in picked:
            name = r["image"].split("/")[-1]
            (tmp_path / "images" / name).write_bytes((src / r["image"]).read_bytes())
            f.write(f",images/{name},{r['uniform']},x\n")
    (tmp_path / "dataset.toml").write_text('[badge]\nposition = "chest"\n')
    report_path = tmp_path / "report.json"
    assert main(["eval", str(tmp_path), "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["images"] == 4 and report["uniform_references"] == 3
    assert report["policy"]["badge_position"] == "chest"
    u = report["checks"]["uniform"]
    assert u["n"] == 4 and set(u["confusion"]) == {"pass", "fail"}
    assert sum(sum(v.values()) for v in u["confusion"].values()) == 4
    assert u["correct"] >= 3  # measured 0.94 on the whole set
    assert "uniform" in capsys.readouterr().out


def test_run_demo_session_passes_the_badged_technician_and_fails_the_one_in_sandals(capsys, tmp_path):
    """The shipped demo, as a new user first sees it: one session per demo person, judged against the demo uniform."""
    code = main(["run", "--source", "demo", "--frames", "2", "--evidence-dir", str(tmp_path), "--json"])
    out = capsys.readouterr().out
    first, second = json.loads(out[out.index("["):])
    assert code == 1 and first["frames"] == second["frames"] == 2
    assert first["overall"] == "pass", first
    assert second["overall"] == "fail"
    assert {k for k, r in second["checks"].items() if r["status"] == "fail"} >= {"footwear", "badge"}
    assert len(list(tmp_path.glob("*_frame_*.jpg"))) == 4


@pytest.mark.parametrize("number", ["0728", "0788"])
def test_a_full_body_person_in_a_720p_frame_keeps_face_and_silhouette(real_models, shared_eval, shared_datasets,
                                                                       number):
    """CCP people framed as the station's camera frames them (80 % of a 1280x720 frame): the segmenter sees the
    whole frame at 256 x 144, and its mask had run into the trees and sky round the head, which the hair rule counted
    as dyed hair (natural heads failed at a striking share of 0.47-0.49). Their silhouette is now segmented in a
    window round the pose, and the face looked for round the head where the whole frame finds none."""
    import cv2
    from scipy.io import loadmat

    from calibration.webcam_sets import webcam_frame

    photo = read_image(shared_eval / f"ccp-public/images/ccp_{number}.jpg")
    pipeline = Pipeline(StationConfig(hair_colour={"enabled": True}), real_models)
    frame = pipeline.run(webcam_frame(photo))
    p = frame.perception
    nx, ny = p.pose.point("nose")
    assert any(f.x1 <= nx <= f.x2 and f.y1 <= ny <= f.y2 for f in p.faces)  # the face of the person judged
    assert frame.results["hair_colour"].status == Status.PASS, frame.results["hair_colour"].reason_en
    # the person mask against CCP's own pixel labels, placed where webcam_frame puts the photo
    labels = loadmat(shared_datasets / f"ccp/annotations/pixel-level/{number}.mat")["groundtruth"] > 0
    k = 0.8 * 720 / photo.shape[0]
    h, w = cv2.resize(photo, None, fx=k, fy=k, interpolation=cv2.INTER_AREA).shape[:2]
    truth = np.zeros((720, 1280), bool)
    top, left = 720 - h - 20, (1280 - w) // 2
    truth[top:top + h, left:left + w] = cv2.resize(labels.astype(np.uint8), (w, h),
                                                   interpolation=cv2.INTER_NEAREST) > 0
    found = p.person_mask > 0.5
    head = slice(top, top + int(0.2 * h))  # the top of the person: hair and face
    iou = (found & truth).sum() / (found | truth).sum()
    head_iou = (found[head] & truth[head]).sum() / (found[head] | truth[head]).sum()
    assert iou > 0.85 and head_iou > 0.8, (iou, head_iou)


def test_a_person_standing_still_is_judged_and_one_walking_past_is_told_to_hold_still(real_models, shared_eval):
    """MediaPipe following a CCP person framed as the station frames them, 12 frames a second with the camera's
    noise: standing still, no frame is held back; moving 8 px a frame (a shoulder width a second: 3 px of motion
    blur at a webcam's 1/30 s, where open shoes and jewellery start to be missed), every frame from the fourth on
    is."""
    from dataclasses import replace

    import cv2

    from calibration.webcam_sets import webcam_frame
    from models.mediapipe_models import MediaPipePose

    frame = webcam_frame(read_image(shared_eval / "ccp-public/images/ccp_0728.jpg"))
    rng = np.random.default_rng(0)
    pose = MediaPipePose(tracking=True)
    try:
        for dx in (0, 8):
            t = [0.0]
            pipeline = Pipeline(StationConfig(), replace(real_models, pose=pose), tracking=True, clock=lambda: t[0])
            seen = []
            for k in range(8):
                shifted = cv2.warpAffine(frame, np.float32([[1, 0, dx * k], [0, 1, 0]]), (1280, 720),
                                         borderMode=cv2.BORDER_REPLICATE)
                noisy = np.clip(shifted + rng.normal(0, 3, shifted.shape), 0, 255).astype(np.uint8)
                seen.append(pipeline.run(noisy).perception.framing.still)
                t[0] += 1 / 12
            # moving, the first frame has no speed yet and MediaPipe's smoothing lags a frame behind
            assert all(seen) if dx == 0 else (seen[0] and not any(seen[3:])), (dx, seen)
    finally:
        pose.close()
