"""Sleeve cuffs and trouser legs down (袖口不能卷起、不得挽裤腿).

Each lower forearm and each lower shin is judged from its own tile by the cuffs classifier (down / up), which sees a
cloth turn-up as well as bare skin (jeans cuffed at the ankle show no skin at all). With a long-sleeved,
long-trousered uniform, a sleeve end or trouser hem that is up fails. The rule passes only when it has judged every
part it needs (both forearms when the sleeves rule is on, both shins when the trousers rule is on): a hidden or too
small part is `unknown`, naming it, never "cuffs down". Without the classifier, the share of skin on those parts
decides instead.
"""
from __future__ import annotations

from pydantic import Field

from checks.base import Check, CheckResult, CheckSection, Evidence, Status, TileLabels, region_share
from models.perception import Perception

MIN_PIXELS = 40  # skin fallback: a region with fewer measured pixels is not seen
PARTS = {  # tile prefix -> (uniform flag, region of the skin fallback, zh, en, part zh, part en)
    "forearm": ("long_sleeves", "forearm_lower", "袖口卷起", "sleeve rolled up", "前臂", "forearm"),
    "shin": ("long_trousers", "shin_lower", "裤腿卷起", "trouser leg rolled up", "小腿", "shin"),
}
SIDES = {"left": "左", "right": "右"}
DEFAULTS = {"up": 0.5, "min_tile_px": 20.0}


class CuffsPolicy(CheckSection):
    """[cuffs] in the station config."""

    max_skin_fraction: float = Field(0.35, ge=0.0, le=1.0, description="without the cuffs classifier: share of a "
                                                                       "lower forearm or shin that may look like "
                                                                       "bare skin")


class CuffsCheck(Check):
    id = "cuffs"
    title_zh, title_en = "袖口裤腿", "Cuffs & trouser legs"
    fix_zh, fix_en = "请放下袖口和裤腿", "Roll your sleeves and trouser legs down"
    Policy = CuffsPolicy
    order = 40
    models = ("cuffs",)
    tile_labels = TileLabels("cuffs", {"forearm_left": ("左袖口", "left sleeve"),
                                       "forearm_right": ("右袖口", "right sleeve"),
                                       "shin_left": ("左裤腿", "left trouser leg"),
                                       "shin_right": ("右裤腿", "right trouser leg")}, "down", "up")
    needs_colour = True

    @classmethod
    def checked(cls, config) -> bool:
        # a uniform with neither long sleeves nor long trousers has no cuff to roll up: the rule is off (it had
        # answered unknown on every check-in, which kept every verdict from passing)
        return super().checked(config) and any(getattr(config.uniform, spec[0]) for spec in PARTS.values())

    def run(self, p: Perception) -> CheckResult:
        op = {k: p.attire.operating_points.get(f"cuffs.{k}", v) for k, v in DEFAULTS.items()}
        evidence, failed, missing, small, worst = [], [], [], [], 0.0
        needed = [(prefix, spec) for prefix, spec in PARTS.items() if getattr(self.config.uniform, spec[0])]
        for prefix, (_, region_prefix, zh, en, part_zh, part_en) in needed:
            for side, side_zh in SIDES.items():
                part = f"{prefix}_{side}"
                up = self.judge_part(p, part, f"{region_prefix}_{side}", op, evidence)
                if up is None:
                    missing.append((f"{side_zh}{part_zh}", f"{side} {part_en}"))
                elif up == "small":
                    small.append(part)
                else:
                    worst = max(worst, up[1])
                    if up[0]:
                        failed.append((f"{side_zh}{zh}", f"{side} {en}"))
        score = min(1.0, 0.5 + abs(worst - 0.5))
        if failed:  # a rolled cuff seen is a fail, whatever could not be seen
            return self.result(Status.FAIL, score, "、".join(zh for zh, _ in dict.fromkeys(failed)) + "，请放下",
                               "; ".join(en for _, en in dict.fromkeys(failed)).capitalize() + ": roll it down",
                               evidence, up=worst)
        if missing:
            return self.unknown(f"看不到{'、'.join(zh for zh, _ in missing)}，请双臂自然下垂、正对摄像头站好",
                                f"Cannot see the {', '.join(en for _, en in missing)}: stand facing the camera with "
                                "your arms at your sides", evidence)
        if small:
            return self.unknown("离摄像头太远，看不清袖口和裤脚，请走近一些",
                                "Too far from the camera to see the cuffs: please step closer", evidence)
        return self.result(Status.PASS, score, "袖口、裤腿已放下", "Cuffs and trouser legs down", evidence, up=worst)

    def judge_part(self, p: Perception, part: str, region_name: str, op: dict, evidence: list):
        """(is up, P(up)) for one forearm or shin; None when it is not in view, "small" when it is too small."""
        probs, tile = p.classified.get(part), p.attire.tiles.get(part)
        if probs is not None and tile is not None:
            if tile.width < op["min_tile_px"]:
                return "small"
            # one operating point per part (up_forearm, up_shin); a manifest with one for both says `up`
            threshold = p.attire.operating_points.get(f"cuffs.up_{part.split('_')[0]}", op["up"])
            up = probs.get("up", 0.0)
            evidence.append(Evidence.of_box(tile, Status.FAIL if up >= threshold else Status.PASS, part))
            return up >= threshold, up
        region = p.region(region_name)  # no classifier ran: the share of skin on the region decides
        if region is None or p.skin is None:
            return None
        share, n = region_share(p, region, p.skin)
        if n < MIN_PIXELS:
            return None
        bad = share > self.config.cuffs.max_skin_fraction
        evidence.append(Evidence.of_region(region, Status.FAIL if bad else Status.PASS, share))
        return bad, share
