"""`python -m calibration.webcam_sets`: an evaluation set as the station's 1280x720 webcam frames it."""
import csv

import cv2
import numpy as np

from calibration.webcam_sets import main, webcam_frame


def test_a_portrait_photo_stands_in_the_middle_of_a_720p_frame_over_its_own_edges():
    rng = np.random.default_rng(0)
    photo = np.zeros((830, 550, 3), np.uint8)
    photo[:, :40] = (40, 160, 40)  # green at the photo's sides: the background it is blended over
    photo[:, -40:] = (40, 160, 40)
    photo[100:800, 150:400] = rng.integers(0, 255, (700, 250, 3))  # the person
    frame = webcam_frame(photo)
    assert frame.shape == (720, 1280, 3)
    k = 0.8 * 720 / 830
    scaled = cv2.resize(photo, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    h, w = scaled.shape[:2]
    top, left = 720 - h - 20, (1280 - w) // 2
    inner = scaled[30:-30, 30:-30].astype(int)
    assert np.abs(frame[top + 30: top + h - 30, left + 30: left + w - 30].astype(int) - inner).max() <= 1
    corner = frame[:40, :40].reshape(-1, 3).mean(axis=0)
    assert corner[1] > 120 and corner[0] < 80  # the stretched green, not a grey border


def test_the_copy_keeps_labels_policy_and_frames_the_references(tmp_path, capsys):
    src = tmp_path / "set"
    (src / "images").mkdir(parents=True)
    (src / "reference/uniform").mkdir(parents=True)
    photo = np.full((400, 260, 3), 90, np.uint8)
    cv2.imwrite(str(src / "images/a.jpg"), photo)
    cv2.imwrite(str(src / "reference/uniform/r.png"), photo)
    (src / "labels.csv").write_text("image,badge\nimages/a.jpg,fail\n")
    (src / "dataset.toml").write_text('[badge]\nposition = "chest"\n')
    assert main([str(src), str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    assert list(csv.DictReader(open(out / "labels.csv"))) == [{"image": "images/a.jpg", "badge": "fail"}]
    assert (out / "dataset.toml").read_text() == (src / "dataset.toml").read_text()
    for name in ("images/a.jpg", "reference/uniform/r.png"):
        assert cv2.imread(str(out / name)).shape == (720, 1280, 3)
    assert main([str(tmp_path / "nothing"), str(tmp_path / "o2")]) == 2
    assert "no labels.csv" in capsys.readouterr().err
