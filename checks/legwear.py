"""Long trousers with a long-trouser uniform: no shorts, skirts or bare legs (统一着装).

The trousers classifier judges one tile from the hips to the ankles (trained on CCP photos labelled by eye); where
it is loaded and no tile is cut (legs hidden, or cut off by the frame), the legs were not seen. Without it: bare
skin on the thighs or just below the knees means shorts, a skirt or a dress (a turned-up hem at the ankle is the
cuffs rule's), and cloth filling the space between the legs below the crotch, where trousers leave a gap, means a
skirt or a dress even over tights; those thresholds were chosen on CCP training photos
(`python -m models.training.rules`).
"""
from __future__ import annotations

from pydantic import Field

from checks.base import Check, CheckResult, CheckSection, Evidence, Status, TileLabels, calibrated, region_share
from models.perception import Perception

LEGS = ("thigh_left", "thigh_right", "shin_upper_left", "shin_upper_right")
MIN_PIXELS = 40


def measure(p: Perception) -> dict[str, float] | None:
    """The most skin-like leg part, and how much of the space between the legs is cloth (None: legs not seen)."""
    if p.skin is None or not all(p.region(n) is not None for n in LEGS):
        return None
    shares = []
    for name in LEGS:
        share, n = region_share(p, p.regions[name], p.skin)
        if n < MIN_PIXELS:
            return None
        shares.append(share)
    out = {"leg_skin": max(shares)}
    gap = p.region("leg_gap")
    if gap is not None and p.person_mask is not None:
        (x1, y1, x2, y2), mask = gap.local_mask(p.image.shape[1], p.image.shape[0])
        if mask.sum() >= MIN_PIXELS:
            cloth = (p.person_mask[y1:y2, x1:x2] > 0.5) & (p.skin[y1:y2, x1:x2] < 0.5)
            out["gap_cloth"] = float(cloth[mask].mean())
    return out


class LegwearPolicy(CheckSection):
    """[legwear] in the station config."""

    max_leg_skin: float | None = Field(None, ge=0.0, le=1.0, description="share of a thigh or knee that may look "
                                                                         "like bare skin; empty: the calibrated "
                                                                         "value")


class LegwearCheck(Check):
    id = "legwear"
    title_zh, title_en = "长裤", "Long trousers"
    fix_zh, fix_en = "请穿长裤", "Wear long trousers"
    Policy = LegwearPolicy
    order = 45
    models = ("legwear",)
    tile_labels = TileLabels("legwear", {"legs": ("腿部", "legs")}, "trousers", "not_trousers", fail_all_parts=True)
    needs_colour = True

    @classmethod
    def checked(cls, config) -> bool:
        # a uniform without long trousers ([uniform] long_trousers = false): shorts are allowed, nothing to check
        return super().checked(config) and config.uniform.long_trousers

    def run(self, p: Perception) -> CheckResult:
        probs, tile = p.classified.get("legs"), p.attire.tiles.get("legs")
        if probs is not None and tile is not None:
            return self.classified(p, probs, tile)
        m = None if self.classifier_loaded(p) else measure(p)  # e.g. the frame cuts off the lower legs
        if m is None:
            return self.unknown("看不到双腿，请后退、正面站立", "Legs not in view: step back and face the camera")
        cal = calibrated(self.id)
        limit = self.config.legwear.max_leg_skin
        limit = limit if limit is not None else cal.get("max_leg_skin", 0.35)
        bare = m["leg_skin"] > limit
        skirt = m.get("gap_cloth", 0.0) > cal.get("max_gap_cloth", 0.6)
        evidence = [Evidence.of_region(p.regions[n], Status.FAIL if bare else Status.PASS) for n in LEGS]
        if "leg_gap" in p.regions:
            evidence.append(Evidence.of_region(p.regions["leg_gap"], Status.FAIL if skirt else Status.PASS,
                                               m.get("gap_cloth")))
        if bare or skirt:
            return self.result(Status.FAIL, min(1.0, 0.6 + abs(m["leg_skin"] - limit)),
                               "未穿长裤（短裤、裙子或露腿），请换上工作裤",
                               "Not in long trousers (shorts, a skirt or bare legs): wear the uniform trousers",
                               evidence, **m)
        return self.result(Status.PASS, min(1.0, 0.5 + abs(m["leg_skin"] - limit)), "穿着长裤", "Long trousers",
                           evidence, **m)

    def classified(self, p: Perception, probs: dict[str, float], tile) -> CheckResult:
        """The trousers classifier's answer on the tile from the hips to the ankles."""
        return self.one_tile_verdict(p, probs, tile, "not_trousers",
                                     ("离摄像头太远，看不清裤子，请走近一些",
                                      "Too far to see the trousers: please step closer"),
                                     ("未穿长裤（短裤、裙子或露腿），请换上工作裤",
                                      "Not in long trousers (shorts, a skirt or bare legs): wear the uniform trousers"),
                                     ("穿着长裤", "Long trousers"),
                                     ("看不准是否穿着长裤：请站直，主管会核对",
                                      "Unclear: stand straight; a supervisor will check"))
