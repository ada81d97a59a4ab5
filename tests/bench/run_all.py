"""`make bench`: run every benchmark (each in its own process) and print their tables.

Benchmarks are not tests: they measure speed and resource use against the targets in the
issues and print tables. Run one alone with `python -m tests.bench.bench_<name> --help`.
"""

from __future__ import annotations

import subprocess
import sys
import time

BENCHES = [
    ("simulated gateway: messages/s and streaming CPU", "tests.bench.bench_sim"),
    (
        "selection: scan wall time and messages vs pacing bound and naive",
        "tests.bench.bench_selection",
    ),
    ("records: Flex import of 10,000 trades", "tests.bench.bench_records"),
    ("console: cold start, keypress latency, CPU", "tests.bench.bench_console"),
    ("scheduler: a whole trading day in virtual time", "tests.bench.bench_scheduler_day"),
]


def main(argv: list[str] | None = None) -> int:
    only = set(argv if argv is not None else sys.argv[1:])
    failed = []
    for title, module in BENCHES:
        if only and not any(o in module for o in only):
            continue
        print(f"\n=== {title} ({module}) ===", flush=True)
        start = time.perf_counter()
        rc = subprocess.call([sys.executable, "-m", module])
        print(f"--- {module}: exit {rc}, {time.perf_counter() - start:.1f} s wall", flush=True)
        if rc != 0:
            failed.append(module)
    if failed:
        print(f"\nbenchmarks that failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
