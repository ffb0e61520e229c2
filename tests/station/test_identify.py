"""Badge codes made by OpenCV itself (a real QR code and a real ArUco marker), read back from a frame; the roster."""
import cv2
import numpy as np
import pytest

from station.identify import BadgeReader, Roster, RosterError


def place(code: np.ndarray, scale: int = 6) -> np.ndarray:
    big = cv2.resize(code, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    frame = np.full((720, 1280, 3), 160, np.uint8)
    h, w = big.shape[:2]
    frame[300:300 + h, 600:600 + w] = cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)
    return frame


def test_qr_code_on_the_badge_gives_the_number():
    qr = cv2.QRCodeEncoder.create().encode("T1024")
    qr = cv2.copyMakeBorder(qr, 4, 4, 4, 4, cv2.BORDER_CONSTANT, value=255)  # the quiet zone
    assert BadgeReader("qr").read(place(qr)) == "T1024"
    assert BadgeReader("qr").read(np.full((720, 1280, 3), 160, np.uint8)) is None


def test_aruco_marker_is_looked_up_in_the_roster(tmp_path):
    (tmp_path / "roster.csv").write_text("number,name,marker\nT1024,王师傅,17\nT2048,李师傅,\n", encoding="utf-8")
    roster = Roster.from_csv(tmp_path / "roster.csv")
    marker = cv2.aruco.generateImageMarker(cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_1000), 17, 60)
    marker = cv2.copyMakeBorder(marker, 10, 10, 10, 10, cv2.BORDER_CONSTANT, value=255)
    assert BadgeReader("aruco", roster).read(place(marker, 2)) == "T1024"
    assert roster.find("T2048").name == "李师傅" and roster.find("nobody") is None


@pytest.mark.parametrize("text, message", [
    ("id,name\n1,a\n", "header"),
    ("number,name\nT1,\n", ":2: number and name"),
    ("number,name\nT1,a\nT1,b\n", "appears twice"),
    ("number,name,marker\nT1,a,x\n", "marker must be"),
])
def test_bad_rosters_name_the_problem(tmp_path, text, message):
    (tmp_path / "r.csv").write_text(text)
    with pytest.raises(RosterError, match=message):
        Roster.from_csv(tmp_path / "r.csv")
