"""PASS means "seen and compliant": real photos from ../shared, transformed the way a depot camera gets them wrong
(mirrored, grey, dark, two people, head cut off, huge, transparent), through the real models."""
import json

import cv2
import numpy as np
import pytest
from factories import config

from checks.base import Status
from models.regions import build_regions
from station.cli import main
from station.pipeline import Pipeline

pytestmark = pytest.mark.slow
FULL_BODY = "ccp-public/images/ccp_0702.jpg"  # facing the camera, head to feet, closed shoes
OTHER = "ccp-public/images/ccp_0705.jpg"
CARD = ("datasets/princeid/box/train/images/PXL_20240320_050355512_jpg.rf.1acaf644c6c0cee10470906b85c60a3b.jpg",
        (310, 510, 359, 597))  # a real ID card on a lanyard, its box in that photo


@pytest.fixture(scope="module")
def photo(shared_eval):
    return cv2.imread(str(shared_eval / FULL_BODY))


@pytest.fixture(scope="module")
def photo_pipeline(real_models):
    return Pipeline(config(), real_models)


def with_card(image: np.ndarray, kp, region: str, shared) -> np.ndarray:
    """The photo with the real card pasted at the middle of a body region (wearer's own sides)."""
    src = cv2.imread(str(shared / CARD[0]))
    x1, y1, x2, y2 = CARD[1]
    card = src[y1:y2, x1:x2]
    poly = build_regions(kp)[region].polygon
    cx, cy = poly.mean(axis=0)
    s = float(np.hypot(*(kp.point("left_shoulder") - kp.point("right_shoulder"))))
    h = int(0.28 * s)
    w = int(h * card.shape[1] / card.shape[0])
    out = image.copy()
    top, left = int(cy - h / 2), int(cx - w / 2)
    out[top:top + h, left:left + w] = cv2.resize(card, (w, h), interpolation=cv2.INTER_AREA)
    return out


def test_mirrored_camera_reaches_a_verdict_in_a_live_session(photo):
    """A selfie-style camera: every frame flipped, `[camera] mirrored = true`. The facing test used to compare
    shoulders the pipeline had already swapped, so the session stayed in framing forever."""
    import time

    from station.live import LiveStation

    flipped = cv2.flip(photo, 1)

    def frames():
        while True:
            yield flipped.copy()
            time.sleep(0.02)

    cfg = config(camera={"mirrored": True})
    live = LiveStation(cfg, None, frames, pipeline=Pipeline(cfg, tracking=True)).start()
    try:
        live.identify("1001")
        deadline = time.monotonic() + 60
        while live.session.verdict is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert live.session.verdict is not None, live.state()
        assert "not_facing" not in (live.last_result().perception.framing.issues if live.last_result() else ())
    finally:
        live.stop()


def test_left_chest_rule_holds_both_ways_with_a_mirrored_camera(photo, photo_pipeline, real_models, shared_eval):
    kp = photo_pipeline.run(photo).perception.pose
    worn_left = with_card(photo, kp, "chest_left", shared_eval.parent)
    worn_right = with_card(photo, kp, "chest_right", shared_eval.parent)
    plain = Pipeline(config(), real_models)
    mirrored = Pipeline(config(camera={"mirrored": True}), real_models)
    assert plain.run(worn_left).results["badge"].status == Status.PASS
    assert plain.run(worn_right).results["badge"].status == Status.FAIL
    # the same people seen through a mirroring camera: still the wearer's left passes and right fails
    assert mirrored.run(cv2.flip(worn_left, 1)).results["badge"].status == Status.PASS
    right = mirrored.run(cv2.flip(worn_right, 1))
    assert right.results["badge"].status == Status.FAIL and "right chest" in right.results["badge"].reason_en
    assert not right.perception.framing.issues or "not_facing" not in right.perception.framing.issues


def test_a_lanyard_card_under_the_left_chest_is_named(photo, photo_pipeline, shared_eval):
    kp = photo_pipeline.run(photo).perception.pose
    # the card hangs on the midline, a third of the way from the chest line to the hips
    regions = build_regions(kp)
    chest_bottom = regions["chest"].polygon[:, 1].max()
    hips = (kp.point("left_hip") + kp.point("right_hip")) / 2
    shoulders = (kp.point("left_shoulder") + kp.point("right_shoulder")) / 2
    image = photo.copy()
    src = cv2.imread(str(shared_eval.parent / CARD[0]))
    x1, y1, x2, y2 = CARD[1]
    s = float(np.hypot(*(kp.point("left_shoulder") - kp.point("right_shoulder"))))
    h = int(0.28 * s)
    w = int(h * (x2 - x1) / (y2 - y1))
    cy = int(chest_bottom + 0.3 * (hips[1] - chest_bottom))
    cx = int(shoulders[0])
    image[cy - h // 2: cy - h // 2 + h, cx - w // 2: cx - w // 2 + w] = cv2.resize(src[y1:y2, x1:x2], (w, h))
    badge = photo_pipeline.run(image).results["badge"]
    assert badge.status == Status.FAIL and "lanyard" in badge.reason_en and "elsewhere" not in badge.reason_en


def test_grey_and_infrared_frames_give_no_colour_verdicts(shared_eval, photo_pipeline):
    """ccp_0714 wears sandals with the trousers turned up: in grey, skin and colour cannot be told apart."""
    sandals = cv2.imread(str(shared_eval / "ccp-public/images/ccp_0714.jpg"))
    grey = cv2.cvtColor(cv2.cvtColor(sandals, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    frame = photo_pipeline.run(grey)
    for rule in ("footwear", "cuffs", "uniform"):
        assert frame.results[rule].status == Status.UNKNOWN, rule
    assert "no colour" in frame.results["footwear"].reason_en
    assert "no_colour" in frame.perception.framing.issues and frame.overall != Status.PASS


def test_a_frame_too_dark_to_see_judges_nothing(photo, photo_pipeline):
    dark = (photo.astype(np.float32) * 0.12).astype(np.uint8)
    frame = photo_pipeline.run(dark)
    assert all(r.status == Status.UNKNOWN for r in frame.results.values()), \
        {k: r.status for k, r in frame.results.items()}
    assert "too_dark" in frame.perception.framing.issues and "light" in frame.perception.framing.instruction_en


def test_two_people_side_by_side_never_pass(shared_eval, photo, tmp_path, capsys):
    other = cv2.imread(str(shared_eval / OTHER))
    pair = np.hstack([photo, cv2.resize(other, (photo.shape[1], photo.shape[0]))])
    one_face = pair.copy()  # the second person's face hidden: faces alone count one person
    fh = photo.shape[0] // 6
    one_face[: fh + 40, photo.shape[1]:] = 128
    for name, image in (("both_faces", pair), ("one_face", one_face)):
        path = tmp_path / f"{name}.png"
        cv2.imwrite(str(path), image)
        code = main(["check", str(path), "--json"])
        out = json.loads(capsys.readouterr().out)
        assert out["framing"]["people"] >= 2 and "several_people" in out["framing"]["issues"], name
        assert out["overall"] != "pass" and code == 1, name
        assert "One person at a time" in out["framing"]["instruction_en"]


def test_a_photo_with_the_head_cut_off_says_step_back(photo, photo_pipeline):
    frame = photo_pipeline.run(np.ascontiguousarray(photo[200:]))
    framing = frame.perception.framing
    assert framing.issues[0] == "head_out_of_view", framing.issues
    assert "Step back so your head" in framing.instruction_en and "请后退" in framing.instruction_zh


def test_rules_never_pass_on_parts_they_did_not_see(photo, photo_pipeline):
    upper = np.ascontiguousarray(photo[: int(photo.shape[0] * 0.55)])  # head to mid-thigh: no shins, no feet
    frame = photo_pipeline.run(upper)
    cuffs = frame.results["cuffs"]
    assert cuffs.status == Status.UNKNOWN and "shin" in cuffs.reason_en
    assert frame.results["footwear"].status == Status.UNKNOWN
    assert frame.overall != Status.PASS


def test_a_transparent_png_is_judged_on_what_it_shows(photo, tmp_path, capsys):
    rgba = cv2.cvtColor(photo, cv2.COLOR_BGR2BGRA)
    rgba[:, :, 3] = 0  # every pixel hidden: the colours underneath are not a photo anyone sees
    path = tmp_path / "hidden.png"
    cv2.imwrite(str(path), rgba)
    assert main(["check", str(path)]) == 2
    assert "transparent" in capsys.readouterr().err


def test_session_vote_needs_the_feet_seen_in_enough_frames(shared_eval, photo, tmp_path, capsys):
    """One full-body photo and five upper-body crops: the feet were seen once, so footwear cannot pass."""
    folder = tmp_path / "session"
    folder.mkdir()
    cv2.imwrite(str(folder / "0.jpg"), photo)
    for i in range(1, 6):
        cv2.imwrite(str(folder / f"{i}.jpg"), photo[: int(photo.shape[0] * 0.5)])
    code = main(["run", "--source", str(folder), "--frames", "6", "--json"])
    out = capsys.readouterr().out
    data = json.loads(out[out.index("{"):])
    assert data["checks"]["footwear"]["status"] == "unknown" and data["overall"] != "pass" and code == 1
    assert data["checks"]["footwear"]["votes"]["unknown"] >= 5


def test_evidence_is_in_the_input_pixels_of_a_large_photo(photo, photo_pipeline):
    big = cv2.resize(photo, None, fx=3.0, fy=3.0, interpolation=cv2.INTER_LINEAR)  # 1650x2490: shrunk to judge
    small = photo_pipeline.run(photo).to_dict()
    large = photo_pipeline.run(big).to_dict()
    assert large["scale"] < 1
    poly_small = np.array(small["checks"]["cuffs"]["evidence"][0]["polygon"])
    poly_large = np.array(large["checks"]["cuffs"]["evidence"][0]["polygon"])
    assert np.allclose(poly_large, poly_small * 3.0, atol=0.05 * photo.shape[0] * 3)


@pytest.mark.parametrize("number", [837, 714])
def test_bare_feet_never_pass(shared_eval, photo_pipeline, number):
    """No public set in reach shows bare feet, so these are made from real sandal photos of ccp-public: the pixels
    CCP's mask calls footwear are painted out of the picture (thin straps leave a bare foot behind)."""
    from scipy.io import loadmat

    datasets = shared_eval.parent / "datasets" / "ccp"
    names = [str(x[0]) if len(x) else "" for x in loadmat(datasets / "label_list.mat")["label_list"][0]]
    footwear = [names.index(n) for n in ("shoes", "sneakers", "flats", "heels", "wedges", "sandals", "clogs")]
    image = cv2.imread(str(shared_eval / f"ccp-public/images/ccp_{number:04d}.jpg"))
    mask = np.isin(loadmat(datasets / f"annotations/pixel-level/{number:04d}.mat")["groundtruth"], footwear)
    bare = cv2.inpaint(image, cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)), 4, cv2.INPAINT_TELEA)
    for scale in (1.0, 0.4):  # as photographed, and as a cheap webcam with the person far back sees them
        frame = photo_pipeline.run(cv2.resize(bare, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
        assert frame.results["footwear"].status != Status.PASS, (scale, frame.results["footwear"].reason_en)
