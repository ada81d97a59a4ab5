"""Fixtures for records tests: a fresh store and the real Flex statements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.store import Store

FLEX = Path(__file__).resolve().parent.parent / "fixtures" / "flex"
ORCL = FLEX / "ibkr-real-short-put-assigned.xml"
EAE = FLEX / "ibkr-real-option-eae.xml"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "records.db")
    try:
        yield s
    finally:
        await s.close()
