"""At most N pieces of jewellery (不可佩戴超过3件首饰).

Without a trained jewellery detector, one kind of piece is visible from colour alone: a watch or bracelet, a band
across a bare wrist that is not skin while the forearm and hand beside it are. (A bright-spot earring cue was tried
and removed: on ccp-public it fired on 22% of photos without jewellery and 23% with, i.e. no signal.) The trained
detector (perception.detections labelled as jewellery kinds) replaces this when it is installed.
"""
from __future__ import annotations

from checks.base import Check, CheckResult, Evidence, Status, region_share
from models.perception import Perception

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
            pieces = wrist_bands(p)
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
