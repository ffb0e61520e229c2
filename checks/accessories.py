"""At most N pieces of jewellery (不可佩戴超过3件首饰).

Without a trained jewellery detector, two kinds of piece are visible from colour alone:
- a watch or bracelet: a band across a bare wrist that is not skin, while the forearm and hand beside it are;
- an earring: a small bright, low-saturation (metallic) spot just below an ear, on skin.
The trained detector (perception.detections labelled as jewellery kinds) replaces these when it is installed.
"""
from __future__ import annotations

import cv2
import numpy as np

from checks.base import Check, CheckResult, Evidence, Status, region_share
from models.perception import Box, Perception
from models.regions import body_scale

JEWELLERY = ("bracelet", "watch", "earrings", "necklace", "ring")


def wrist_bands(p: Perception) -> list[Evidence]:
    found = []
    for side in ("left", "right"):
        wrist, arm, hand = (p.region(f"{n}_{side}") for n in ("wrist", "forearm_lower", "hand"))
        if wrist is None or arm is None or hand is None or p.skin is None:
            continue
        arm_skin, n_arm = region_share(p, arm, p.skin)
        hand_skin, n_hand = region_share(p, hand, p.skin)
        wrist_skin, n_wrist = region_share(p, wrist, p.skin)
        # a bare arm and hand with a clearly covered wrist between them: something is worn on the wrist
        if min(n_arm, n_hand, n_wrist) >= 30 and arm_skin > 0.6 and hand_skin > 0.5 \
                and wrist_skin < 0.55 * min(arm_skin, hand_skin):
            found.append(Evidence.of_region(wrist, Status.FAIL, wrist_skin, f"watch/bracelet {side}"))
    return found


def earrings(p: Perception) -> list[Evidence]:
    if p.pose is None or p.skin is None:
        return []
    s = body_scale(p.pose)
    found = []
    hsv = cv2.cvtColor(p.image, cv2.COLOR_BGR2HSV)
    for side in ("left", "right"):
        ear = p.region(f"ear_{side}")
        if ear is None:
            continue
        # the lobe hangs below the ear keypoint: look in the lower part of the ear square
        x1, y1, x2, y2 = ear.box.clip(*p.size).as_int()
        y1 = (y1 + y2) // 2
        if x2 - x1 < 4 or y2 - y1 < 4:
            continue
        v = hsv[y1:y2, x1:x2, 2].astype(np.float32)
        sat = hsv[y1:y2, x1:x2, 1].astype(np.float32)
        skin = p.skin[y1:y2, x1:x2]
        if skin.mean() < 0.3:  # covered by hair or a collar: nothing to judge
            continue
        shiny = (v > np.percentile(v, 50) + 60) & (sat < 60) & (skin < 0.3)
        area = int(shiny.sum())
        if 0.0004 * s * s <= area <= 0.01 * s * s:
            box = Box(x1, y1, x2, y2, 0.4, f"earring {side}")
            found.append(Evidence.of_box(box, Status.FAIL, f"earring {side}"))
    return found


class AccessoriesCheck(Check):
    id = "accessories"
    title_zh, title_en = "首饰", "Jewellery"

    def run(self, p: Perception) -> CheckResult:
        cfg = self.config.accessories
        detected = [d for d in p.detections if d.label in JEWELLERY]
        if detected:
            pieces = [Evidence.of_box(d, Status.FAIL) for d in detected]
        else:
            if p.pose is None:
                return self.unknown("看不到人", "No person in view")
            pieces = wrist_bands(p) + earrings(p)
        ears = [e for e in pieces if e.label.startswith("earring")]
        count = len(pieces) - (1 if cfg.pair_counts_as_one and len(ears) == 2 else 0)
        status = Status.FAIL if count > cfg.max_pieces else Status.PASS
        evidence = [Evidence(e.label, e.polygon, status, e.value) for e in pieces]
        score = min(1.0, 0.5 + 0.15 * abs(count - cfg.max_pieces - 0.5))
        if status == Status.FAIL:
            return self.result(status, score, f"佩戴首饰 {count} 件，超过 {cfg.max_pieces} 件",
                               f"{count} pieces of jewellery, more than {cfg.max_pieces}", evidence, pieces=count)
        return self.result(status, score, f"首饰 {count} 件（不超过 {cfg.max_pieces} 件）",
                           f"{count} piece(s) of jewellery (at most {cfg.max_pieces})", evidence, pieces=count)
