"""Scans, their candidates and config snapshots (tables from m0001).

A scan row is written when the scan starts and finished when it ends; one candidates row per
symbol: status 'candidate' (its best strike), 'finalist' (other strikes that passed every
filter and got a what-if margin) or 'rejected' (no candidate, with the symbol's reason). Every
rejected strike of a symbol is kept in its best/rejected row's `rejections_json`. Config
snapshots are deduplicated by SHA-256 of the canonical JSON body.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from engine.store.db import Store, insert_row, to_json, update_row, utcnow_iso

CANDIDATE_COLUMNS = (
    "symbol",
    "sector",
    "status",
    "reason_code",
    "reason_text",
    "underlying_price",
    "con_id",
    "expiry",
    "dte",
    "strike",
    "bid",
    "ask",
    "mid",
    "iv",
    "delta",
    "gamma",
    "theta",
    "vega",
    "otm_pct",
    "volume",
    "open_interest",
    "margin",
    "return_on_margin",
    "score",
    "score_safety",
    "score_liquidity",
    "score_ai",
    "score_efficiency",
    "ai_score",
    "ai_reason",
    "market_data_type",
    "quote_time",
    "stale",
    "data_flags",
    "rejections_json",
)


async def snapshot_config(store: Store, cfg: BaseModel, kind: str = "main") -> int:
    """Id of the config snapshot holding `cfg` (inserted when new). Config carries only the
    names of secret env vars and files, never secret values."""
    body = json.dumps(cfg.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    sha = hashlib.sha256(body.encode()).hexdigest()
    async with store.transaction() as conn:
        async with conn.execute(
            "SELECT id FROM config_snapshots WHERE kind=? AND sha256=?", (kind, sha)
        ) as cur:
            row = await cur.fetchone()
        if row is not None:
            return int(row[0])
        return await insert_row(
            conn,
            "config_snapshots",
            {"created_at": utcnow_iso(), "kind": kind, "sha256": sha, "body": body},
        )


async def get_config_snapshot(store: Store, snapshot_id: int) -> dict[str, Any] | None:
    row = await store.fetchone("SELECT * FROM config_snapshots WHERE id=?", (snapshot_id,))
    if row is None:
        return None
    row["body"] = json.loads(row["body"])
    return row


@dataclass
class CandidateRecord:
    """One candidates row to insert; keys are column names (money as Decimal)."""

    values: dict[str, Any] = field(default_factory=dict)

    def row(self, scan_id: int) -> dict[str, Any]:
        out = {k: v for k, v in self.values.items() if k in CANDIDATE_COLUMNS}
        out["scan_id"] = scan_id
        for k in ("data_flags", "rejections_json"):
            if k in out and not isinstance(out[k], str | None):
                out[k] = to_json(out[k])
        return out


def _iso(now: dt.datetime | None) -> str:
    return now.astimezone(dt.UTC).isoformat(timespec="microseconds") if now else utcnow_iso()


class ScanRepo:
    """Reads and writes scans and candidates."""

    def __init__(self, store: Store):
        self.store = store

    async def start(
        self,
        *,
        account_id: str | None,
        source: str,
        symbols_total: int,
        stale: bool,
        config_snapshot_id: int | None,
        now: dt.datetime | None = None,
    ) -> int:
        """A running scan; `now` is the engine's clock (the simulated time on the demo)."""
        return await self.store.insert(
            "scans",
            {
                "account_id": account_id,
                "started_at": _iso(now),
                "status": "running",
                "source": source,
                "symbols_total": symbols_total,
                "symbols_done": 0,
                "stale": int(stale),
                "config_snapshot_id": config_snapshot_id,
            },
        )

    async def progress(self, scan_id: int, done: int) -> None:
        async with self.store.transaction() as conn:
            await update_row(conn, "scans", scan_id, {"symbols_done": done})

    async def finish(
        self,
        scan_id: int,
        *,
        status: str,
        candidates: list[CandidateRecord],
        ai_status: str | None = None,
        ai_reason: str | None = None,
        messages_sent: int | None = None,
        summary: Mapping[str, Any] | None = None,
        now: dt.datetime | None = None,
    ) -> list[int]:
        """Write every candidate row and close the scan, in one transaction."""
        ids: list[int] = []
        async with self.store.transaction() as conn:
            for rec in candidates:
                ids.append(await insert_row(conn, "candidates", rec.row(scan_id)))
            await update_row(
                conn,
                "scans",
                scan_id,
                {
                    "finished_at": _iso(now),
                    "status": status,
                    "ai_status": ai_status,
                    "ai_reason": ai_reason,
                    "messages_sent": messages_sent,
                    "summary_json": to_json(dict(summary or {})),
                },
            )
        return ids

    async def fail(self, scan_id: int, reason: str, now: dt.datetime | None = None) -> None:
        async with self.store.transaction() as conn:
            await update_row(
                conn,
                "scans",
                scan_id,
                {
                    "finished_at": _iso(now),
                    "status": "failed",
                    "summary_json": to_json({"error": reason}),
                },
            )

    async def get(
        self, scan_id: int | None = None, account_id: str | None = None
    ) -> dict[str, Any] | None:
        """A scan (the latest when `scan_id` is None, for `account_id` when given)."""
        if scan_id is not None:
            row = await self.store.fetchone("SELECT * FROM scans WHERE id=?", (scan_id,))
        elif account_id is not None:
            row = await self.store.fetchone(
                "SELECT * FROM scans WHERE account_id=? ORDER BY id DESC LIMIT 1", (account_id,)
            )
        else:
            row = await self.store.fetchone("SELECT * FROM scans ORDER BY id DESC LIMIT 1")
        if row is not None and row.get("summary_json"):
            row["summary"] = json.loads(row.pop("summary_json"))
        return row

    async def candidates(self, scan_id: int, status: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM candidates WHERE scan_id=?"
        params: list[Any] = [scan_id]
        if status is not None:
            sql += " AND status=?"
            params.append(status)
        rows = await self.store.fetchall(sql + " ORDER BY score DESC NULLS LAST, id", params)
        return [decode_candidate(r) for r in rows]

    async def candidate(self, candidate_id: int) -> dict[str, Any] | None:
        row = await self.store.fetchone("SELECT * FROM candidates WHERE id=?", (candidate_id,))
        return None if row is None else decode_candidate(row)


def decode_candidate(row: dict[str, Any]) -> dict[str, Any]:
    """JSON columns parsed; money columns stay exact strings (use Decimal(row[...]))."""
    for k in ("data_flags", "rejections_json"):
        if row.get(k):
            row[k] = json.loads(row[k])
    row["stale"] = bool(row.get("stale"))
    return row


def dec_field(row: Mapping[str, Any], key: str) -> Decimal | None:
    v = row.get(key)
    return None if v in (None, "") else Decimal(str(v))
