"""Station and policy config: TOML validated by pydantic, one model per section, unknown keys rejected.

A typo (`[accesories]`, `max_piece = 3`) is an error naming the key, never a silently ignored setting.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CameraConfig(Section):
    mirrored: bool = False  # true when the frames are flipped like a selfie preview (left/right swapped)
    device: int | str = 0
    width: int = Field(1280, ge=160, le=7680)
    height: int = Field(720, ge=120, le=4320)
    fps: int = Field(30, ge=1, le=120)


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


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


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
    data.pop("base_dir", None)  # not a TOML key: always the config file's own folder
    try:
        return StationConfig(**data, base_dir=base_dir)
    except ValidationError as exc:
        raise ConfigError(_format_errors(" + ".join(sources) or "config", exc)) from None
