"""The learning loop's pages: a supervisor's review of each rule of a record, the review queue (what teaches the
most first), and the admin's page of installed model versions and evaluated candidates."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from checks.registry import REGISTRY
from station.model_versions import ModelStore
from station.store import StoreError
from web.common import CHECK_NAMES, login_required, station

bp = Blueprint("learn", __name__)
QUEUE_SIZE = 30
STATUS_WORDS = {"pass": ("合格", "pass"), "fail": ("不合格", "fail"), "unknown": ("无法判断", "unknown")}


@bp.app_context_processor
def rule_review_context() -> dict:
    """What the record page's per-rule review form reads (web/templates/_rule_reviews.html)."""
    return {"registry": REGISTRY, "status_words": STATUS_WORDS}


@bp.post("/review/<int:record_id>/rules/<check>")
@login_required()
def review_rule(record_id: int, check: str):
    """One rule of one record: "correct" confirms the machine, "pass" / "fail" says what the photo really shows;
    `parts` are the tiles that show the violation (pre-ticked from the machine's failed evidence)."""
    store = station().store
    try:
        record = store.get(record_id)
    except StoreError:
        abort(404)
    result = next((r for r in record.results if r.check == check), None)
    if result is None:
        abort(404)
    answer = request.form.get("truth", "")
    truth = result.status if answer == "correct" else answer
    try:
        if answer == "correct" and result.status == "unknown":
            raise StoreError("机器未能判断，请选择实际为合格或不合格 / The station could not judge this rule: say "
                             "whether it actually passes or fails")
        labels = REGISTRY[check].tile_labels if check in REGISTRY else None
        parts = [p for p in request.form.getlist("parts") if labels and p in labels.parts]
        store.review_rule(record_id, check, g.user, truth, parts, request.form.get("reason", ""))
    except StoreError as exc:
        flash(f"未保存 / Not saved: {exc}")
        return redirect(url_for("review.record", record_id=record_id) + f"#rule-{check}")
    flash(f"已记录：{CHECK_NAMES.get(check, (check,))[0]} / Review of {check} recorded")
    if request.form.get("next") == "queue":
        return redirect(url_for("learn.queue"))
    return redirect(url_for("review.record", record_id=record_id) + f"#rule-{check}")


@bp.get("/review/queue")
@login_required()
def queue():
    ranked = station().store.review_queue(limit=QUEUE_SIZE)
    return render_template("queue.html", ranked=ranked, titles=CHECK_NAMES)


@bp.get("/admin/models")
@login_required("admin")
def models():
    s = station()
    live = s.live
    config = s.config()
    store = ModelStore(config.resolve(config.learn.models_dir))
    active = store.active()
    versions = store.versions()
    running = live.pipeline.models.version if live is not None else None
    return render_template("models.html", active=active, versions=versions[::-1], running=running,
                           candidates=store.candidates(), titles=CHECK_NAMES,
                           current=next(v for v in versions if v["id"] == active), tolerance=config.learn.tolerance)
