"""Every rule the station knows, by id; `build_checks` makes the ones the policy enables, in display order."""
from __future__ import annotations

from typing import TYPE_CHECKING

from checks.accessories import AccessoriesCheck
from checks.badge import BadgeCheck
from checks.base import Check
from checks.cuffs import CuffsCheck
from checks.footwear import FootwearCheck
from checks.uniform import UniformCheck

if TYPE_CHECKING:
    from station.config import StationConfig

REGISTRY: dict[str, type[Check]] = {c.id: c for c in (UniformCheck, BadgeCheck, FootwearCheck, CuffsCheck,
                                                       AccessoriesCheck)}


def build_checks(config: "StationConfig") -> list[Check]:
    return [cls(config) for check_id, cls in REGISTRY.items() if getattr(config, check_id).enabled]
