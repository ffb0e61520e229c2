"""The supervisors' review of the log: filters, a record with its evidence and overrides, CSV export, the summary."""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, send_file, url_for

from station.store import Store, StoreError
from web.common import CHECK_NAMES, PAGE_SIZE, login_required, parse_filter, parse_page, spreadsheet_cell, station

bp = Blueprint("review", __name__)


@bp.get("/review")
@login_required()
def index():
    f, page = parse_filter(request.args), parse_page(request.args)
    records = station().store.find(f, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("review.html", records=records[:PAGE_SIZE], args=args, checks=CHECK_NAMES, page=page,
                           more=len(records) > PAGE_SIZE)


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
    return send_file(path, mimetype="image/jpeg")


@bp.get("/review/summary")
@login_required()
def summary():
    days = request.args.get("days", "14")
    if not days.isdigit() or not 1 <= int(days) <= 366:
        abort(400, "days must be a whole number from 1 to 366")
    s = daily_summary(station().store, int(days))
    return render_template("summary.html", s=s, checks=CHECK_NAMES, chart=pass_rate_chart(s))


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

    def row(r) -> str:
        last = r.overrides[-1] if r.overrides else None
        return line([r.id, r.created_at.strftime("%Y-%m-%d %H:%M:%S"), r.technician or "", r.verdict,
                     r.final_verdict, " ".join(x.check for x in r.results if x.status == "fail"),
                     last.user if last else "", last.reason if last else ""])

    def lines():
        yield "\ufeff" + line(["id", "time_utc", "technician", "verdict", "final_verdict", "failed_checks",
                               "override_by", "override_reason"])
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


def daily_summary(store: Store, days: int, today: datetime | None = None) -> dict:
    """Per day: records and pass rate overall and per rule; over the range: the rules failed most."""
    today = (today or datetime.now(timezone.utc)).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days - 1)
    counts = store.daily_counts(start, today + timedelta(days=1))
    rows, failed = [], defaultdict(int)
    for i in range(days):
        date = (start + timedelta(days=i)).date().isoformat()
        day = counts.get(date, {"records": 0, "passed": 0, "rules": {}})
        for check, (passed, judged) in day["rules"].items():
            failed[check] += judged - passed
        rows.append({"date": date, "records": day["records"],
                     "pass_rate": day["passed"] / day["records"] if day["records"] else None,
                     "rules": {c: p / n for c, (p, n) in day["rules"].items()}})
    return {"days": rows, "top_failed": sorted(((c, n) for c, n in failed.items() if n), key=lambda t: -t[1])}


def pass_rate_chart(s: dict, width: int = 720, height: int = 220) -> str:
    """An inline SVG: each rule's daily pass rate as a line (no chart library: the app must work offline)."""
    colours = {"uniform": "#1f77b4", "badge": "#d62728", "footwear": "#2ca02c", "cuffs": "#9467bd",
               "accessories": "#ff7f0e"}
    n = len(s["days"])
    x = (lambda i: 40 + i * (width - 60) / max(n - 1, 1))
    y = (lambda rate: 10 + (1 - rate) * (height - 40))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="pass rate per rule over days">',
             f'<line x1="40" y1="{y(0)}" x2="{width - 20}" y2="{y(0)}" stroke="#999"/>',
             f'<text x="4" y="{y(1) + 4}" font-size="11">100%</text><text x="10" y="{y(0) + 4}" font-size="11">0%</text>']
    for check, colour in colours.items():
        pts = [(x(i), y(d["rules"][check])) for i, d in enumerate(s["days"]) if d["rules"].get(check) is not None]
        if pts:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                         + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + f'"><title>{check}</title></polyline>')
    for i, d in enumerate(s["days"]):
        if n <= 16 or i % max(n // 8, 1) == 0:
            parts.append(f'<text x="{x(i) - 14:.1f}" y="{height - 8}" font-size="10">{d["date"][5:]}</text>')
    parts.append("</svg>")
    return "".join(parts)
