"""The station learning its own site: reviewed check-ins -> a site dataset; a candidate model bundle -> its scores
beside the installed models' on the held-out reviewed check-ins and the eval sets -> the gate that lets it in.

Only a supervisor's review is a label: a rule marked correct confirms the machine's result, a rule marked wrong
gives the truth. Records nobody reviewed are never exported. The split is by technician and day, so that no
technician's day is both trained on and used to measure.
"""
from __future__ import annotations

import csv
import hashlib
import json
import tempfile
from pathlib import Path

from checks.registry import REGISTRY
from station.config import StationConfig
from station.model_versions import Bundle, ModelStore

METRICS = ("accuracy", "fail_recall")
SITE_SET = "site held-out"


def with_models(config: StationConfig, manifests: dict[str, Path]) -> StationConfig:
    """`config` with the given models (name -> manifest) in place of the installed ones."""
    detector = config.detector.model_copy(update={config.detector.key_of(n): str(p) for n, p in manifests.items()})
    return config.model_copy(update={"detector": detector})


def rules_of(models: list[str]) -> list[str]:
    """The rules that read any of these models."""
    return [rule for rule, check in REGISTRY.items() if set(check.models) & set(models)]


def pinned(config: StationConfig, models: list[str]) -> list[str]:
    """Config keys that name a file for one of these models: an installed version would not replace it."""
    keys = [config.detector.key_of(name) for name in models]
    return [f"detector.{key}" for key in keys if getattr(config.detector, key)]


def score_sets(config: StationConfig, sets: dict[str, Path], progress=None) -> dict[str, dict]:
    """Each labelled set (FORMAT.md) scored with `config`'s models: set -> rule -> n, accuracy, fail recall..."""
    from calibration.evaluate import evaluate

    out = {}
    for label, folder in sets.items():
        report = evaluate(folder, config=config, progress=progress)
        out[label] = {rule: {k: v for k, v in s.items() if k not in ("by_size_px", "fail_recall_by_part")}
                      for rule, s in report["checks"].items()}
    return out


def evaluation_sets(config: StationConfig, site: Path | None, extra: list[Path] = ()) -> dict[str, Path]:
    """The held-out reviewed check-ins of a site export, the config's [learn] eval_sets and any others given."""
    sets = {}
    if site is not None:
        held_out = Path(site) / "val"
        if not (held_out / "labels.csv").is_file():
            raise FileNotFoundError(f"{site}: no held-out check-ins (val/labels.csv); is it a `station learn export` "
                                    "folder?")
        sets[SITE_SET] = held_out
    for folder in [*map(config.resolve, config.learn.eval_sets), *map(Path, extra)]:
        sets[Path(folder).name] = Path(folder)
    return sets


def compare(config: StationConfig, bundle: Bundle, sets: dict[str, Path], progress=None) -> dict:
    """The candidate bundle and the installed models, each scored on every set, and the gate's verdict."""
    installed = ModelStore(config.resolve(config.learn.models_dir))
    with tempfile.TemporaryDirectory(prefix="station-candidate-") as tmp:
        candidate = with_models(config, bundle.extract(Path(tmp)))
        report = {"bundle": bundle.name, "bundle_file": str(bundle.path), "models": bundle.models,
                  "rules": rules_of(bundle.models), "tolerance": config.learn.tolerance,
                  "installed": {"version": installed.active(), "scores": score_sets(config, sets, progress)},
                  "candidate": {"version": bundle.name, "scores": score_sets(candidate, sets, progress)}}
    report["refused"] = refusals(report)
    return report


def refusals(report: dict) -> list[str]:
    """Why the candidate may not be installed (empty: it may). Refused when any rule scores lower than the installed
    models on accuracy or fail recall by more than the tolerance, on any set, or when none of the rules its models
    serve could be measured at all."""
    tolerance, out = report["tolerance"], []
    for dataset, rules in report["candidate"]["scores"].items():
        before = report["installed"]["scores"].get(dataset, {})
        for rule, s in rules.items():
            for metric in METRICS:
                old, new = before.get(rule, {}).get(metric), s.get(metric)
                if old is not None and new is not None and new < old - tolerance - 1e-9:
                    out.append(f"{dataset}: {rule} {metric} {new:.3f}, installed {old:.3f} (tolerance {tolerance})")
    measured = {rule for rules in report["candidate"]["scores"].values() for rule, s in rules.items() if s.get("n")}
    if not measured & set(report["rules"]):
        out.append(f"none of the rules its models serve ({', '.join(report['rules'])}) has a reviewed or labelled "
                   "photo to be measured on")
    return out


def format_comparison(report: dict) -> str:
    def fmt(v):
        return "   -  " if v is None else f"{v:6.3f}"

    lines = [f"candidate {report['bundle']} ({', '.join(report['models'])}) against installed "
             f"{report['installed']['version']}; tolerance {report['tolerance']}"]
    for dataset, rules in report["candidate"]["scores"].items():
        lines.append(f"{dataset}:")
        lines.append(f"  {'rule':<13}{'n':>4}  {'accuracy':>17}  {'fail recall':>17}")
        before = report["installed"]["scores"].get(dataset, {})
        for rule, s in rules.items():
            b = before.get(rule, {})
            lines.append(f"  {rule:<13}{s['n']:>4}  {fmt(b.get('accuracy'))} -> {fmt(s['accuracy'])}  "
                         f"{fmt(b.get('fail_recall'))} -> {fmt(s['fail_recall'])}")
    lines.append("refused: " + "; ".join(report["refused"]) if report["refused"] else "accepted: no rule is worse "
                 "beyond the tolerance")
    return "\n".join(lines)


# ------------------------------------------------------------ the site dataset: `station learn export`
VAL_FRACTION = 0.25


def split_groups(groups: list[str], val_fraction: float = VAL_FRACTION) -> dict[str, str]:
    """group (technician and day) -> "train" or "val", by a hash of the group so that a group's split never changes
    as the log grows; with two groups or more, at least one is held out and at least one trains."""
    def h(g: str) -> float:
        return int(hashlib.sha256(g.encode()).hexdigest()[:12], 16) / 16**12

    split = {g: "val" if h(g) < val_fraction else "train" for g in groups}
    if len(groups) >= 2:
        ranked = sorted(groups, key=h)
        if "val" not in split.values():
            split[ranked[0]] = "val"
        if "train" not in split.values():
            split[ranked[-1]] = "train"
    return split


def export_site(config: StationConfig, store, out: Path, since=None, blur_faces: bool = False, pipeline=None,
                progress=None) -> dict:
    """The reviewed check-ins of the log as a site dataset in `out`:

    - `train/` and `val/`: each the FORMAT.md layout (`labels.csv` with a column per reviewed rule, `images/`), so
      that `station eval out/val` scores any model on the held-out check-ins;
    - `tiles/<classifier>/{train,val}/<class>/`: the pose-guided tiles of each reviewed rule that has a classifier,
      cut as the station cuts them, labelled from the review (what `station train site` reads);
    - `manifest.json`: counts per class and rule, date range, stations, the records used and those skipped with why.

    Only a supervisor's review is a label; records without one are never exported. The split is by technician and
    day. Faces are pixelated in the exported photos and tiles with `blur_faces`."""
    import cv2

    from checks.base import Status
    from models.crops import CLASSIFIER_TILES
    from station.pipeline import Pipeline, StageTimer
    from station.store import blur_boxes, utcnow

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: export into a new folder")
    records = store.reviewed_records(since)
    pipeline = pipeline or Pipeline(config)
    sizes = {name: int(json.loads(Path(m).read_text())["input_size"]) for name, m in
             ModelStore(config.resolve(config.learn.models_dir)).manifests(pipeline.models.version).items()}
    groups = {r.id: f"{r.technician or '-'}|{r.created_at:%Y-%m-%d}" for r in records}
    split = split_groups(sorted(set(groups.values())))
    rows: dict[str, list[dict]] = {"train": [], "val": []}
    tiles: dict[str, dict[str, dict[str, int]]] = {}
    truths: dict[str, dict[str, int]] = {}
    skipped: dict[str, list[int]] = {}
    used = []
    for record in progress(records) if progress else records:
        frame_file = store.evidence_dir / record.frame_path if record.frame_path else None
        image = cv2.imread(str(frame_file)) if frame_file is not None and frame_file.is_file() else None
        if image is None:
            why = "no frame kept ([log] keep_frames off, purged, or logged before frames were kept)" \
                if frame_file is None or record.evidence_purged_at else f"frame unreadable: {record.frame_path}"
            skipped.setdefault(why, []).append(record.id)
            continue
        perception = pipeline.perceive(image, StageTimer())
        if blur_faces and perception.faces:
            image = blur_boxes(image, [(f.x1, f.y1, f.x2, f.y2) for f in perception.faces])
        part = split[groups[record.id]]
        name = f"{record.id:06d}.jpg"
        row = {"image": f"images/{name}", "record": record.id}
        results = {r.check: r for r in record.results}
        for check, rule in REGISTRY.items():
            review = record.rule_review(check)
            if review is None or check not in results:
                continue
            row[check] = review.truth
            t = truths.setdefault(check, {"pass": 0, "fail": 0, "corrected": 0})
            t[review.truth] += 1
            t["corrected"] += results[check].status != review.truth
            labels = rule.tile_labels
            if labels is None or perception.pose is None or labels.classifier not in sizes:
                continue
            crops = {c.part: c for c in CLASSIFIER_TILES[labels.classifier](perception.pose,
                                                                            config.framing.min_visibility)}
            for tile_part, cls in labels.labels(review.truth, review.parts, list(crops)).items():
                folder = out / "tiles" / labels.classifier / part / cls
                folder.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(folder / f"{record.id:06d}_{tile_part}.jpg"),
                            crops[tile_part].cut(image, sizes[labels.classifier]), [cv2.IMWRITE_JPEG_QUALITY, 95])
                counts = tiles.setdefault(labels.classifier, {}).setdefault(part, {})
                counts[cls] = counts.get(cls, 0) + 1
        (out / part / "images").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out / part / "images" / name), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        rows[part].append(row)
        used.append(record)
    if not used:
        raise ValueError("no reviewed check-in with its frame to export: review some check-ins rule by rule first"
                         + (f" (skipped: {', '.join(f'{len(v)} {k}' for k, v in skipped.items())})" if skipped else ""))
    columns = ["image", "record", *[c for c in REGISTRY if c in truths]]
    for part, part_rows in rows.items():
        if part_rows:
            with open(out / part / "labels.csv", "w", newline="") as f:
                writer = csv.DictWriter(f, columns, restval="")
                writer.writeheader()
                writer.writerows(part_rows)
    manifest = {
        "format": 1, "created": utcnow().isoformat(timespec="seconds"),
        "since": since.isoformat() if since else None,
        "date_range": [min(r.created_at for r in used).isoformat(timespec="seconds"),
                       max(r.created_at for r in used).isoformat(timespec="seconds")],
        "stations": sorted({r.station or "" for r in used}),
        "models_versions": sorted({r.models_version or Status.UNKNOWN.value for r in used}),
        "blur_faces": blur_faces,
        "records": {"used": len(used), "train": len(rows["train"]), "val": len(rows["val"]),
                    "skipped": {why: ids for why, ids in skipped.items()}},
        "groups": {"train": sorted(g for g, s in split.items() if s == "train"),
                   "val": sorted(g for g, s in split.items() if s == "val")},
        "rules": truths, "tiles": tiles,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest
