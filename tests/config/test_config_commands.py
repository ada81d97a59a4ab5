"""`putdesk config show|path|schema` and secret handling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.secrets import Secret, SecretError, get_secret, read_secret_file


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_show_masks_secrets(tmp_path: Path) -> None:
    out = run("config", "show", "--json", env={"ANTHROPIC_API_KEY": "sk-ant-verysecret"})
    assert out.returncode == 0, out.stderr
    assert "verysecret" not in out.stdout
    doc = json.loads(out.stdout)["data"]
    assert doc["config"]["secrets"]["ai_api_key"] == "******** (set)"
    assert doc["config"]["secrets"]["flex_token"] == "(not set)"


def test_path_and_schema() -> None:
    out = run("config", "path", "--json")
    assert out.returncode == 0
    info = json.loads(out.stdout)["data"]
    assert info["database"].endswith("putdesk-DU1234567.db")
    assert info["socket"].endswith("-DU1234567.sock")
    acct = json.loads(run("config", "path", "--json", "--account", "DU7654321").stdout)["data"]
    assert acct["database"].endswith("putdesk-DU7654321.db")
    assert info["state_dir"] == os.environ["PUTDESK_STATE_DIR"]
    schema = json.loads(run("config", "schema").stdout)
    assert "selection" in schema["properties"]
    nt = json.loads(run("config", "schema", "--nakedtrader").stdout)
    assert "delta_target" in nt["properties"]


def test_secret_never_shows() -> None:
    s = Secret("abc123")
    assert "abc123" not in repr(s) and "abc123" not in str(s) and "abc123" not in f"{s}"
    assert s.reveal() == "abc123"


def test_secret_file_must_be_owner_only(tmp_path: Path) -> None:
    f = tmp_path / "token"
    f.write_text("tok-xyz\n")
    f.chmod(0o644)
    with pytest.raises(SecretError) as info:
        read_secret_file(f)
    assert "chmod 600" in str(info.value) and "tok-xyz" not in str(info.value)
    f.chmod(0o600)
    assert read_secret_file(f).reveal() == "tok-xyz"
    assert get_secret("NOPE_NOT_SET", f, environ={}) == Secret("tok-xyz")
    assert get_secret("T", None, environ={"T": "envtok"}) == Secret("envtok")
    assert get_secret("T", None, environ={}) is None
