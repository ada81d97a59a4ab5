"""Fixtures: a stepped clock inside regular hours, a fake market and a book that records
every event it emits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest

from engine.market.clock import SteppedClock
from engine.sim.book import Book
from engine.sim.events import BookEvent

from .fakes import FakeMarket, Spec

# Tuesday 2026-11-24 10:00 New York.
START = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
EXPIRY = date(2026, 11, 27)


@dataclass
class Env:
    market: FakeMarket
    clock: SteppedClock
    book: Book
    events: list[BookEvent] = field(default_factory=list)
    ko45: Spec | None = None

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    def new_book(self, **kw: object) -> Book:
        self.book = Book(self.market, self.clock, listener=self.events.append, **kw)  # type: ignore[arg-type]
        return self.book


def make_market() -> FakeMarket:
    m = FakeMarket()
    m.add_stock("KO", "47.50", 8894)
    m.add_stock("SPX", "5000", 416904)
    m.add_stock("XSP", "500", 416905)
    m.add_stock("SPY", "500", 756733)
    return m


@pytest.fixture
def env() -> Env:
    market = make_market()
    clock = SteppedClock(START)
    events: list[BookEvent] = []
    book = Book(market, clock, listener=events.append)
    e = Env(market, clock, book, events)
    e.ko45 = market.add_option("KO", EXPIRY, "45", "P", "0.50", "0.55")
    return e
