"""import-historical-trades: backfill trades from an Activity Flex Query, in <= 365-day parts.

IBKR serves at most 365 days per request, so the range is split into consecutive chunks;
each chunk is downloaded, parsed and booked in its own transaction. Booking is idempotent
(rows already in `flex_rows` are skipped), so an interrupted backfill can simply be re-run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.records.flex_client import FlexClient
from engine.records.importer import parse_statement
from engine.records.reconcile import ReconcileSummary, reconcile_statement
from engine.store.db import Store

MAX_DAYS = 365
Progress = Callable[[str], None]


def split_range(
    start: dt.date, end: dt.date, max_days: int = MAX_DAYS
) -> list[tuple[dt.date, dt.date]]:
    """Consecutive inclusive (from, to) chunks of at most `max_days` days covering the range."""
    if end < start:
        raise ValueError(f"end date {end} is before start date {start}")
    out = []
    cur = start
    while cur <= end:
        last = min(end, cur + dt.timedelta(days=max_days - 1))
        out.append((cur, last))
        cur = last + dt.timedelta(days=1)
    return out


@dataclass
class HistoricalSummary:
    """The outcome of a backfill: one reconcile summary per chunk."""

    start: dt.date
    end: dt.date
    chunks: list[ReconcileSummary] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        out: dict[str, int] = {"rows_new": 0, "rows_skipped": 0, "problems": 0}
        for c in self.chunks:
            out["rows_new"] += c.rows_new
            out["rows_skipped"] += c.rows_skipped
            out["problems"] += len(c.problems)
            for k, v in c.counts.items():
                out[k] = out.get(k, 0) + v
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "totals": self.totals(),
            "chunks": [c.as_dict() for c in self.chunks],
        }


async def import_historical(
    store: Store,
    client: FlexClient,
    query_id: str,
    start: dt.date,
    end: dt.date,
    *,
    progress: Progress | None = None,
) -> HistoricalSummary:
    """Download and book every chunk of [start, end]; progress lines go to `progress`."""
    chunks = split_range(start, end)
    out = HistoricalSummary(start=start, end=end)
    for i, (fd, td) in enumerate(chunks, 1):
        if progress:
            progress(f"chunk {i}/{len(chunks)}: {fd} .. {td}")
        dl = await client.fetch(query_id, from_date=fd, to_date=td, progress=progress)
        stmt = parse_statement(dl.data)
        summary = await reconcile_statement(
            store, stmt, kind="historical", query_id=query_id, reference_code=dl.reference_code
        )
        out.chunks.append(summary)
        if progress:
            progress(f"chunk {i}/{len(chunks)}: {summary.headline()}")
    return out
