"""Station and policy config: TOML validated by pydantic, one model per section, unknown keys rejected.

A typo (`[accesories]`, `max_piece = 3`) is an error naming the key, never a silently ignored setting. Each rule's
section (`[badge]`, `[footwear]`, ...) is defined in the rule's own module in `checks/` and added here by the
registry.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, create_model, field_validator, model_validator

from checks.base import Section
from checks.registry import REGISTRY

# what OpenCV may open as a camera: never a file (it would read any video or image the station can reach)
CAMERA_DEVICE = re.compile(r"/dev/video\d+|/dev/v4l/by-(id|path)/[^/]+|rtsps?://\S+")


class CameraConfig(Section):
    """The webcam (`station serve`, `station run --source webcam`)."""

    mirrored: bool = Field(False, description="true when the frames are flipped like a selfie preview (left and "
                                              "right swapped)")
    device: int | str = Field(0, description="the camera: an index (0 = the first camera), a /dev/video* device or "
                                             "an rtsp:// address")
    width: int = Field(1280, ge=160, le=7680, description="frame width asked of the camera, pixels")
    height: int = Field(720, ge=120, le=4320, description="frame height asked of the camera, pixels")
    fps: int = Field(30, ge=1, le=120, description="frames per second asked of the camera")

    @field_validator("device")
    @classmethod
    def _a_camera(cls, device: int | str) -> int | str:
        if isinstance(device, int) and device >= 0 or isinstance(device, str) and CAMERA_DEVICE.fullmatch(device):
            return device
        raise ValueError("a camera is an index (0, 1, ...), a /dev/video* device or an rtsp:// address, "
                         f"got {device!r}")


class FramingConfig(Section):
    """When a person stands where every rule can see them (`station.framing`)."""

    min_visibility: float = Field(0.5, ge=0.0, le=1.0, description="pose confidence from which a body point counts "
                                                                   "as seen")
    min_facing_ratio: float = Field(0.45, ge=0.0, le=2.0, description="shoulder width / torso height below this: "
                                                                      "turned away from the camera")
    max_body_speed: float = Field(0.75, gt=0.0, le=100.0, description="a live frame is judged only where the body "
                                  "(torso, each foot) moved slower than this many shoulder widths a second "
                                  "over the last 0.15 s: at a webcam's 1/30 s exposure, 0.025 shoulder widths of "
                                  "motion blur, from which open shoes and jewellery start to be missed")


class VerdictConfig(Section):
    """How the frames of one check-in become one verdict per rule (`station.pipeline.aggregate`)."""

    frames: int = Field(6, ge=1, le=60, description="good frames collected per check-in (and by `station run`)")
    min_judged_frames: int = Field(3, ge=1, le=60, description="frames that must have judged a rule (pass or "
                                                                "fail) before it is decided; fewer: unknown")
    fail_weight: float = Field(2.0, ge=1.0, le=10.0, description="a failing frame's confidence counts this many "
                                                                 "times a passing frame's")

    @model_validator(mode="after")
    def _judged_within_frames(self) -> "VerdictConfig":
        if self.min_judged_frames > self.frames:
            raise ValueError(f"min_judged_frames ({self.min_judged_frames}) cannot exceed frames ({self.frames})")
        return self


class DetectorConfig(Section):
    """The attire models on onnxruntime: the detector (badge, jewellery, eyewear) and the tile classifiers."""

    model: str = Field("", description="the detector's manifest (attire.json, beside its .onnx); empty: "
                                       "the active installed version's (`station models`), at first "
                                       "models/attire/attire.json")
    torso_model: str = Field("", description="a second detector for the torso tile only (a manifest); empty: the "
                                             "detector above looks at the torso too")
    footwear_model: str = Field("", description="the footwear classifier's manifest; empty: the active "
                                                "installed version's, at first models/footwear/footwear.json")
    cuffs_model: str = Field("", description="the cuffs classifier's manifest; empty: the active installed "
                                             "version's, at first models/cuffs/cuffs.json; "
                                             "\"none\": the share of skin decides")
    front_model: str = Field("", description="the open-front classifier's manifest; empty: the active "
                                             "installed version's, at first models/front/front.json; "
                                             "\"none\": the colour of the front's strips decides")
    legwear_model: str = Field("", description="the trousers classifier's manifest; empty: the active "
                                               "installed version's, at first models/legwear/legwear.json; "
                                               "\"none\": skin on the legs decides")
    jewellery_model: str = Field("", description="the jewellery classifier's manifest (each wrist and the neck); "
                                                 "empty: the active installed version's, at first "
                                                 "models/jewellery/jewellery.json; \"none\": the detector alone "
                                                 "counts watches, bracelets and necklaces")
    beard_model: str = Field("", description="the beard classifier's manifest (the lower face); empty: the active "
                                             "installed version's, at first models/beard/beard.json; \"none\": "
                                             "the beard rule cannot judge (unknown)")

    @staticmethod
    def key_of(model: str) -> str:
        """The key that names a learned model's manifest here (attire -> model, footwear -> footwear_model)."""
        return "model" if model == "attire" else f"{model}_model"

    conf: float = Field(0.1, ge=0.01, le=1.0, description="detector boxes below this confidence are dropped; each "
                                                          "rule then applies its own operating point")
    threads: int = Field(2, ge=1, le=64, description="CPU threads for the learned models: each runs on one, "
                                                     "this many side by side")


class IdentifyConfig(Section):
    """How technicians are identified at the kiosk (a typed number always works too)."""

    code: Literal["qr", "aruco"] = Field("qr", description="the code printed on the badge: qr (the technician "
                                                           "number) or aruco (a marker id looked up in the roster)")
    roster: str = Field("", description="CSV number,name[,marker]: names on screen, numbers to pick, ArUco ids; "
                                        "relative to this file")


class LogConfig(Section):
    """The appearance log: where records and evidence photos go, and for how long the photos stay."""

    database: str = Field("var/station.db", description="an SQLite file, or an SQLAlchemy URL "
                                                        "(postgresql+psycopg://...)")
    evidence_dir: str = Field("var/evidence", description="where evidence photos are written")
    retention_days: int = Field(90, ge=1, le=3650, description="evidence photos older than this are deleted; the "
                                                               "records stay")
    blur_faces: bool = Field(False, description="pixelate faces in stored evidence photos")
    station_name: str = Field("", description="this station's name in a log shared by several stations")
    timezone: str = Field("", description="the time zone the review pages show times and days in (an IANA name "
                                          "such as Asia/Shanghai); empty: the machine's own")
    keep_frames: bool = Field(True, description="keep the judged camera frame, without drawings, beside the evidence "
                                                "photo: what `station learn export` cuts training tiles from (faces "
                                                "pixelated as well when blur_faces; purged with the evidence)")

    @field_validator("timezone")
    @classmethod
    def _a_zone(cls, name: str) -> str:
        if name:
            zone_info(name)
        return name

    def zone(self):
        """The review pages' time zone (this key, else the machine's)."""
        return zone_info(self.timezone or machine_timezone())


def machine_timezone() -> str:
    """The machine's own time zone as an IANA name ($TZ, /etc/timezone or /etc/localtime's link), else "UTC"."""
    import os

    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        try:
            name = Path("/etc/timezone").read_text().strip()
        except OSError:
            link = Path("/etc/localtime")
            name = str(link.resolve()).split("zoneinfo/", 1)[-1] if link.is_symlink() else ""
    try:
        zone_info(name)
        return name
    except ValueError:
        return "UTC"


def zone_info(name: str):
    """A ZoneInfo for an IANA name; ValueError for an unknown one."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not name or name.startswith(("/", ".")) or ".." in name:
        raise ValueError(f"not a time zone: {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"not a time zone: {name!r} (an IANA name such as Asia/Shanghai)") from None


class LearnConfig(Section):
    """Learning this site from reviewed check-ins: the installed model versions and the gate a new one must pass."""

    models_dir: str = Field("var/models", description="installed model versions and the active one (`station "
                                                      "models`); relative to this file")
    tolerance: float = Field(0.02, ge=0.0, le=0.5, description="a candidate is refused when any rule's accuracy or "
                                                               "fail recall is lower than the installed models' by "
                                                               "more than this, on the held-out reviewed check-ins "
                                                               "or on any eval set")
    eval_sets: list[str] = Field(default_factory=list, description="labelled sets (shared/eval/FORMAT.md) scored "
                                                                   "beside the held-out check-ins before an install")


class StationSections(Section):
    """The station's own sections; `StationConfig` adds one section per rule, each from its rule module."""

    camera: CameraConfig = CameraConfig()
    framing: FramingConfig = FramingConfig()
    verdict: VerdictConfig = VerdictConfig()
    detector: DetectorConfig = DetectorConfig()
    identify: IdentifyConfig = IdentifyConfig()
    log: LogConfig = LogConfig()
    learn: LearnConfig = LearnConfig()
    # where relative paths in this config are resolved (the config file's folder); not a TOML key
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    def resolve(self, path: str | Path) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p


StationConfig = create_model(
    "StationConfig", __base__=StationSections, __doc__="The whole config: the station's sections and one per rule.",
    **{rule_id: (rule.Policy, Field(default_factory=rule.Policy)) for rule_id, rule in REGISTRY.items()})


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


def with_overrides(config: StationConfig, overrides: list[Path]) -> StationConfig:
    """`config` with each override file merged on top, as `load_config` merges them on a file."""
    if not overrides:
        return config
    data = config.model_dump()
    for extra in overrides:
        data = _deep_merge(data, read_toml(extra))
    return _validate(data, config.base_dir, " + ".join(["config", *map(str, overrides)]))


def _validate(data: dict[str, Any], base_dir: Path, source: str) -> StationConfig:
    data.pop("base_dir", None)  # not a TOML key: always the config file's own folder
    try:
        return StationConfig(**data, base_dir=base_dir)
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc)) from None


def policy_reference() -> list[dict[str, str]]:
    """Every key of the config with its default and meaning, section by section (the calibration page lists them
    beside the policy editor)."""
    rows = []
    for section, field in StationConfig.model_fields.items():
        if field.exclude:
            continue
        model = field.annotation
        rule = REGISTRY.get(section)
        meaning = f"{rule.title_zh} / {rule.title_en}" if rule is not None else (model.__doc__ or "").strip()
        rows.append({"section": section, "key": "", "default": "", "meaning": meaning})
        for key, f in model.model_fields.items():
            default = f.get_default(call_default_factory=True)
            rows.append({"section": section, "key": key,
                         "default": "" if default is None else str(default).lower() if isinstance(default, bool)
                         else str(default), "meaning": f.description or ""})
    return rows



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
    from station.model_versions import MODEL_NAMES

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
    for key in ("torso_model", *map(DetectorConfig.key_of, MODEL_NAMES)):
        if (name := getattr(config.detector, key)) and name != "none":
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
