"""The supervisors' review of the log: filters, a record with its evidence and overrides, CSV export, the summary."""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, send_file, url_for

from station.store import Store, StoreError
from web.common import CHECK_NAMES, PAGE_SIZE, login_required, parse_filter, parse_page, spreadsheet_cell, station

bp = Blueprint("review", __name__)


@bp.get("/review")
@login_required()
def index():
    f, page = parse_filter(request.args), parse_page(request.args)
    store = station().store
    total = store.count(f)
    pages = max(1, -(-total // PAGE_SIZE))
    records = store.find(f, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("review.html", records=records, args=args, checks=CHECK_NAMES, page=page, pages=pages,
                           total=total, more=page < pages, stations=store.stations())


@bp.route("/review/<int:record_id>", methods=["GET", "POST"])
@login_required()
def record(record_id: int):
    store = station().store
    try:
        if request.method == "POST":
            store.override(record_id, g.user, request.form.get("verdict", ""), request.form.get("reason", ""))
            flash("已记录人工复核 / Override recorded")
            return redirect(url_for("review.record", record_id=record_id))
        return render_template("record.html", r=store.get(record_id), checks=CHECK_NAMES)
    except StoreError as exc:
        if "no record" in str(exc):
            abort(404)
        return render_template("record.html", r=store.get(record_id), checks=CHECK_NAMES, error=str(exc)), 400


@bp.get("/evidence/<int:record_id>.jpg")
@login_required()
def evidence(record_id: int):
    return send_file(evidence_file(record_id), mimetype="image/jpeg")


def evidence_file(record_id: int) -> Path:
    """A record's evidence photo on disk, or 404: no record, no photo, purged, or a path outside the folder."""
    store = station().store
    try:
        r = store.get(record_id)
    except StoreError:
        abort(404)
    if not r.evidence_path or r.evidence_purged_at is not None:
        abort(404)
    path = (store.evidence_dir / r.evidence_path).resolve()
    if store.evidence_dir.resolve() not in path.parents or not path.is_file():
        abort(404)
    return path


@bp.get("/evidence/<int:record_id>/thumb.jpg")
@login_required()
def thumbnail(record_id: int):
    """A small copy of the evidence photo for the log's list: decoded at a quarter size (cheap), never stored, so
    the retention purge has nothing more to find."""
    import cv2
    import numpy as np

    path = evidence_file(record_id)
    image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_REDUCED_COLOR_4)
    if image is None:
        abort(404)
    h, w = image.shape[:2]
    k = min(1.0, 120 / max(h, w))
    small = cv2.resize(image, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
    jpg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()
    return Response(jpg, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})


@bp.get("/review/summary")
@login_required()
def summary():
    st = station()
    today = datetime.now(st.tz).date()
    days = request.args.get("days", "14")
    if not days.isdigit() or not 1 <= int(days) <= 366:
        abort(400, "days must be a whole number from 1 to 366")
    first, last = today - timedelta(days=int(days) - 1), today
    try:
        if request.args.get("from"):
            first = date.fromisoformat(request.args["from"])
        if request.args.get("to"):
            last = date.fromisoformat(request.args["to"])
    except ValueError:
        abort(400, "from and to must be dates YYYY-MM-DD")
    if not date(1900, 1, 1) <= first <= last <= date(9998, 12, 31) or (last - first).days >= 366:
        abort(400, "the range must run forwards and span at most 366 days")
    s = daily_summary(st.store, first, last, st.tz)
    people = st.store.technician_counts(*local_range(first, last, st.tz))
    for p in people:
        p["name"] = st.name(p["technician"])
    return render_template("summary.html", s=s, checks=CHECK_NAMES, chart=pass_rate_chart(s), people=people,
                           first=first.isoformat(), last=last.isoformat())


@bp.get("/review/export.csv")
@login_required()
def export_csv():
    """The whole filtered log, streamed a batch of records at a time (BOM first: Excel opens UTF-8 Chinese right);
    each batch waits for the supervisors' slot like a page, so a long export and other pages take turns."""
    f, s = parse_filter(request.args), station()

    def line(cells) -> str:
        out = io.StringIO()
        csv.writer(out).writerow([spreadsheet_cell(c) for c in cells])
        return out.getvalue()

    rules = list(CHECK_NAMES)
    tz_name = str(s.tz)

    def row(r) -> str:
        last = r.overrides[-1] if r.overrides else None
        results = {x.check: x for x in r.results}
        per_rule = []
        for check in rules:
            x = results.get(check)
            per_rule += [x.status, f"{x.reason_zh} / {x.reason_en}"] if x else ["", ""]
        return line([r.id, s.local(r.created_at).strftime("%Y-%m-%d %H:%M:%S"), tz_name, r.station, r.technician or "",
                     s.name(r.technician), r.verdict, r.final_verdict,
                     " ".join(x.check for x in r.results if x.status == "fail"),
                     last.user if last else "", last.reason if last else "", *per_rule])

    def lines():
        yield "\ufeff" + line(["id", "time", "zone", "station", "technician", "name", "verdict",
                               "final_verdict", "failed_checks", "override_by", "override_reason",
                               *[f"{c}{suffix}" for c in rules for suffix in ("", "_reason")]])
        batches = s.store.record_batches(f)
        while True:
            with s.supervisor_slot:
                batch = next(batches, None)
                text = "".join(map(row, batch or []))
            if batch is None:
                return
            yield text

    return Response(lines(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=appearance-log.csv"})


def local_range(first: date, last: date, tz) -> tuple[datetime, datetime]:
    """The instants that local days `first` to `last` (inclusive) cover in zone `tz`."""
    return datetime.combine(first, time(), tz), datetime.combine(last + timedelta(days=1), time(), tz)


def daily_summary(store: Store, first: date, last: date, tz=timezone.utc) -> dict:
    """Per local day from `first` to `last`: records and pass rate overall and per rule; over the range: the rules
    failed most."""
    counts = store.daily_counts(*local_range(first, last, tz), tz)
    rows, failed = [], defaultdict(int)
    for i in range((last - first).days + 1):
        day_ = (first + timedelta(days=i)).isoformat()
        day = counts.get(day_, {"records": 0, "passed": 0, "rules": {}})
        for check, (passed, judged) in day["rules"].items():
            failed[check] += judged - passed
        rows.append({"date": day_, "records": day["records"],
                     "pass_rate": day["passed"] / day["records"] if day["records"] else None,
                     "rules": {c: p / n for c, (p, n) in day["rules"].items()}})
    return {"days": rows, "top_failed": sorted(((c, n) for c, n in failed.items() if n), key=lambda t: -t[1])}


# the rules' colours in the chart, in registry order (style.css gives the legend the same ones)
COLOURS = ["#1f77b4", "#b52525", "#217a21", "#7b4fa6", "#a0520b", "#8c564b", "#b0327f", "#0e7c86", "#595959",
           "#6b6b12"]


def rule_colours() -> dict[str, str]:
    return {c: COLOURS[i % len(COLOURS)] for i, c in enumerate(CHECK_NAMES)}


def pass_rate_chart(s: dict, width: int = 720, height: int = 240) -> str:
    """An inline SVG (no chart library: the app works offline): the overall pass rate as a thick black line, each
    rule's as a thin coloured one, gridlines every 25 %; a day alone is a dot, so a one-day range is not blank.
    It scales to the page's width (a phone)."""
    n = len(s["days"])
    left, right, top, bottom = 44, 16, 10, 30
    x = (lambda i: left + (i + 0.5) * (width - left - right) / n)
    y = (lambda rate: top + (1 - rate) * (height - top - bottom))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="每日通过率 pass rate per day">']
    for pct in (0, 25, 50, 75, 100):
        parts.append(f'<line x1="{left}" y1="{y(pct / 100):.1f}" x2="{width - right}" y2="{y(pct / 100):.1f}" '
                     f'stroke="{"#767676" if pct == 0 else "#d0d0d0"}" stroke-width="1"/>'
                     f'<text x="{left - 6}" y="{y(pct / 100) + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="#333">{pct}%</text>')
    series = [(c, colour, 1.5, [(i, d["rules"].get(c)) for i, d in enumerate(s["days"])])
              for c, colour in rule_colours().items()]
    series.append(("overall", "#111111", 3.5, [(i, d["pass_rate"]) for i, d in enumerate(s["days"])]))
    for name, colour, stroke, values in series:
        pts = [(x(i), y(v)) for i, v in values if v is not None]
        if not pts:
            continue
        label = "通过率 overall" if name == "overall" else f"{CHECK_NAMES[name][0]} {CHECK_NAMES[name][1]}"
        if len(pts) > 1:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="{stroke}" points="'
                         + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + f'"><title>{label}</title></polyline>')
        for a, b in pts:
            parts.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="{stroke + 1.5}" fill="{colour}">'
                         f'<title>{label}</title></circle>')
    step = max(1, n // 8)
    for i, d in enumerate(s["days"]):
        if i % step == 0 or i == n - 1:
            parts.append(f'<text x="{x(i):.1f}" y="{height - 10}" font-size="11" text-anchor="middle" '
                         f'fill="#333">{d["date"][5:]}</text>')
    parts.append("</svg>")
    return "".join(parts)
