"""Snapshots of every console screen at 120x40 (fake engine, frozen clocks)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.console.conftest import make_app
from tests.console.snapshots import SCENARIOS


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_screen_120x40(name: str, snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=SCENARIOS[name])
