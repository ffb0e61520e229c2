"""Factory helpers and fakes: build perceptions and pipelines without loading a real model."""
from __future__ import annotations

import os
import re
import struct
import threading
import time
import zlib
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from models.crops import attire_crops, foot_crops
from models.perception import POSE_NAMES, AttireFindings, Box, Keypoints, Perception
from models.regions import build_regions
from station.config import StationConfig
from station.framing import assess_framing
from station.pipeline import Models

W, H = 1280, 720

# A person 620 px tall facing the camera in a 1280x720 frame, centred at x=640. Facing the camera, the person's own
# left side is on the image's right (larger x).
_STANDING = {
    "nose": (640, 95), "left_eye_inner": (650, 85), "left_eye": (655, 85), "left_eye_outer": (660, 85),
    "right_eye_inner": (630, 85), "right_eye": (625, 85), "right_eye_outer": (620, 85),
    "left_ear": (672, 92), "right_ear": (608, 92), "mouth_left": (652, 110), "mouth_right": (628, 110),
    "left_shoulder": (710, 160), "right_shoulder": (570, 160), "left_elbow": (730, 260),
    "right_elbow": (550, 260), "left_wrist": (735, 350), "right_wrist": (545, 350),
    "left_pinky": (742, 375), "right_pinky": (538, 375), "left_index": (738, 380), "right_index": (542, 380),
    "left_thumb": (728, 370), "right_thumb": (552, 370), "left_hip": (685, 380), "right_hip": (595, 380),
    "left_knee": (690, 510), "right_knee": (590, 510), "left_ankle": (690, 640), "right_ankle": (590, 640),
    "left_heel": (688, 655), "right_heel": (592, 655), "left_foot_index": (705, 675),
    "right_foot_index": (575, 675),
}


def make_keypoints(overrides: dict[str, tuple[float, float]] | None = None, hidden: tuple[str, ...] = (),
                   size: tuple[int, int] = (W, H)) -> Keypoints:
    pts = dict(_STANDING, **(overrides or {}))
    xy = np.array([pts[n] for n in POSE_NAMES], dtype=np.float32)
    vis = np.array([0.05 if n in hidden else 0.98 for n in POSE_NAMES], dtype=np.float32)
    return Keypoints(xy, vis, size)


def make_perception(image: np.ndarray | None = None, keypoints: Keypoints | None = None, skin: np.ndarray | None = None,
                    person_mask: np.ndarray | None = None, faces: list[Box] | None = None,
                    detections: list[Box] | None = None, examined: tuple[str, ...] | None = None,
                    classified: dict[str, dict[str, float]] | None = None,
                    operating_points: dict[str, float] | None = None,
                    extra_tiles: dict[str, Box] | None = None) -> Perception:
    """A perception as the pipeline builds it; by default the attire detector examined every part in view."""
    image = np.full((H, W, 3), 90, np.uint8) if image is None else image
    h, w = image.shape[:2]
    kp = keypoints if keypoints is not None else make_keypoints(size=(w, h))
    faces = faces if faces is not None else [Box(615, 65, 665, 125, 0.9, "face")]
    return Perception(
        image=image, pose=kp,
        person_mask=np.ones((h, w), np.float32) if person_mask is None else person_mask,
        faces=faces, regions=build_regions(kp) if kp is not None else {},
        framing=assess_framing(kp, faces), skin=np.zeros((h, w), np.float32) if skin is None else skin,
        attire=AttireFindings(detections or [], {**(tiles_of(kp) if examined is None else
                                                    {part: Box(0, 0, 100, 100, label=part) for part in examined}),
                                                 **(extra_tiles or {})}, classified or {}, operating_points or {}))


def tiles_of(kp: Keypoints | None) -> dict[str, Box]:
    """The tiles the attire models look at for this pose, as the real detector reports them."""
    if kp is None:
        return {}
    return {c.part: c.box for c in attire_crops(kp) + foot_crops(kp)}


def make_frame(seed: int = 0, h: int = H, w: int = W) -> np.ndarray:
    """A camera frame for fake models: smooth colour (a real camera never sends flat grey), mid brightness."""
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.integers(40, 170, (9, 16, 3)).astype(np.uint8)  # below FakeSkin's red: no skin
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def paint(mask_like: np.ndarray, region, value: float) -> np.ndarray:
    """Fill a region's polygon in a float map (e.g. mark a forearm as bare skin)."""
    import cv2

    cv2.fillPoly(mask_like, [np.round(region.polygon).astype(np.int32)], float(value))
    return mask_like


class FakePose:
    def __init__(self, keypoints: Keypoints | None = None):
        self.keypoints = keypoints
        self.calls = 0

    def estimate(self, image):
        self.calls += 1
        if self.keypoints is None:
            return None
        h, w = image.shape[:2]
        return Keypoints(self.keypoints.xy, self.keypoints.visibility, (w, h))


class FakeSegmenter:
    """One standing person in the middle fifth of the frame (where the factories' keypoints put them)."""

    def __init__(self):
        self.windows = []  # the window of each call (None: the whole frame)

    def segment(self, image, window=None):
        self.windows.append(window)
        h, w = image.shape[:2]
        mask = np.zeros((h, w), np.float32)
        mask[int(0.05 * h): int(0.97 * h), int(0.40 * w): int(0.60 * w)] = 1.0
        if window is not None:
            x0, y0, x1, y1 = window
            return mask[y0:y1, x0:x1].copy()
        return mask


class FakeFaces:
    def __init__(self, boxes: list[Box] | None = None):
        self.boxes = boxes if boxes is not None else [Box(615, 65, 665, 125, 0.9, "face")]

    def detect(self, image):
        return list(self.boxes)


class FakeSkin:
    """Calls 'skin' every pixel whose red channel is above 180: tests paint skin in that colour."""

    def adapted_probability(self, image, reference_pixels=None):
        return (image[:, :, 2] > 180).astype(np.float32)


class FakeAttire:
    """Returns the boxes and classifications it was given, for every part the pose shows."""

    def __init__(self, boxes: list[Box] | None = None, classified: dict | None = None):
        self.boxes, self.classified = boxes or [], classified or {}

    def detect(self, image, pose, classifiers=None):
        return AttireFindings(list(self.boxes), tiles_of(pose), dict(self.classified) if pose is not None else {})


def fake_models(keypoints: Keypoints | None = None, faces: list[Box] | None = None,
                attire: FakeAttire | None = None) -> Models:
    return Models(FakePose(keypoints if keypoints is not None else make_keypoints()), FakeSegmenter(),
                  FakeFaces(faces), FakeSkin(), attire)


def config(**sections) -> StationConfig:
    return StationConfig(**sections)


# ------------------------------------------------------------ the log and the web app
T0 = datetime(2026, 11, 20, 7, 30, tzinfo=timezone.utc)


def verdict(overall, **statuses) -> dict:
    """A session verdict as the live station hands it to the log."""
    return {"overall": overall, "frames": 6, "checks": {
        c: {"status": s, "score": 0.9, "reason_zh": f"{c}原因", "reason_en": f"{c} reason"} for c, s in statuses.items()}}


def csrf(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def login(client, user="wang", password="correct horse"):
    return client.post("/login", data={"username": user, "password": password, "csrf_token": csrf(client, "/login")})


def png_header_only(path, width, height):
    """A PNG that claims a size without holding its pixels: enough to test a size gate without 1 GB of RAM."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
                     + chunk(b"IEND", b""))
    return path


def blank_png(width: int, height: int) -> bytes:
    """A valid, fully decodable grey PNG of any size that stays small (rows of zeros compress ~1000:1), made a row at
    a time: a 20000x20000 one is ~400 KB on the wire and 1.2 GB once decoded to BGR."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    z = zlib.compressobj(6)
    row = b"\x00" * (width + 1)  # the filter byte, then one byte a pixel
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


class FakeLive:
    """What the web app reads from and sends to the live station, without threads or models. `accepting`: whether a
    typed number is taken (False: a verdict is showing); `identified` lists the numbers taken."""

    def __init__(self, config: StationConfig | None = None):
        self.config = config or StationConfig()
        self.accepting, self.identified, self.errors = True, [], []

    def state(self) -> dict:
        return {"phase": "idle", "technician": None, "message_zh": "请扫描工号牌二维码或输入工号",
                "message_en": "Scan your badge's QR code or enter your number", "progress": 0.0, "verdict": None,
                "camera_zh": "", "camera_en": "", "frames_judged": 0, "alert_zh": "", "alert_en": ""}

    def identify(self, number: str, how: str = "typed") -> bool:
        if self.accepting:
            self.identified.append(number)
        return self.accepting

    def preview_jpeg(self):
        return None

    def last_result(self):
        return None


@contextmanager
def serving(app):
    """The app on waitress in a thread on a free port, as `station serve` runs it; yields the base URL."""
    from web.app import create_server

    server = create_server(app, "127.0.0.1", 0)
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.trigger.pull_trigger(server.close)  # closed from its own loop, which then ends
        loop.join(10)


def wait_for(predicate, seconds: float = 20.0) -> bool:
    """Poll `predicate` until it is true (True) or `seconds` have passed (False): for the live station's threads."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def shot(page, name):
    """A screenshot into $STATION_SCREENSHOTS (docs/ refreshes the README's pictures); nothing when it is unset."""
    folder = os.environ.get("STATION_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name))


def submit(page, selector):
    """Click a form's button or a link and wait until the next page has loaded. A plain click returns once the
    navigation has begun, so a row count taken straight after it can read a page with no rows yet."""
    with page.expect_navigation():
        page.click(selector)
