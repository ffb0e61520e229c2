"""Every rule the station knows, found in this package: each module of `checks/` that defines a `Check` subclass
with an `id` is a rule (adding a rule is adding one module). `build_checks` makes the ones the policy enables, in
display order."""
from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from checks.base import Check

if TYPE_CHECKING:
    from station.config import StationConfig

NOT_RULES = {"base", "registry"}


def discover() -> dict[str, type[Check]]:
    import checks

    found: dict[str, type[Check]] = {}
    for info in pkgutil.iter_modules(checks.__path__):
        if info.name in NOT_RULES or info.name.startswith("_"):  # a private helper module is not a rule
            continue
        module = importlib.import_module(f"checks.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Check) and obj.__module__ == module.__name__ \
                    and isinstance(getattr(obj, "id", None), str):
                if obj.id in found:
                    raise RuntimeError(f"two rules share the id {obj.id!r}: {found[obj.id]} and {obj}")
                found[obj.id] = obj
    return dict(sorted(found.items(), key=lambda item: (item[1].order, item[0])))


REGISTRY: dict[str, type[Check]] = discover()


def build_checks(config: "StationConfig") -> list[Check]:
    return [cls(config) for cls in REGISTRY.values() if cls.checked(config)]
