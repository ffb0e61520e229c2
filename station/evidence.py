"""The annotated evidence image: regions and boxes coloured by verdict, English labels (OpenCV's Hershey fonts
have no CJK glyphs, and the station may not fetch a font; the zh-CN text lives in the JSON beside it)."""
from __future__ import annotations

import cv2
import numpy as np

from checks.base import Status
from station.pipeline import FrameResult

COLOURS = {Status.PASS: (60, 180, 60), Status.FAIL: (40, 40, 230), Status.UNKNOWN: (0, 190, 230)}  # BGR


def draw_evidence(frame: FrameResult) -> np.ndarray:
    p = frame.perception
    out = p.image.copy()
    h, w = out.shape[:2]
    thick = max(1, round(min(h, w) / 400))
    font = max(0.4, min(h, w) / 1400)
    if p.pose is not None:
        for name in ("left", "right"):  # skeleton hint: shoulders-hips-ankles, thin and grey
            for a, b in (("shoulder", "hip"), ("hip", "knee"), ("knee", "ankle"), ("shoulder", "elbow"),
                         ("elbow", "wrist")):
                pa, pb = f"{name}_{a}", f"{name}_{b}"
                if p.pose.visible(pa) and p.pose.visible(pb):
                    cv2.line(out, tuple(map(int, p.pose.point(pa))), tuple(map(int, p.pose.point(pb))),
                             (200, 200, 200), thick, cv2.LINE_AA)
    for result in frame.results.values():
        for ev in result.evidence:
            pts = np.round(ev.polygon).astype(np.int32)
            cv2.polylines(out, [pts], True, COLOURS[ev.status], thick + 1, cv2.LINE_AA)
            x, y = pts.min(axis=0)
            cv2.putText(out, ev.label, (int(x), max(12, int(y) - 3)), cv2.FONT_HERSHEY_SIMPLEX, font * 0.8,
                        COLOURS[ev.status], thick, cv2.LINE_AA)
    # legend: overall and one numbered line per check
    lines = [(f"OVERALL: {frame.overall.value.upper()}", frame.overall)]
    lines += [(f"{i}. {r.check}: {r.status.value} - {r.reason_en}", r.status)
              for i, r in enumerate(frame.results.values(), 1)]
    if not p.framing.ok:
        lines.append((f"framing: {p.framing.instruction_en}", Status.UNKNOWN))
    line_h = int(28 * font) + 6
    panel = out[: line_h * len(lines) + 8, :].astype(np.float32)
    out[: line_h * len(lines) + 8, :] = (panel * 0.35).astype(np.uint8)
    for i, (text, status) in enumerate(lines):
        cv2.putText(out, text, (6, line_h * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, font, COLOURS[status], thick,
                    cv2.LINE_AA)
    return out
