"""Normalise EngineAPI `Result.data` payloads into the flat views the widgets render.

The engine's handlers (engine/runtime/core_commands.py, engine/selection/service.py) return
database rows and broker summaries; these pure functions map them (and the older flat shapes
the console's fake engine also speaks) to one view per pane. docs/console.md lists the fields.
Money may arrive as Decimal, str or float: widgets format with float().
"""

from __future__ import annotations

import json
from typing import Any

COMPONENTS = ("safety", "liquidity", "ai", "efficiency")


def _f(v: Any) -> float | None:
    if v is None or v == "":
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _json(v: Any) -> dict[str, Any]:
    if isinstance(v, dict):
        return v
    if isinstance(v, str) and v:
        try:
            out = json.loads(v)
        except ValueError:
            return {}
        return out if isinstance(out, dict) else {}
    return {}


# -- status -------------------------------------------------------------------------------
def budget_view(b: dict[str, Any]) -> dict[str, Any]:
    """{nlv, margin_in_use, budget, budget_pct, lineup_margin, working_margin, headroom,
    available, reason}."""
    if not b:
        return {}
    out = {
        "nlv": _f(b.get("nlv", b.get("net_liquidation"))),
        "margin_in_use": _f(b.get("margin_in_use", b.get("full_maint_margin"))),
        "budget": _f(b.get("budget")),
        "budget_pct": _f(b.get("budget_pct")),
        "lineup_margin": _f(b.get("lineup_margin")),
        "working_margin": _f(b.get("working_margin")),
        "headroom": _f(b.get("headroom")),
        "available": b.get("available", True),
        "reason": b.get("reason"),
    }
    return {k: v for k, v in out.items() if v is not None}


def status_view(d: dict[str, Any]) -> dict[str, Any]:
    """The header's view of GetStatus (engine + connection + budget + halted)."""
    engine = d.get("engine") or {}
    conn = d.get("connection") or {}
    halted = d.get("halted")
    if isinstance(halted, dict):
        is_halted, halted_reason = bool(halted.get("halted")), halted.get("reason")
    else:
        is_halted = engine.get("state") == "halted"
        halted_reason = engine.get("halted_reason")
    label = str(engine.get("label") or "").upper()
    simulated = bool(d.get("simulated", engine.get("simulated", conn.get("simulated"))))
    mode = d.get("mode") or conn.get("account_kind") or (label.lower() if label else None)
    clock = dict(d.get("clock") or {})
    if "now" not in clock and engine.get("now"):
        clock["now"] = engine["now"]
    clock.setdefault("simulated", simulated)
    ai = d.get("ai") or {}
    return {
        "account": d.get("account") or conn.get("account"),
        "mode": mode,
        "simulated": simulated,
        "connection": {
            "state": conn.get("state") or "unknown",
            "market_data": conn.get("market_data") or conn.get("market_data_type") or "unknown",
            "reason": None
            if str(conn.get("state") or "").lower() in {"connected", "ready"}
            else (conn.get("reason") or conn.get("trading_reason")),
        },
        "engine": {
            "state": "halted" if is_halted else (engine.get("state") or "ready"),
            "halted_reason": halted_reason,
        },
        "clock": clock,
        "market": d.get("market") or {},
        "automation_level": d.get("automation_level") or engine.get("level"),
        "ai": ai,
        "budget": budget_view(d.get("budget") or {}),
        "regime": d.get("regime") or {},
        "unprotected": list(d.get("unprotected") or []),
        "schedule": d.get("schedule") or {},
    }


# -- scanner ------------------------------------------------------------------------------
def strike_rejections(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The strikes of a symbol that were not chosen, each with its reason (the row's
    `rejections_json`: [{expiry, strike, con_id, code, text}])."""
    raw = row.get("strike_rejections", row.get("rejections_json"))
    if isinstance(raw, str) and raw:
        try:
            raw = json.loads(raw)
        except ValueError:
            return []
    return [r for r in raw if isinstance(r, dict)] if isinstance(raw, list) else []


def candidate_view(row: dict[str, Any]) -> dict[str, Any]:
    """One candidate row (engine DB row or flat shape) as the scanner table's view."""
    c = dict(row)
    c["strike_rejections"] = strike_rejections(row)
    comps = dict(c.get("components") or {})
    for k in COMPONENTS:
        if comps.get(k) is None and c.get(f"score_{k}") is not None:
            comps[k] = c[f"score_{k}"]
    c["components"] = comps
    if not c.get("ai_line") and c.get("ai_reason"):
        c["ai_line"] = c["ai_reason"]
    if not c.get("reason") and c.get("reason_text"):
        c["reason"] = c["reason_text"]
    c["stale"] = bool(c.get("stale"))
    return c


def scan_view(d: dict[str, Any]) -> dict[str, Any]:
    """{scan: {id, state, progress, stale, ai_reason}, candidates: [...], rejections: [...]}.

    Only each symbol's best strike is a table row (status candidate / staged / approved);
    rows with status "rejected" become rejections with their reason; finalists are dropped."""
    raw_scan = d.get("scan") or {}
    scan = dict(raw_scan)
    if raw_scan:
        scan.setdefault("state", raw_scan.get("status") or "finished")
        if "progress" not in scan and raw_scan.get("symbols_total") is not None:
            scan["progress"] = {
                "done": raw_scan.get("symbols_done"),
                "total": raw_scan.get("symbols_total"),
            }
        scan["stale"] = bool(raw_scan.get("stale"))
    cands: list[dict[str, Any]] = []
    rejections = list(d.get("rejections") or [])
    for row in d.get("candidates") or []:
        status = row.get("status")
        if status == "finalist":
            continue
        if status == "rejected":
            rejections.append(
                {
                    "symbol": row.get("symbol"),
                    "code": row.get("reason_code") or row.get("code"),
                    "reason": row.get("reason_text") or row.get("reason"),
                    "strike_rejections": strike_rejections(row),
                }
            )
            continue
        cands.append(candidate_view(row))
    return {"scan": scan, "candidates": cands, "rejections": rejections}


# -- lineup -------------------------------------------------------------------------------
def lineup_entry_view(row: dict[str, Any]) -> dict[str, Any]:
    e = dict(row)
    sel = _json(e.get("selection") or e.get("selection_json"))
    for k in ("score", "dte", "mid", "delta"):
        if e.get(k) is None and sel.get(k) is not None:
            e[k] = sel[k]
    if e.get("limit") is None:
        e["limit"] = e.get("limit_price") or e.get("mid") or sel.get("mid")
    e["stale"] = bool(e.get("stale"))
    return e


def lineup_view(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "entries": [lineup_entry_view(r) for r in d.get("entries") or []],
        "budget": budget_view(d.get("budget") or {}),
        "done": [lineup_entry_view(r) for r in d.get("done") or []],
    }


# -- positions and orders ------------------------------------------------------------------
def position_view(p: dict[str, Any]) -> dict[str, Any]:
    out = dict(p)
    if out.get("quantity") is None and out.get("position") is not None:
        out["quantity"] = out["position"]
    if out.get("avg_price") is None and out.get("avg_cost") is not None:
        mult = _f(out.get("multiplier")) or (100.0 if out.get("sec_type") == "OPT" else 1.0)
        out["avg_price"] = (_f(out["avg_cost"]) or 0.0) / mult
    return out


def order_view(o: dict[str, Any]) -> dict[str, Any]:
    out = dict(o)
    if out.get("limit") is None and out.get("limit_price") is not None:
        out["limit"] = out["limit_price"]
    return out


def positions_view(d: dict[str, Any]) -> dict[str, Any]:
    return {"positions": [position_view(p) for p in d.get("positions") or []]}


def orders_view(d: dict[str, Any]) -> dict[str, Any]:
    return {"orders": [order_view(o) for o in d.get("orders") or []]}


def command_summary(label: str, data: dict[str, Any]) -> str:
    """One line for the activity log and the notification after a command succeeded."""
    if data.get("message"):
        return str(data["message"])
    if label == "scan":
        scan = data.get("scan") or {}
        cands = [c for c in data.get("candidates") or [] if c.get("status") == "candidate"]
        return f"scan {scan.get('id', data.get('scan_id', ''))} finished: {len(cands)} candidates"
    if label == "auto_select":
        added = data.get("added")
        n = len(added) if isinstance(added, list) else added
        return f"auto-select staged {n} entries"
    if label == "stage":
        return f"staged (lineup #{data.get('lineup_id')}, qty {data.get('quantity')})"
    if label == "approve":
        approved = data.get("approved")
        n = len(approved) if isinstance(approved, list) else approved
        refused = data.get("refused") or []
        return f"approved {n}" + (f", refused {len(refused)}" if refused else "")
    if label == "protect_positions":
        decisions = data.get("decisions") or []
        placed = sum(1 for d in decisions if d.get("code") == "exits.protected")
        others = [d for d in decisions if d.get("code") != "exits.protected"]
        text = f"exits placed for {placed} trade(s)"
        return text + (f"; {others[0]['text']}" if placed == 0 and others else "")
    if label == "execute_now" and data.get("reason"):
        return f"execute now: {data['reason']}"
    if label == "kill":
        return f"HALTED: {data.get('cancelled', 0)} order(s) cancelled"
    if label == "save_settings":
        return "settings saved" + (f" to {data['path']}" if data.get("path") else "")
    return f"{label.replace('_', ' ')}: done"
