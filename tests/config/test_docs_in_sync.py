"""docs/configuration.md is generated from the models and must match them."""

from __future__ import annotations

from pathlib import Path

from config.docgen import render

REPO = Path(__file__).resolve().parents[2]


def test_configuration_reference_is_current() -> None:
    committed = (REPO / "docs" / "configuration.md").read_text()
    assert committed == render(), "run: python -m config.docgen > docs/configuration.md"
