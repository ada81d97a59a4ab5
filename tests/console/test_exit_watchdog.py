"""The exit watchdog ends a console process that a stuck thread would keep alive."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

from console import exit_watchdog

STUCK = textwrap.dedent(
    """
    import logging, sys, threading
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    from console import exit_watchdog

    stuck = threading.Event()

    def closing_the_store():
        stuck.wait()

    # not a daemon: the interpreter waits for it at exit, for ever
    threading.Thread(target=closing_the_store, name="stuck-db-thread").start()
    assert exit_watchdog.arm("the test's console returned", 3, grace_s=0.5)
    assert not exit_watchdog.arm("a second time", 4, grace_s=0.1)  # armed once only
    sys.exit(0)
    """
)


def test_a_stuck_thread_cannot_keep_the_console_alive() -> None:
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", STUCK], capture_output=True, text=True, timeout=60)
    assert out.returncode == 3, out.stderr
    assert time.monotonic() - started < 30
    assert "still running 0 s after the test's console returned" in out.stderr
    # where it was stuck
    assert "stuck-db-thread" in out.stderr and "closing_the_store" in out.stderr


def test_thread_stacks_names_each_thread_but_its_caller() -> None:
    gate = threading.Event()

    def parked() -> None:
        gate.wait()

    t = threading.Thread(target=parked, name="parked-here", daemon=True)
    t.start()
    try:
        stacks = exit_watchdog.thread_stacks()
    finally:
        gate.set()
        t.join(5)
    assert "thread 'parked-here'" in stacks and "in parked" in stacks
    assert "thread 'MainThread'" not in stacks  # the thread asking is left out
