"""Drive the real terminal program (`putdesk console --demo`, what `make demo` runs) in tmux."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

PUTDESK = Path(sys.executable).parent / "putdesk"


class Tmux:
    """One private tmux server (-L) holding one session."""

    def __init__(self, state: Path) -> None:
        self.sock = f"putdesk-test-{uuid.uuid4().hex[:8]}"
        self.state = state

    def run(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.sock, *args], capture_output=True, text=True, timeout=10
        )
        return out.stdout

    def console_cmd(self) -> str:
        # COLUMNS/LINES inherited from the test process would pin the size at 80x24
        return (
            f"env -u COLUMNS -u LINES PUTDESK_STATE_DIR={self.state} TEXTUAL_ANIMATIONS=none "
            f"{PUTDESK} console --demo"
        )

    def start(self, width: int = 120, height: int = 40, cmd: str | None = None) -> None:
        cmd = cmd or f"{self.console_cmd()}; echo EXIT=$?; sleep 30"
        self.run("new-session", "-d", "-s", "pd", "-x", str(width), "-y", str(height), cmd)

    def screen(self) -> str:
        return self.run("capture-pane", "-t", "pd", "-p")

    def keys(self, *keys: str) -> None:
        for k in keys:
            self.run("send-keys", "-t", "pd", k)
            time.sleep(0.3)

    def wait(self, text: str, limit: float = 40) -> str:
        end = time.monotonic() + limit
        screen = ""
        while time.monotonic() < end:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.25)
        raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")

    def pane_pid(self) -> int:
        return int(self.run("display-message", "-p", "-t", "pd", "#{pane_pid}").strip())

    def kill(self) -> None:
        self.run("kill-server")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    state = tmp_path / "tmux-state"
    state.mkdir()
    t = Tmux(state)
    yield t
    t.kill()


def test_demo_scan_autoselect_kill_prompt_and_quit(tmux: Tmux) -> None:
    tmux.start()
    screen = tmux.wait("SIMULATED")
    assert "1 Scanner" in screen and "5 Activity" in screen
    assert " ET" in screen
    tmux.wait("ready")
    tmux.keys("o", "y", "s")  # override: the demo must work whatever the hour
    screen = tmux.wait("finished")
    assert "candidates" in screen and "Rejected" in screen
    tmux.keys("a")
    screen = tmux.wait("staged")
    assert "NLV" in screen and "headroom" in screen
    tmux.keys("K")
    screen = tmux.wait("No putdesk order is working now")
    assert "Kill switch" in screen
    tmux.keys("n", "q")
    screen = tmux.wait("EXIT=0")
    # the console and its in-process engines logged to a file, not to the terminal
    log = tmux.state / "logs" / "console.log"
    assert log.exists() and "Traceback" not in log.read_text()


def _exits_when_the_terminal_goes_away(tmux: Tmux) -> None:
    tmux.wait("ready")
    shell = tmux.pane_pid()
    children = subprocess.run(
        ["pgrep", "-P", str(shell)], capture_output=True, text=True, timeout=5
    ).stdout.split()
    assert children, "putdesk console is not running under the pane's shell"
    pid = int(children[0])
    tmux.kill()  # the terminal disappears: hangup
    # the in-process engines stop first (slow on a busy CI box); past 30 s the exit watchdog
    # ends the process and logs why, which fails this test too
    end = time.monotonic() + 45
    log = tmux.state / "logs" / "console.log"
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            text = log.read_text() if log.exists() else ""
            assert "ending the process now" not in text, f"the exit got stuck:\n{text[-6000:]}"
            return
        time.sleep(0.2)
    state = Path(f"/proc/{pid}/status")
    detail = state.read_text()[:400] if state.exists() else "(no /proc entry)"
    os.kill(pid, 9)
    raise AssertionError(f"putdesk console kept running after its terminal went away:\n{detail}")


def test_console_exits_when_the_terminal_goes_away(tmux: Tmux) -> None:
    tmux.start(80, 24)  # the pane's shell dies of SIGHUP, which then reaches the console
    _exits_when_the_terminal_goes_away(tmux)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_console_exits_when_its_session_leader_keeps_the_hangup(tmux: Tmux, tmp_path: Path) -> None:
    """`make demo` as the pane's command: make, the session leader, gets the hangup and waits
    for the console, so no SIGHUP ever reaches it; it must notice the dead terminal itself."""
    makefile = tmp_path / "Makefile"
    makefile.write_text(f"demo:\n\t{tmux.console_cmd()}\n")
    tmux.start(80, 24, cmd=f"exec make -s -f {makefile} demo")
    _exits_when_the_terminal_goes_away(tmux)
