"""The admins' calibration pages: framing aid, badge position test, reference photos, uniform enrolment, policy."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for

from station.store import write_atomically
from web.common import login_required, station

bp = Blueprint("calibrate", __name__)
REFERENCE_NAME = re.compile(r"[\w-][\w.-]*\.jpg")  # a file in the references folder, never a path


@bp.get("/calibrate")
@login_required("admin")
def index():
    return page()


def page(policy: str | None = None, error: str | None = None):
    """The calibration page; `policy` and `error`: an edited policy that was refused, shown again with why."""
    s = station()
    if policy is None:
        policy = s.config_path.read_text(encoding="utf-8") if s.config_path and s.config_path.exists() else ""
    from station.config import policy_reference
    from station.live import plain

    refs = sorted(p.name for p in s.references.glob("*.jpg")) if s.references.is_dir() else []
    last = s.live.last_result() if s.live is not None else None
    enrolled = None
    try:
        config = s.config()
        current = config.resolve(config.uniform.prototypes)
        if current.is_file():
            enrolled = s.local(datetime.fromtimestamp(current.stat().st_mtime, timezone.utc))
    except ValueError:  # a policy that does not load: the editor below says why
        pass
    framing = s.live.state() if s.live is not None else None
    badge = last.results.get("badge").to_dict() if last is not None and "badge" in last.results else None
    problems = ([s.store.evidence_failure] if s.store.evidence_failure else []) + \
        (s.live.errors[::-1] if s.live is not None else [])
    return render_template("calibrate.html", policy=policy, refs=refs, framing=framing, badge=badge,
                           config_path=s.config_path, problems=problems, error=plain(error) if error else None,
                           reference=policy_reference(), enrolled=enrolled)


@bp.get("/calibrate/reference/<name>")
@login_required("admin")
def reference_photo(name: str):
    """A reference photo, for its thumbnail beside its delete button."""
    path = station().references / name
    if not REFERENCE_NAME.fullmatch(name) or path.is_symlink() or not path.is_file():
        abort(404)
    return send_file(path, mimetype="image/jpeg", max_age=0)


@bp.post("/calibrate/reference")
@login_required("admin")
def add_reference():
    """A uniform reference photo: the live frame, or an uploaded photo (JPEG or PNG; its size is read from the
    header and refused beyond `station.imageio.MAX_PIXELS` before any pixel is decoded)."""
    import cv2

    from station.imageio import ImageError, decode_image

    s = station()
    upload = request.files.get("photo")
    if upload is not None and upload.filename:
        try:
            image = decode_image(upload.read(), "upload")
        except ImageError as exc:
            flash(f"上传失败：照片不可用（JPEG 或 PNG，每边至少 64 像素，至多 5000 万像素）/ Upload refused: {exc}")
            return redirect(url_for("calibrate.index")), 303
    else:
        image = s.live.capture() if s.live is not None else None
        if image is None:
            flash("摄像头没有画面 / No camera frame to capture")
            return redirect(url_for("calibrate.index")), 303
    ok, jpg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    write_atomically(s.references / f"ref-{datetime.now(timezone.utc):%Y%m%d-%H%M%S-%f}.jpg", jpg.tobytes())
    flash("已保存参考照片 / Reference photo saved")
    return redirect(url_for("calibrate.index")), 303


@bp.post("/calibrate/reference/delete")
@login_required("admin")
def delete_reference():
    name = request.form.get("name", "")
    path = station().references / name
    if not REFERENCE_NAME.fullmatch(name) or path.is_symlink() or not path.is_file():
        abort(404)
    path.unlink()
    flash(f"已删除参考照片 / Reference photo deleted: {name}")
    return redirect(url_for("calibrate.index")), 303


@bp.post("/calibrate/enrol")
@login_required("admin")
def enrol():
    """Enrol the uniform from the reference photos with enrolment's own models, then apply it to the running rules;
    a failed enrolment keeps the previous one in force."""
    from calibration.enrol import EnrolmentError
    from station.live import plain

    s = station()
    photos = sorted(s.references.glob("*.jpg")) if s.references.is_dir() else []
    with s.calibration_lock:
        config = s.config()
        if config.resolve(config.uniform.prototypes).is_file() and request.form.get("replace") != "yes":
            flash("已有登记：请勾选“替换当前登记”后再登记 / A uniform is already enrolled: tick \"replace the current "
                  "enrolment\" to replace it")
            return redirect(url_for("calibrate.index")), 303
        try:
            prototypes, notes, _ = s.enroller.enrol(photos, config)
        except EnrolmentError as exc:
            flash(f"登记失败，原登记保持不变 / Enrolment failed, the previous one stays: {plain(str(exc))}")
            return redirect(url_for("calibrate.index")), 303
        if s.live is not None:
            s.live.apply_policy(config)  # rebuilds the rules: the uniform rule reads the new enrolment
    flash(f"已登记 {len(prototypes.prototypes)} 张参考照片 / Enrolled {len(prototypes.prototypes)} reference "
          f"photo(s)" + "".join(f"; {n}" for n in notes))
    return redirect(url_for("calibrate.index")), 303


@bp.post("/calibrate/policy")
@login_required("admin")
def save_policy():
    """The policy as TOML, checked in memory before it is saved: the schema (an unknown key is named), the files
    it names, and the folders it may write (`station.config.parse_policy`). Saves are one at a time, each through
    its own temporary file, so the file on disk and the running rules always come from the same, valid policy."""
    from station.config import ConfigError, parse_policy

    s = station()
    if s.config_path is None:
        abort(409, "the station runs without a config file (--config): nothing to edit")
    text = request.form.get("policy", "")
    try:
        config = parse_policy(text, s.config_path)
    except ConfigError as exc:
        return page(text, str(exc)), 400
    with s.calibration_lock:
        write_atomically(s.config_path, text.encode("utf-8"))
        if s.live is not None:
            s.live.apply_policy(config)
    flash("策略已保存并生效（摄像头、检测模型和日志设置需重启）/ Policy saved and applied (camera, detector and "
          "log settings need a restart)")
    return redirect(url_for("calibrate.index")), 303
