"""A/B test of scoring weights: which arm a trading day's scans use, and its weights. Pure.

Arms alternate by New York trading date (the date's ordinal, even A, odd B), so each day's
lineup is scored one way and the arms get the same mix of weekdays over time. The arm is
stored with the scan and every lineup entry, hence with the trades (`selection_json`), and
`putdesk outcomes --by arm` compares them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from config.models import SelectionConfig, Weights


@dataclass(frozen=True)
class Arm:
    test: str
    name: str  # "A" | "B"
    weights: Weights

    def as_dict(self) -> dict[str, object]:
        return {"test": self.test, "arm": self.name, "weights": self.weights.model_dump()}


def arm_for(day: dt.date, cfg: SelectionConfig) -> Arm | None:
    """The arm of `day` when the test is on, else None (the normal weights)."""
    ab = cfg.ab_test
    if not ab.enabled:
        return None
    if day.toordinal() % 2 == 0:
        return Arm(ab.name, "A", cfg.weights)
    return Arm(ab.name, "B", ab.weights_b)


def with_arm(cfg: SelectionConfig, arm: Arm | None) -> SelectionConfig:
    """The selection settings a scan ranks with: the arm's weights when there is one."""
    return cfg if arm is None else cfg.model_copy(update={"weights": arm.weights})
