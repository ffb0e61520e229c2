"""The annotated evidence image: regions and boxes coloured by verdict, English labels (OpenCV's Hershey fonts
have no CJK glyphs, and the station may not fetch a font; the zh-CN text lives in the JSON beside it)."""
from __future__ import annotations

import cv2
import numpy as np

from checks.base import Status
from station.pipeline import FrameResult

COLOURS = {Status.PASS: (60, 180, 60), Status.FAIL: (40, 40, 230), Status.UNKNOWN: (0, 190, 230)}  # BGR
DRAW_ORDER = {Status.PASS: 0, Status.UNKNOWN: 1, Status.FAIL: 2}


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
    # where each rule looked: what passed thin and first, what failed or could not be told thick and on top, so
    # that among a dozen tiles the one a FAIL points at is the one the eye finds
    evidence = sorted((ev for result in frame.results.values() for ev in result.evidence),
                      key=lambda e: DRAW_ORDER[e.status])
    outlines = [np.round(ev.polygon).astype(np.int32) for ev in evidence]
    for ev, pts in zip(evidence, outlines):
        weight = thick if ev.status == Status.PASS else 2 * thick + 1
        cv2.polylines(out, [pts], True, COLOURS[ev.status], weight, cv2.LINE_AA)
    for ev, pts in zip(evidence, outlines):  # the names after every outline, so that no outline crosses one
        x, y = (int(v) for v in pts.min(axis=0))
        if ev.status == Status.PASS:
            cv2.putText(out, ev.label, (x, max(12, y - 3)), cv2.FONT_HERSHEY_SIMPLEX, font * 0.7,
                        COLOURS[ev.status], thick, cv2.LINE_AA)
            continue
        # white on a plate of the verdict's colour, sitting on the outline: readable over any clothing
        (tw, th), base = cv2.getTextSize(ev.label, cv2.FONT_HERSHEY_SIMPLEX, font * 0.8, thick)
        top = max(0, y - th - base - 4)
        cv2.rectangle(out, (x, top), (x + tw + 6, top + th + base + 4), COLOURS[ev.status], cv2.FILLED)
        cv2.putText(out, ev.label, (x + 3, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, font * 0.8, (255, 255, 255),
                    thick, cv2.LINE_AA)
    # the legend: overall and one numbered line per check, in a band below the photo rather than over it (it hid
    # the head, where sunglasses, hair and beard are judged); the photo keeps the frame's pixel coordinates, so the
    # face boxes that pixelate it when it is stored still fall on the faces
    lines = [(f"OVERALL: {frame.overall.value.upper()}", frame.overall)]
    lines += [(f"{i}. {r.check}: {r.status.value} - {r.reason_en}", r.status)
              for i, r in enumerate(frame.results.values(), 1)]
    if not (p.framing.ok and p.framing.still):
        lines.append((f"framing: {p.framing.instruction_en}", Status.UNKNOWN))
    line_h = int(28 * font) + 6
    band = np.full((line_h * len(lines) + 8, w, 3), 32, np.uint8)
    for i, (text, status) in enumerate(lines):
        cv2.putText(band, text, (6, line_h * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, font, COLOURS[status], thick,
                    cv2.LINE_AA)
    out = np.vstack([out, band])
    return out
