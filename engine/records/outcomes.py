"""Outcome reports (the learning engine's reports): booked trades grouped by what selected
them, with their results. Pure: `TradeOutcome` rows in, `OutcomeRow` buckets out.

A trade carries what it was chosen on: its lineup entry's selection data (|delta|, DTE, score
and its components, sector, margin), the config snapshot, and the market regime at entry.
Grouped by one of DIMENSIONS, each bucket reports trades (closed / open), wins and losses
(net P&L after commissions above zero is a win), the win rate with its Wilson 95 % interval,
net P&L (total and per closed trade), the share of the premium kept, return on margin and
assignments.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

UNKNOWN = "unknown"
CENT = Decimal("0.01")

DELTA_EDGES = (0.05, 0.065, 0.08, 0.10, 0.15, 0.20, 0.30)
DTE_BINS = ((0, 1), (2, 3), (4, 7), (8, 14), (15, 30))
SCORE_EDGES = (50.0, 60.0, 70.0, 80.0, 90.0)
VIX_ORDER = ("very calm", "normal", "elevated", "stress", "panic")
SCORE_KEYS = ("score", "safety", "liquidity", "ai", "efficiency")


@dataclass(frozen=True)
class TradeOutcome:
    """One booked trade and what selected it (None where it is not known, e.g. a trade opened
    by hand and imported)."""

    trade_id: int
    strategy: str
    symbol: str
    status: str
    exit_reason: str | None = None
    net_pnl: Decimal | None = None
    premium: Decimal | None = None  # credit received: entry price x quantity x multiplier
    margin: Decimal | None = None  # margin at selection: per contract x quantity
    delta: float | None = None  # |delta| at selection
    dte: int | None = None  # days to expiry at entry
    sector: str | None = None
    regime: str | None = None  # the regime label at entry
    scores: Mapping[str, float | None] = field(default_factory=dict)
    config_snapshot_id: int | None = None
    arm: str | None = None  # "<test> <arm>" of an A/B test of scoring weights

    @property
    def closed(self) -> bool:
        return self.status == "closed" and self.net_pnl is not None


def _edges_label(x: float, edges: Sequence[float], fmt: str) -> str:
    if x < edges[0]:
        return f"<{edges[0]:{fmt}}"
    for lo, hi in itertools.pairwise(edges):
        if x < hi:
            return f"{lo:{fmt}}-{hi:{fmt}}"
    return f">={edges[-1]:{fmt}}"


def delta_bucket(d: float | None) -> str:
    return UNKNOWN if d is None else _edges_label(abs(d), DELTA_EDGES, ".3f")


def dte_bucket(days: int | None) -> str:
    if days is None:
        return UNKNOWN
    for lo, hi in DTE_BINS:
        if lo <= days <= hi:
            return f"{lo}-{hi}"
    return f">{DTE_BINS[-1][1]}" if days > DTE_BINS[-1][1] else UNKNOWN


def score_bucket(s: float | None) -> str:
    return UNKNOWN if s is None else _edges_label(s, SCORE_EDGES, ".0f")


_REGIME = re.compile(r"^VIX\s+[\d.]+\s+(?P<rest>.*)$")


def regime_parts(label: str | None) -> tuple[str, str, str]:
    """(VIX bucket, term structure, trend) from a regime label such as "VIX 17.1 normal,
    contango, trend up"; "unknown" for what it does not say."""
    if not label or not (m := _REGIME.match(label.strip())):
        return UNKNOWN, UNKNOWN, UNKNOWN
    parts = [p.strip() for p in m.group("rest").split(",")]
    vix = parts[0] if parts and parts[0] in VIX_ORDER else UNKNOWN
    term = next((p for p in parts[1:] if p in ("contango", "backwardation", "flat")), UNKNOWN)
    trend = next((p.removeprefix("trend ") for p in parts[1:] if p.startswith("trend ")), UNKNOWN)
    return vix, term, trend


def _regime(o: TradeOutcome) -> str:
    vix, term, trend = regime_parts(o.regime)
    if vix == UNKNOWN:
        return UNKNOWN
    return ", ".join(p for p in (vix, term, f"trend {trend}" if trend != UNKNOWN else "") if p)


def _score(key: str) -> Callable[[TradeOutcome], str]:
    return lambda o: score_bucket(o.scores.get(key))


BUCKETS: dict[str, Callable[[TradeOutcome], str]] = {
    "regime": _regime,
    "vix": lambda o: regime_parts(o.regime)[0],
    "term": lambda o: regime_parts(o.regime)[1],
    "trend": lambda o: regime_parts(o.regime)[2],
    "delta": lambda o: delta_bucket(o.delta),
    "dte": lambda o: dte_bucket(o.dte),
    "sector": lambda o: o.sector or UNKNOWN,
    **{k: _score(k) for k in SCORE_KEYS},
    "setting": lambda o: (
        f"config #{o.config_snapshot_id}" if o.config_snapshot_id is not None else UNKNOWN
    ),
    "strategy": lambda o: o.strategy,
    "arm": lambda o: o.arm or "no test",
}
DIMENSIONS: tuple[str, ...] = tuple(BUCKETS)


def _order_key(dim: str, label: str) -> tuple[int, float, str]:
    """Numeric buckets in numeric order, VIX buckets calm to panic, the rest by name;
    "unknown" last."""
    if label == UNKNOWN:
        return (2, 0.0, label)
    if dim == "vix" or dim == "regime":
        first = label.split(",")[0]
        if first in VIX_ORDER:
            return (0, float(VIX_ORDER.index(first)), label)
    m = re.search(r"[\d.]+", label)
    if m and dim in ("delta", "dte", *SCORE_KEYS):
        lead = -1.0 if label.startswith("<") else (1e9 if label.startswith(">") else 0.0)
        return (0, lead + float(m.group(0)), label)
    return (1, 0.0, label)


def wilson_interval(wins: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """Wilson score interval for a win rate (95 % by default); None without trades."""
    if n <= 0:
        return None
    p = wins / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class OutcomeRow:
    """One bucket's results; money is Decimal, rates are fractions."""

    bucket: str
    trades: int
    closed: int
    open: int
    wins: int
    losses: int
    assigned: int
    net_pnl: Decimal
    premium: Decimal  # over the closed trades whose premium is known ...
    net_of_premium: Decimal  # ... and their net P&L
    margin: Decimal  # over the closed trades whose margin at selection is known ...
    net_of_margin: Decimal  # ... and their net P&L

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.closed if self.closed else None

    @property
    def avg_net(self) -> Decimal | None:
        return (self.net_pnl / self.closed).quantize(CENT) if self.closed else None

    @property
    def kept(self) -> float | None:
        """Net P&L as a share of the premium received (closed trades with a known premium)."""
        return float(self.net_of_premium / self.premium) if self.premium > 0 else None

    @property
    def return_on_margin(self) -> float | None:
        return float(self.net_of_margin / self.margin) if self.margin > 0 else None

    def as_dict(self) -> dict[str, object]:
        ci = wilson_interval(self.wins, self.closed)
        return {
            "bucket": self.bucket,
            "trades": self.trades,
            "closed": self.closed,
            "open": self.open,
            "wins": self.wins,
            "losses": self.losses,
            "win_rate": self.win_rate,
            "win_rate_ci95": list(ci) if ci else None,
            "assigned": self.assigned,
            "net_pnl": format(self.net_pnl, "f"),
            "avg_net_pnl": format(self.avg_net, "f") if self.avg_net is not None else None,
            "premium": format(self.premium, "f"),
            "kept": self.kept,
            "return_on_margin": self.return_on_margin,
        }


def outcome_report(outcomes: Iterable[TradeOutcome], by: str) -> list[OutcomeRow]:
    """Group `outcomes` by the dimension `by` (one of DIMENSIONS); buckets in their natural
    order. `kept` and `return_on_margin` use only the closed trades whose premium / margin is
    known, on both sides of the ratio."""
    if by not in BUCKETS:
        raise ValueError(f"unknown dimension {by!r}: one of {', '.join(DIMENSIONS)}")
    key = BUCKETS[by]
    groups: dict[str, list[TradeOutcome]] = {}
    for o in outcomes:
        groups.setdefault(key(o), []).append(o)
    rows = []
    for label, items in groups.items():
        closed = [o for o in items if o.closed]
        nets = [o.net_pnl for o in closed if o.net_pnl is not None]
        with_premium = [o for o in closed if o.premium is not None and o.premium > 0]
        with_margin = [o for o in closed if o.margin is not None and o.margin > 0]
        rows.append(
            OutcomeRow(
                bucket=label,
                trades=len(items),
                closed=len(closed),
                open=sum(1 for o in items if o.status in ("open", "pending")),
                wins=sum(1 for n in nets if n > 0),
                losses=sum(1 for n in nets if n <= 0),
                assigned=sum(1 for o in items if o.exit_reason == "assigned"),
                net_pnl=sum(nets, Decimal(0)),
                premium=sum((o.premium for o in with_premium if o.premium), Decimal(0)),
                net_of_premium=sum((o.net_pnl for o in with_premium if o.net_pnl), Decimal(0)),
                margin=sum((o.margin for o in with_margin if o.margin), Decimal(0)),
                net_of_margin=sum((o.net_pnl for o in with_margin if o.net_pnl), Decimal(0)),
            )
        )
    rows.sort(key=lambda r: _order_key(by, r.bucket))
    return rows


PERMUTATIONS = 5000


@dataclass(frozen=True)
class ArmComparison:
    """Arm B against arm A of one test: the difference in mean net P&L per closed trade and
    in win rate, with a two-sided permutation test's p-value on the mean difference (the
    trades' arm labels shuffled PERMUTATIONS times, seed 0: no distribution assumed)."""

    test: str
    a: str
    b: str
    n_a: int
    n_b: int
    mean_a: Decimal
    mean_b: Decimal
    win_rate_a: float
    win_rate_b: float
    p_value: float

    @property
    def difference(self) -> Decimal:
        return self.mean_b - self.mean_a

    def as_dict(self) -> dict[str, object]:
        return {
            "test": self.test,
            "arms": [self.a, self.b],
            "closed": [self.n_a, self.n_b],
            "mean_net_pnl": [format(self.mean_a, "f"), format(self.mean_b, "f")],
            "difference": format(self.difference, "f"),
            "win_rate": [self.win_rate_a, self.win_rate_b],
            "p_value": self.p_value,
            "statistic": (
                f"two-sided permutation test of the difference in mean net P&L per closed "
                f"trade ({PERMUTATIONS} shuffles of the arm labels, seed 0)"
            ),
        }


def permutation_p_value(a: Sequence[float], b: Sequence[float], n: int = PERMUTATIONS) -> float:
    """Share of label shuffles whose |mean(b) - mean(a)| is at least the observed one (with
    the observed arrangement counted, so never 0)."""
    if not a or not b:
        return 1.0
    observed = abs(sum(b) / len(b) - sum(a) / len(a))
    pooled = [*a, *b]
    rng = random.Random(0)
    hits = 0
    for _ in range(n):
        rng.shuffle(pooled)
        xa, xb = pooled[: len(a)], pooled[len(a) :]
        if abs(sum(xb) / len(xb) - sum(xa) / len(xa)) >= observed - 1e-12:
            hits += 1
    return (hits + 1) / (n + 1)


def compare_arms(outcomes: Iterable[TradeOutcome]) -> list[ArmComparison]:
    """One comparison per test with closed trades in both of its arms (A and B)."""
    closed: dict[str, dict[str, list[Decimal]]] = {}
    for o in outcomes:
        if o.arm is None or not o.closed or o.net_pnl is None:
            continue
        test, _, arm = o.arm.rpartition(" ")
        closed.setdefault(test, {}).setdefault(arm, []).append(o.net_pnl)
    out = []
    for test, arms in sorted(closed.items()):
        if "A" not in arms or "B" not in arms:
            continue
        a, b = arms["A"], arms["B"]
        out.append(
            ArmComparison(
                test=test,
                a="A",
                b="B",
                n_a=len(a),
                n_b=len(b),
                mean_a=(sum(a, Decimal(0)) / len(a)).quantize(CENT),
                mean_b=(sum(b, Decimal(0)) / len(b)).quantize(CENT),
                win_rate_a=sum(1 for x in a if x > 0) / len(a),
                win_rate_b=sum(1 for x in b if x > 0) / len(b),
                p_value=round(permutation_p_value([float(x) for x in a], [float(x) for x in b]), 4),
            )
        )
    return out
