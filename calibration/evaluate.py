"""`station eval DIR`: judge every labelled photo of a set with the real pipeline and score it.

The contract is ../shared/eval/FORMAT.md.
"""
from __future__ import annotations

import csv
import tempfile
import time
from pathlib import Path

from calibration.enrol import enrol_uniform
from checks.registry import REGISTRY
from station.config import StationConfig, load_config, with_overrides
from station.imageio import ImageError, list_images, read_image
from station.pipeline import Models, Pipeline

CHECKS = tuple(REGISTRY)
VERDICTS = ("pass", "fail", "unknown")


class EvalError(ValueError):
    pass


def read_labels(folder: Path) -> list[dict[str, str]]:
    labels = folder / "labels.csv"
    if not folder.is_dir():
        raise EvalError(f"{folder}: not a folder")
    if not labels.is_file():
        raise EvalError(f"{folder}: no labels.csv (see shared/eval/FORMAT.md)")
    with open(labels, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "image" not in [c.strip() for c in reader.fieldnames]:
            raise EvalError(f"{labels}: needs an 'image' column")
        rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]
    rows = [r for r in rows if r.get("image")]
    if not rows:
        raise EvalError(f"{labels}: no rows")
    for i, row in enumerate(rows, start=2):
        for check in CHECKS:
            if row.get(check, "") not in ("", "pass", "fail"):
                raise EvalError(f"{labels}:{i}: {check} must be pass, fail or empty, got {row[check]!r}")
        jewel = row.get("jewellery", "")
        if jewel and not jewel.isdigit():
            raise EvalError(f"{labels}:{i}: jewellery must be a whole number or empty, got {jewel!r}")
    return rows


def score_check(pairs: list[tuple[str, str]]) -> dict:
    """pairs of (label, verdict) -> the FORMAT.md metrics."""
    confusion = {lab: {v: 0 for v in VERDICTS} for lab in ("pass", "fail")}
    for label, verdict in pairs:
        confusion[label][verdict] += 1
    n = len(pairs)
    correct = confusion["pass"]["pass"] + confusion["fail"]["fail"]
    n_fail = sum(confusion["fail"].values())
    flagged = confusion["pass"]["fail"] + confusion["fail"]["fail"]
    return {
        "n": n, "correct": correct, "accuracy": round(correct / n, 4) if n else None,
        "unknown": confusion["pass"]["unknown"] + confusion["fail"]["unknown"],
        "fail_recall": round(confusion["fail"]["fail"] / n_fail, 4) if n_fail else None,
        "fail_precision": round(confusion["fail"]["fail"] / flagged, 4) if flagged else None,
        "confusion": confusion,
    }


def evaluate(folder: Path, config_path: Path | None = None, progress=None, config: StationConfig | None = None) -> dict:
    """Score the set at `folder` with the config at `config_path` (or the `config` given), the set's dataset.toml
    merged on top."""
    folder = Path(folder)
    rows = read_labels(folder)
    overrides = [folder / "dataset.toml"] if (folder / "dataset.toml").is_file() else []
    config = with_overrides(config.model_copy(deep=True), overrides) if config is not None \
        else load_config(config_path, overrides)
    models = Models.load(tracking=False, config=config)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="station-eval-") as tmp:
        references = list_images(folder / "reference" / "uniform") if (folder / "reference" / "uniform").is_dir() \
            else []
        if references:
            # enrol exactly as a site would at calibration, then judge with that enrolment
            prototypes, enrol_notes = enrol_uniform(references, Pipeline(config, models))
            notes += enrol_notes
            path = Path(tmp) / "uniform.json"
            prototypes.save(path)
            config.uniform.prototypes = str(path)
        pipeline = Pipeline(config, models)
        per_image, started = [], time.perf_counter()
        for i, row in enumerate(rows):
            entry = {"image": row["image"], "verdicts": {}, "pieces": None}
            try:
                frame = pipeline.run(read_image(folder / row["image"]))
                entry["verdicts"] = {k: r.status.value for k, r in frame.results.items()}
                acc = frame.results.get("accessories")
                if acc is not None and "pieces" in acc.measurements:  # counted, even where a hand was hidden
                    entry["pieces"] = int(acc.measurements["pieces"])
                entry["reasons"] = {k: r.reason_en for k, r in frame.results.items()}
                entry["measurements"] = {k: {m: round(float(v), 4) for m, v in r.measurements.items()}
                                         for k, r in frame.results.items() if r.measurements}
            except ImageError as exc:
                entry["error"] = str(exc)
                notes.append(str(exc))
            per_image.append(entry)
            if progress:
                progress(i + 1, len(rows))
        elapsed = time.perf_counter() - started
    checks = {}
    for check in CHECKS:
        pairs = [(row[check], entry["verdicts"].get(check, "unknown"))
                 for row, entry in zip(rows, per_image) if row.get(check)]
        if pairs:
            checks[check] = score_check(pairs)
            # a set may give the size of what is judged (e.g. badge_px = the card's width): accuracy per size band
            sized = [(float(row[f"{check}_px"]), lab, v) for (lab, v), row in
                     zip(pairs, [r for r in rows if r.get(check)]) if row.get(f"{check}_px")]
            if sized:
                bands = ((0, 12), (12, 20), (20, 30), (30, 10**6))
                checks[check]["by_size_px"] = {
                    f"{lo}-{hi if hi < 10**6 else ''}": score_check([(lab, v) for px, lab, v in sized if lo <= px < hi])
                    for lo, hi in bands if any(lo <= px < hi for px, _, _ in sized)}
            # a set may say which part of a violation it is (e.g. cuffs_part = trouser): fail recall per part
            parts = sorted({row.get(f"{check}_part", "") for row in rows if row.get(check) == "fail"} - {""})
            if parts:
                checks[check]["fail_recall_by_part"] = {
                    part: score_check([(lab, v) for (lab, v), row in zip(pairs, [r for r in rows if r.get(check)])
                                       if lab == "fail" and row.get(f"{check}_part") in (part, "both")])["fail_recall"]
                    for part in parts if part != "both"}
    with_j = [e for r, e in zip(rows, per_image) if r.get("jewellery", "").isdigit() and int(r["jewellery"]) >= 1]
    without_j = [e for r, e in zip(rows, per_image) if r.get("jewellery", "") == "0"]
    jewellery = {
        "n_with": len(with_j),
        "recall": round(sum(1 for e in with_j if (e["pieces"] or 0) >= 1) / len(with_j), 4) if with_j else None,
        "n_without": len(without_j),
        "false_alarm": round(sum(1 for e in without_j if (e["pieces"] or 0) >= 1) / len(without_j), 4)
        if without_j else None,
    }
    return {
        "dataset": str(folder),
        "images": len(rows),
        "seconds_per_image": round(elapsed / len(rows), 4),
        "checks": checks,
        "jewellery": jewellery,
        "uniform_references": len(references),
        "policy": {"badge_position": config.badge.position, "max_pieces": config.accessories.max_pieces},
        "notes": notes,
        "results": per_image,
    }


def format_report(report: dict) -> str:
    lines = [f"{report['dataset']}: {report['images']} images, {report['seconds_per_image']:.3f} s/image"]
    lines.append(f"{'check':<12}{'n':>5}{'acc':>8}{'unknown':>9}{'fail_rec':>10}{'fail_prec':>11}")

    def fmt(v):
        return "-" if v is None else f"{v:.3f}"

    for check, s in report["checks"].items():
        lines.append(f"{check:<12}{s['n']:>5}{fmt(s['accuracy']):>8}{s['unknown']:>9}{fmt(s['fail_recall']):>10}"
                     f"{fmt(s['fail_precision']):>11}")
        for band, b in s.get("by_size_px", {}).items():
            lines.append(f"  {band + ' px':<10}{b['n']:>5}{fmt(b['accuracy']):>8}{b['unknown']:>9}"
                         f"{fmt(b['fail_recall']):>10}{fmt(b['fail_precision']):>11}")
        for part, recall in s.get("fail_recall_by_part", {}).items():
            lines.append(f"  {part:<10}{'':>21}{fmt(recall):>10}   (fail recall where the {part} is at fault)")
    j = report["jewellery"]
    if j["n_with"] or j["n_without"]:
        lines.append(f"jewellery   recall {fmt(j['recall'])} (n={j['n_with']})   false_alarm "
                     f"{fmt(j['false_alarm'])} (n={j['n_without']})")
    for note in report["notes"]:
        lines.append(f"note: {note}")
    return "\n".join(lines)
