"""The `putdesk` command tree: every required command, --help on every level, the common
options on every engine command, usage errors (exit 2) and docs/cli.md covering it all."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from engine.cli.main import build_parser
from tests.cli.conftest import Run

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"

#: Commands that talk to the engine (or the account's database) and take the common options.
ENGINE_COMMANDS = (
    "status",
    "scan",
    "lineup",
    "execute-two-tier",
    "protect-exits",
    "orders",
    "positions",
    "trades",
    "kill",
    "resume",
    "events",
    "nt",
    "nt-watch",
    "nt-status",
    "reconcile-positions",
    "reconcile-eod",
    "import-historical-trades",
    "engine",
)
REQUIRED = (*ENGINE_COMMANDS, "sim", "config", "console")


def subparsers(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            return dict(a.choices)
    return {}


def every_parser() -> list[tuple[str, argparse.ArgumentParser]]:
    out: list[tuple[str, argparse.ArgumentParser]] = []

    def walk(prefix: str, p: argparse.ArgumentParser) -> None:
        out.append((prefix, p))
        for name, child in subparsers(p).items():
            walk(f"{prefix} {name}".strip(), child)

    walk("", build_parser())
    return out


def long_options(p: argparse.ArgumentParser) -> set[str]:
    return {o for a in p._actions for o in a.option_strings if o.startswith("--")}


def test_every_required_command_exists() -> None:
    top = subparsers(build_parser())
    assert set(REQUIRED) <= set(top)
    assert {"stats", "control"} <= set(subparsers(top["sim"]))
    assert {"check", "show", "path", "schema"} <= set(subparsers(top["config"]))


@pytest.mark.parametrize("name", ENGINE_COMMANDS)
def test_common_options_everywhere(name: str) -> None:
    p = subparsers(build_parser())[name]
    assert {"--config", "--account", "--json", "--live"} <= long_options(p)


def test_help_on_every_level(run: Run) -> None:
    for path, _ in every_parser():
        code, out, _ = run(*path.split(), "--help")
        assert code == 0, path
        assert out.startswith("usage: putdesk"), path


@pytest.mark.parametrize(
    "argv",
    [
        (),
        ("no-such-command",),
        ("lineup", "set-qty", "1"),
        ("lineup", "remove"),
        ("lineup", "frobnicate"),
        ("trades", "--since", "yesterday"),
        ("import-historical-trades", "--start-date", "2026-01-02"),
        ("scan", "--bogus"),
    ],
)
def test_usage_errors_exit_2(run: Run, argv: tuple[str, ...]) -> None:
    code, _, err = run(*argv)
    assert code == 2
    assert argv == () or "usage" in err


def test_docs_cover_every_command_and_option() -> None:
    text = DOCS.read_text()
    missing = []
    for path, p in every_parser():
        if path and f"putdesk {path}" not in text:
            missing.append(f"putdesk {path}")
        for opt in sorted(long_options(p) - {"--help", "--version"}):
            if f"`{opt}" not in text and f"{opt} " not in text:
                missing.append(f"{path} {opt}")
    assert not missing, missing
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 3 |"):
        assert code in text
