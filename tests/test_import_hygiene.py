"""engine/ and config/ never import textual or console; headless commands never load Textual."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import engine

REPO = Path(__file__).resolve().parent.parent


def _engine_modules() -> list[str]:
    mods = ["config", "config.loader", "config.models", "config.secrets", "config.paths"]
    for info in pkgutil.walk_packages(engine.__path__, "engine."):
        mods.append(info.name)
    return mods


def test_engine_and_config_never_import_textual_or_console() -> None:
    mods = _engine_modules()
    code = (
        "import importlib, sys\n"
        f"mods = {mods!r}\n"
        "bad = []\n"
        "for m in mods:\n"
        "    importlib.import_module(m)\n"
        "leaks = sorted(k for k in sys.modules if k == 'textual' or k.startswith('textual.')"
        " or k == 'console' or k.startswith('console.'))\n"
        "print('LEAKS:' + ','.join(leaks))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "LEAKS:\n" in proc.stdout or proc.stdout.strip() == "LEAKS:", proc.stdout


def test_config_check_does_not_load_textual() -> None:
    code = (
        "import sys\n"
        "from engine.cli.main import main\n"
        "rc = main(['config', 'check', 'config/putdesk.yaml'])\n"
        "assert rc == 0\n"
        "print('TEXTUAL' if any(k.startswith('textual') for k in sys.modules) else 'CLEAN')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("CLEAN")


def test_putdesk_help_does_not_load_textual() -> None:
    code = (
        "import sys\n"
        "from engine.cli.main import build_parser\n"
        "build_parser()\n"
        "print('TEXTUAL' if any(k.startswith('textual') for k in sys.modules) else 'CLEAN')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "CLEAN"
