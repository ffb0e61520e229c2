"""Work badge (工号牌) worn on the left chest, or anywhere on the chest where the site allows a lanyard.

Without a trained detector, a badge candidate is a card-shaped blob on the torso: a bright, nearly rectangular
component with a card's proportions and size relative to the body, standing out from the clothes around it. The
check then decides the position from the candidate's centre and the pose regions. A trained detector replaces the
candidate search (perception.detections with label "badge") without changing the position rule.
"""
from __future__ import annotations

import cv2
import numpy as np

from checks.base import Check, CheckResult, Evidence, Status
from models.perception import Box, Perception, Region
from models.regions import body_scale

MIN_CONTRAST = 28.0  # L difference (0..255) between the card and a ring of clothes around it


def find_badge_candidates(p: Perception) -> list[Box]:
    """Card-shaped bright blobs on the front of the torso, best first."""
    front = p.region("lanyard")
    if front is None or p.pose is None:
        return []
    s = body_scale(p.pose)
    (x1, y1, x2, y2), inside = front.local_mask(*p.size)
    if x2 - x1 < 16 or y2 - y1 < 16:
        return []
    crop = p.image[y1:y2, x1:x2]
    if p.person_mask is not None:
        inside &= p.person_mask[y1:y2, x1:x2] > 0.5
    L = cv2.cvtColor(crop, cv2.COLOR_BGR2LAB)[:, :, 0]
    if inside.sum() < 100:
        return []
    # bright against this person's clothes: above the 75th percentile of the torso by a margin
    level = np.percentile(L[inside], 75) + 10
    bright = ((L > level) & inside).astype(np.uint8)
    if p.skin is not None:
        bright &= (p.skin[y1:y2, x1:x2] < 0.5).astype(np.uint8)
    bright = cv2.morphologyEx(bright, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=8)
    found = []
    for i in range(1, n):
        area = stats[i, cv2.CC_STAT_AREA]
        if area < 0.004 * s * s or area > 0.15 * s * s:
            continue
        pts = np.column_stack(np.nonzero(labels == i)[::-1]).astype(np.float32)
        (cx, cy), (rw, rh), _ = cv2.minAreaRect(pts)
        long_side, short_side = max(rw, rh), max(min(rw, rh), 1.0)
        fill = area / max(rw * rh, 1.0)
        aspect = long_side / short_side
        if fill < 0.6 or not 1.1 <= aspect <= 2.4 or not 0.07 * s <= long_side <= 0.5 * s:
            continue
        bx1, by1, bw, bh = stats[i, :4]
        ring = np.zeros_like(bright)
        pad = max(3, int(0.15 * long_side))
        cv2.rectangle(ring, (bx1 - pad, by1 - pad), (bx1 + bw + pad, by1 + bh + pad), 1, -1)
        ring[labels == i] = 0
        ring_mask = ring.astype(bool) & inside
        if ring_mask.sum() < 10:
            continue
        contrast = float(L[labels == i].mean() - L[ring_mask].mean())
        if contrast < MIN_CONTRAST:
            continue
        score = float(np.clip(0.3 + 0.4 * fill + contrast / 200, 0, 0.9))
        found.append(Box(x1 + bx1, y1 + by1, x1 + bx1 + bw, y1 + by1 + bh, score, "badge"))
    return sorted(found, key=lambda b: -b.score)


def allowed_zone(p: Perception, position: str) -> Region | None:
    """Where the policy allows the badge: the wearer's left chest, or the chest down to where a lanyard hangs."""
    if position == "left_chest":
        return p.region("chest_left")
    return p.region("lanyard")


class BadgeCheck(Check):
    id = "badge"
    title_zh, title_en = "工号牌", "Work badge"

    def run(self, p: Perception) -> CheckResult:
        position = self.config.badge.position
        zone = allowed_zone(p, position)
        if zone is None:
            return self.unknown("看不到胸前", "Chest not in view")
        badges = [d for d in p.detections if d.label == "badge"] or find_badge_candidates(p)
        where_zh, where_en = ("左胸", "left chest") if position == "left_chest" else ("胸前", "chest")
        if not badges:
            return self.result(Status.FAIL, 0.6, f"未佩戴工号牌（{where_zh}未发现）",
                               f"No work badge found on the {where_en}", [Evidence.of_region(zone, Status.FAIL)])
        zone_mask = zone.mask(p.image.shape)
        h, w = zone_mask.shape
        for badge in badges:
            cx, cy = (int(np.clip(v, 0, lim - 1)) for v, lim in zip(badge.center, (w, h)))
            if zone_mask[cy, cx]:
                return self.result(Status.PASS, badge.score, f"工号牌佩戴于{where_zh}",
                                   f"Work badge worn on the {where_en}",
                                   [Evidence.of_box(badge, Status.PASS), Evidence.of_region(zone, Status.PASS)])
        badge = badges[0]
        return self.result(Status.FAIL, badge.score * 0.8, f"工号牌位置不对：应佩戴于{where_zh}",
                           f"Work badge in the wrong place: wear it on the {where_en}",
                           [Evidence.of_box(badge, Status.FAIL), Evidence.of_region(zone, Status.FAIL)])
