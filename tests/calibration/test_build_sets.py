"""`python -m calibration.build_sets`: the repository's labels put together with the shared photos."""
import csv

import cv2
import numpy as np
import pytest

from calibration.build_sets import main


def test_the_webcam_copy_of_the_rules_set_is_shrunk_as_the_shared_small_sets_are(shared_eval, tmp_path, capsys):
    pytest.importorskip("scipy")  # the dyed copies read CCP's hair masks
    assert main(["ccp-rules", str(tmp_path), "--scale", "0.4"]) == 0
    rows = list(csv.DictReader(open(tmp_path / "labels.csv")))
    dyed = [r for r in rows if "-dyed-" in r["image"]]
    assert dyed and all(r["hair_colour"] == "fail" for r in dyed)
    # ccp_0701 is in ccp-public too: the same photo, shrunk by the same recipe, is the same file's pixels
    ours = cv2.imread(str(tmp_path / "images/ccp_0701.jpg"))
    shared = cv2.imread(str(shared_eval / "ccp-public-small/images/ccp_0701.jpg"))
    assert ours.shape == shared.shape and np.abs(ours.astype(int) - shared.astype(int)).max() <= 2
    full = cv2.imread(str(shared_eval / "ccp-public/images/ccp_0701.jpg"))
    copy = cv2.imread(str(tmp_path / dyed[0]["image"]))
    assert copy.shape[0] == round(full.shape[0] * 0.4)
    with pytest.raises(SystemExit):
        main(["ccp-rules", str(tmp_path / "x"), "--scale", "4"])
    assert "--scale must be between" in capsys.readouterr().err
