"""The station's installed model versions: bundles, the active version, install and rollback.

A **bundle** is one zip file: `bundle.json` (what is in it, where it came from, the sha256 of every file) and one
folder per model it replaces (`footwear/footwear.json` + `footwear/footwear.onnx`, ...). It may be trained on this
PC or elsewhere (`station train site` on a machine with torch) and carried over on a USB stick; opening it checks
every file against its sha256 and every model against its own manifest, so a damaged or altered bundle is refused
with the file's name.

Installed versions live under `[learn] models_dir` (var/models): `versions/0003-site-.../` holds the bundle's files,
its `bundle.json` and the evaluation that let it in; `active.json` names the active version and the ones before it.
A version installs only the models its bundle carries; the others stay those of the version it was installed over
("shipped": the models in the package). Nothing is ever deleted, so a rollback is a change of `active.json`, which is
written atomically: the running station sees the new version on its next look and switches without a restart.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shutil
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from models.detector import MODELS_DIR, Manifest, ModelFileError, sha256_file

MODEL_NAMES = ("attire", "footwear", "cuffs", "front", "legwear", "jewellery", "beard")  # models/<name>/<name>.json
SHIPPED = "shipped"
BUNDLE_FORMAT = 1
MAX_BUNDLE_FILE = 512 << 20  # bytes: more than any model of this station, less than a disk
BUNDLE_FILE = re.compile(r"(?P<model>[a-z]+)/(?P=model)\.(json|onnx)")


class BundleError(ValueError):
    """A bundle that cannot be installed: unreadable, altered, or not a bundle of this station's models."""


def shipped_manifest(name: str) -> Path:
    return MODELS_DIR / name / f"{name}.json"


def pack_bundle(out: Path, manifests: dict[str, Path], name: str, **meta) -> Path:
    """One file holding the given models (name -> its manifest, the .onnx beside it) and `meta` (what it was
    trained on, its validation scores), each file listed with its sha256."""
    unknown = set(manifests) - set(MODEL_NAMES)
    if unknown or not manifests:
        raise BundleError(f"a bundle holds some of {MODEL_NAMES}, got {sorted(manifests)}")
    contents: dict[str, bytes] = {}
    for model, manifest_path in manifests.items():
        manifest = Manifest.load(manifest_path)
        manifest.verify()
        # inside a bundle a model's file is always <model>.onnx, whatever its manifest called it
        m = {**json.loads(manifest_path.read_text()), "file": f"{model}.onnx"}
        contents[f"{model}/{model}.json"] = json.dumps(m, indent=2, ensure_ascii=False).encode()
        contents[f"{model}/{model}.onnx"] = manifest.path.read_bytes()
    info = {"format": BUNDLE_FORMAT, "name": name, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "models": sorted(manifests), "files": {k: hashlib.sha256(v).hexdigest() for k, v in contents.items()},
            **meta}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("bundle.json", json.dumps(info, indent=2, ensure_ascii=False))
        for arc, data in contents.items():
            z.writestr(arc, data)
    tmp.replace(out)
    return out


@dataclass(frozen=True)
class Bundle:
    path: Path
    info: dict  # bundle.json

    @property
    def name(self) -> str:
        return str(self.info.get("name", self.path.stem))

    @property
    def models(self) -> list[str]:
        return list(self.info["models"])

    @classmethod
    def open(cls, path: str | Path) -> Bundle:
        """Read and check a bundle: its listing, every file's sha256, nothing else in it, sizes within reason."""
        path = Path(path)
        if not path.is_file():
            raise BundleError(f"{path}: no such bundle file")
        try:
            with zipfile.ZipFile(path) as z:
                try:
                    info = json.loads(z.read("bundle.json"))
                except KeyError:
                    raise BundleError(f"{path}: not a model bundle (no bundle.json)") from None
                if not isinstance(info, dict) or info.get("format") != BUNDLE_FORMAT:
                    raise BundleError(f"{path}: bundle format {info.get('format') if isinstance(info, dict) else '?'}"
                                      f", this station reads format {BUNDLE_FORMAT}")
                files, models = info.get("files"), info.get("models")
                if not isinstance(files, dict) or not isinstance(models, list) or not models:
                    raise BundleError(f"{path}: bundle.json lists no models")
                for model in models:
                    if model not in MODEL_NAMES:
                        raise BundleError(f"{path}: unknown model {model!r} (this station has {MODEL_NAMES})")
                    for ext in ("json", "onnx"):
                        if f"{model}/{model}.{ext}" not in files:
                            raise BundleError(f"{path}: {model}/{model}.{ext} is not listed")
                names = {i.filename for i in z.infolist() if not i.is_dir()} - {"bundle.json"}
                if names != set(files):
                    extra, missing = sorted(names - set(files)), sorted(set(files) - names)
                    raise BundleError(f"{path}: files not as listed (unlisted {extra}, missing {missing})")
                for arc, digest in files.items():
                    if not BUNDLE_FILE.fullmatch(arc) or arc.split("/")[0] not in models:
                        raise BundleError(f"{path}: {arc!r} is not a model file of this bundle")
                    if z.getinfo(arc).file_size > MAX_BUNDLE_FILE:
                        raise BundleError(f"{path}: {arc} is larger than any model ({z.getinfo(arc).file_size} B)")
                    h = hashlib.sha256(z.read(arc)).hexdigest()
                    if h != digest:
                        raise BundleError(f"{path}: {arc} does not match its sha256 in bundle.json "
                                          "(damaged or altered)")
        except zipfile.BadZipFile as exc:
            raise BundleError(f"{path}: not a zip file ({exc})") from None
        return cls(path, info)

    def extract(self, dest: Path) -> dict[str, Path]:
        """The bundle's model files under `dest/<model>/`, each model checked against its manifest; the manifests."""
        with zipfile.ZipFile(self.path) as z:
            for arc in self.info["files"]:
                target = dest / arc
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(z.read(arc))
        manifests = {}
        for model in self.models:
            manifests[model] = dest / model / f"{model}.json"
            try:
                Manifest.load(manifests[model]).verify()
            except ModelFileError as exc:
                raise BundleError(f"{self.path}: {exc}") from None
        return manifests


class ModelStore:
    """The versions installed under one folder, and which one is active."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # ------------------------------------------------------------ reading
    def state(self) -> dict:
        """{"active": id, "history": [ids activated before it, oldest first]}."""
        path = self.root / "active.json"
        if not path.is_file():
            return {"active": SHIPPED, "history": []}
        try:
            state = json.loads(path.read_text())
            if not isinstance(state.get("active"), str) or not isinstance(state.get("history"), list):
                raise ValueError("active.json needs 'active' and 'history'")
        except ValueError as exc:
            raise ModelFileError(f"{path} is unreadable: {exc}") from None
        return state

    def active(self) -> str:
        return self.state()["active"]

    def version(self, version_id: str) -> dict:
        """A version's record (version.json): its bundle's info, its models, its evaluation, when it was installed."""
        if version_id == SHIPPED:
            return {"id": SHIPPED, "models": {}, "installed_at": None, "bundle": {"name": "shipped with the station"}}
        path = self.root / "versions" / version_id / "version.json"
        if not path.is_file():
            raise ModelFileError(f"model version {version_id!r} not found under {self.root / 'versions'}")
        return json.loads(path.read_text())

    def versions(self) -> list[dict]:
        folder = self.root / "versions"
        found = sorted(p.name for p in folder.iterdir() if (p / "version.json").is_file()) if folder.is_dir() else []
        return [self.version(SHIPPED)] + [self.version(v) for v in found]

    def manifests(self, version_id: str | None = None) -> dict[str, Path]:
        """Each model's manifest in a version (default: the active one): its own where it installed one, else the
        one of the version it was installed over, down to the shipped models."""
        own = self.version(version_id or self.active())["models"]
        return {name: (self.root / own[name]) if name in own else shipped_manifest(name) for name in MODEL_NAMES}

    def candidates(self) -> list[dict]:
        """Bundles evaluated here (`station models evaluate`), newest first: the bundle's file and info, and the
        comparison with the models installed then."""
        folder = self.root / "candidates"
        found = [json.loads(p.read_text()) for p in folder.glob("*.json")] if folder.is_dir() else []
        return sorted(found, key=lambda c: c.get("evaluated_at", ""), reverse=True)

    # ------------------------------------------------------------ changing
    def note_candidate(self, bundle: Bundle, report: dict) -> None:
        """Keep a candidate's evaluation (for the admin page), one file per bundle content."""
        from station.store import write_atomically

        digest = sha256_file(bundle.path)
        note = {"evaluated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "sha256": digest,
                "file": str(bundle.path.resolve()), "info": bundle.info, "report": report}
        write_atomically(self.root / "candidates" / f"{digest[:16]}.json",
                         json.dumps(note, indent=2, ensure_ascii=False).encode())

    @contextmanager
    def _locked(self):
        """One install or rollback at a time (a second one waits), across processes."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def install(self, bundle: Bundle, evaluation: dict | None = None) -> str:
        """Copy the bundle's models in as a new version over the active one and make it active; the evaluation that
        let it in is kept with it. Returns the new version's id."""
        from station.store import write_atomically

        with self._locked():
            state = self.state()
            below = self.version(state["active"])
            folder = self.root / "versions"
            number = 1 + max([int(p.name[:4]) for p in folder.iterdir() if p.name[:4].isdigit()], default=0) \
                if folder.is_dir() else 1
            slug = re.sub(r"[^a-z0-9]+", "-", bundle.name.lower()).strip("-")[:40] or "bundle"
            version_id = f"{number:04d}-{slug}"
            staging = folder / f".{version_id}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            try:
                bundle.extract(staging)
                models = dict(below["models"])
                for model in bundle.models:
                    models[model] = f"versions/{version_id}/{model}/{model}.json"
                record = {"id": version_id, "installed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                          "installed_over": state["active"], "models": models, "bundle": bundle.info,
                          "bundle_sha256": sha256_file(bundle.path), "evaluation": evaluation}
                (staging / "version.json").write_text(json.dumps(record, indent=2, ensure_ascii=False))
                staging.rename(folder / version_id)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            write_atomically(self.root / "active.json", json.dumps(
                {"active": version_id, "history": state["history"] + [state["active"]]}, indent=2).encode())
            return version_id

    def rollback(self) -> str:
        """Back to the version that was active before this one; returns its id."""
        from station.store import write_atomically

        with self._locked():
            state = self.state()
            if not state["history"]:
                raise ModelFileError(f"nothing to roll back to: {state['active']} is the first version here")
            previous = state["history"][-1]
            self.version(previous)  # still there (versions are never deleted, but a person may have)
            write_atomically(self.root / "active.json", json.dumps(
                {"active": previous, "history": state["history"][:-1]}, indent=2).encode())
            return previous


__all__ = ["Bundle", "BundleError", "ModelStore", "MODEL_NAMES", "SHIPPED", "pack_bundle", "shipped_manifest"]
