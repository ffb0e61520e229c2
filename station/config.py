"""Station and policy config: TOML validated by pydantic, one model per section, unknown keys rejected.

A typo (`[accesories]`, `max_piece = 3`) is an error naming the key, never a silently ignored setting.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# what OpenCV may open as a camera: never a file (it would read any video or image the station can reach)
CAMERA_DEVICE = re.compile(r"/dev/video\d+|/dev/v4l/by-(id|path)/[^/]+|rtsps?://\S+")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CameraConfig(Section):
    mirrored: bool = False  # true when the frames are flipped like a selfie preview (left/right swapped)
    device: int | str = 0  # an index, a /dev/video* (or /dev/v4l/by-id/...) device, or an rtsp:// camera
    width: int = Field(1280, ge=160, le=7680)
    height: int = Field(720, ge=120, le=4320)
    fps: int = Field(30, ge=1, le=120)

    @field_validator("device")
    @classmethod
    def _a_camera(cls, device: int | str) -> int | str:
        if isinstance(device, int) and device >= 0 or isinstance(device, str) and CAMERA_DEVICE.fullmatch(device):
            return device
        raise ValueError("a camera is an index (0, 1, ...), a /dev/video* device or an rtsp:// address, "
                         f"got {device!r}")


class FramingConfig(Section):
    min_visibility: float = Field(0.5, ge=0.0, le=1.0)
    min_facing_ratio: float = Field(0.45, ge=0.0, le=2.0)  # shoulder width / torso height below this = turned away


class CheckSection(Section):
    enabled: bool = True


class UniformConfig(CheckSection):
    prototypes: str = "calibration/uniform.json"  # written by `station enroll-uniform`; relative to the config file
    max_distance: float | None = Field(None, gt=0)  # None: the threshold learned at enrolment
    long_sleeves: bool = True  # the uniform has long sleeves: bare forearms mean rolled cuffs
    long_trousers: bool = True


class BadgeConfig(CheckSection):
    position: Literal["left_chest", "chest"] = "left_chest"
    min_score: float = Field(0.35, ge=0.0, le=1.0)  # detector confidence that counts as a badge


class FootwearConfig(CheckSection):
    max_skin_fraction: float = Field(0.35, ge=0.0, le=1.0)  # share of the toe region that may look like bare skin
    min_score: float = Field(0.3, ge=0.0, le=1.0)  # detector confidence that counts as a shoe (evidence boxes)
    open_threshold: float = Field(0.5, ge=0.0, le=1.0)  # classifier P(open footwear) from which the check fails


class CuffsConfig(CheckSection):
    max_skin_fraction: float = Field(0.35, ge=0.0, le=1.0)


class AccessoriesConfig(CheckSection):
    max_pieces: int = Field(3, ge=0, le=20)
    pair_counts_as_one: bool = True  # two earrings are one piece of jewellery
    min_score: float = Field(0.35, ge=0.0, le=1.0)  # detector confidence that counts as a piece


class DetectorConfig(Section):
    """The attire detector (badge, footwear, jewellery) on onnxruntime."""

    model: str = ""  # a manifest (attire.json) beside its .onnx; empty: the model shipped in models/attire/
    torso_model: str = ""  # the torso tile's detector (tuned for badges); empty: models/attire/torso.json
    footwear_model: str = ""  # the footwear classifier's manifest; empty: models/footwear/footwear.json
    conf: float = Field(0.25, ge=0.01, le=1.0)  # boxes below this are dropped before the checks see them
    threads: int = Field(2, ge=1, le=64)


class IdentifyConfig(Section):
    """How technicians are identified at the kiosk (a typed number always works too)."""

    code: Literal["qr", "aruco"] = "qr"  # the code printed on the badge
    roster: str = ""  # CSV number,name[,marker]: names on screen, numbers to pick, ArUco ids; relative to this file


class LogConfig(Section):
    """The appearance log: where records and evidence photos go, and for how long the photos stay."""

    database: str = "var/station.db"  # an SQLite file, or an SQLAlchemy URL (postgresql+psycopg://...)
    evidence_dir: str = "var/evidence"
    retention_days: int = Field(90, ge=1, le=3650)  # evidence photos older than this are purged; records stay
    blur_faces: bool = False  # pixelate faces in stored evidence
    station_name: str = ""


class StationConfig(Section):
    camera: CameraConfig = CameraConfig()
    framing: FramingConfig = FramingConfig()
    detector: DetectorConfig = DetectorConfig()
    identify: IdentifyConfig = IdentifyConfig()
    log: LogConfig = LogConfig()
    uniform: UniformConfig = UniformConfig()
    badge: BadgeConfig = BadgeConfig()
    footwear: FootwearConfig = FootwearConfig()
    cuffs: CuffsConfig = CuffsConfig()
    accessories: AccessoriesConfig = AccessoriesConfig()
    # where relative paths in this config are resolved (the config file's folder); not a TOML key
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    def resolve(self, path: str | Path) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the key."""


def _format_errors(source: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(x) for x in err["loc"])
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown key '{key}'")
        else:
            parts.append(f"'{key}': {err['msg']}")
    return f"{source}: " + "; ".join(parts)


def _deep_merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for k, v in override.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config ({exc})") from None
    return parse_toml(text, str(path))


def load_config(path: str | Path | None = None, overrides: list[Path] | None = None) -> StationConfig:
    """The station config from `path` (defaults for a missing path), with each override file merged on top."""
    data: dict[str, Any] = {}
    base_dir = Path.cwd()
    sources = []
    if path is not None:
        path = Path(path)
        data = read_toml(path)
        base_dir = path.resolve().parent
        sources.append(str(path))
    for extra in overrides or []:
        data = _deep_merge(data, read_toml(extra))
        sources.append(str(extra))
    return _validate(data, base_dir, " + ".join(sources) or "config")


def _validate(data: dict[str, Any], base_dir: Path, source: str) -> StationConfig:
    data.pop("base_dir", None)  # not a TOML key: always the config file's own folder
    try:
        return StationConfig(**data, base_dir=base_dir)
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc)) from None


def parse_policy(text: str, path: Path) -> StationConfig:
    """A policy edited as text (the calibration page) for the file `path`, checked before anything is written: the
    schema, then what the schema cannot see. Every file it names must exist and load (detector models, roster,
    enrolment), and every path the station writes (enrolment, evidence, SQLite database) must stay inside the
    station's folder, the policy file's own, so an edited policy cannot make the station write elsewhere. (The
    command line trusts its operator and checks the schema only.)"""
    config = _validate(parse_toml(text, str(path)), path.resolve().parent, str(path))
    from sqlalchemy.engine import make_url

    from checks.uniform import UniformPrototypes
    from models.detector import Manifest, ModelFileError
    from station.identify import Roster, RosterError

    problems = []
    home = config.base_dir.resolve()
    database = config.log.database
    if "://" in database:
        url = make_url(database)
        database = url.database if url.get_backend_name() == "sqlite" and url.database not in (None, ":memory:") \
            else None
    written = {"uniform.prototypes": config.uniform.prototypes, "log.evidence_dir": config.log.evidence_dir,
               "log.database": database}
    for key, value in written.items():
        if value is not None and not config.resolve(value).resolve().is_relative_to(home):
            problems.append(f"'{key}': {value!r} is outside the station's folder {home}")
    for key in ("model", "torso_model", "footwear_model"):
        if name := getattr(config.detector, key):
            try:
                Manifest.load(config.resolve(name)).verify()
            except ModelFileError as exc:
                problems.append(f"'detector.{key}': {exc}")
    if config.identify.roster:
        try:
            Roster.from_csv(config.resolve(config.identify.roster))
        except RosterError as exc:
            problems.append(f"'identify.roster': {exc}")
    prototypes = config.resolve(config.uniform.prototypes)
    if prototypes.exists():  # absent: not enrolled yet, which the uniform rule says itself
        try:
            UniformPrototypes.load(prototypes)
        except (OSError, ValueError) as exc:
            problems.append(f"'uniform.prototypes': {exc}")
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return config
