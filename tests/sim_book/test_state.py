"""to_state / from_state and the atomic file store."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from engine.sim.book import Book
from engine.sim.events import ExecutionEvent
from engine.sim.state import load_book, save_book

from .conftest import EXPIRY, Env
from .fakes import contract, lmt


def busy(env: Env) -> None:
    c = contract(env.ko45)
    env.book.place(1, c, lmt(1, "SELL", 2, 0.50, orderRef="a"))
    env.book.on_tick()
    env.book.place(1, c, lmt(2, "SELL", 1, 0.90, tif="GTC", orderRef="rest"))
    env.book.place(1, c, lmt(3, "SELL", 1, 0.95, transmit=False))
    env.book.place(1, c, lmt(4, "BUY", 1, 0.30, parentId=3, transmit=False))
    env.book.reject_next("later")


def test_round_trip(env: Env, tmp_path: Path) -> None:
    busy(env)
    state = json.loads(json.dumps(env.book.to_state()))
    back = Book.from_state(env.market, env.clock, state)
    assert back.to_state() == state
    assert back.account_values() == env.book.account_values()

    def rows(book: Book) -> list:
        return [(c, dataclasses.asdict(o), st) for c, o, st in book.open_orders()]

    assert rows(back) == rows(env.book)
    assert len(rows(back)) == 1  # the held bracket pair is not live
    assert [e.execution for e in back.executions()] == [e.execution for e in env.book.executions()]
    assert back.ledger == env.book.ledger
    # ids continue, never reused
    events: list = []
    back.listener = events.append
    back.place(1, contract(env.ko45), lmt(5, "SELL", 1, 0.50))  # rejected: reject_next kept
    back.place(1, contract(env.ko45), lmt(6, "SELL", 1, 0.50))
    back.on_tick()
    perms = [o.permId for _, o, _ in back.open_orders()] + [
        o.permId for _, o, _ in back.completed_orders()
    ]
    assert len(perms) == len(set(perms))
    new_exec = [e for e in events if isinstance(e, ExecutionEvent)]
    assert new_exec and new_exec[0].execution.execId not in {
        e.execution.execId for e in env.book.executions()
    }
    # the held pair survived the reload: its last order transmits all three
    back.place(1, contract(env.ko45), lmt(7, "BUY", 1, 1.50, parentId=3))
    live = {o.orderId: st.status for _, o, st in back.open_orders()}
    assert live[3] == "Submitted" and live[4] == live[7] == "PreSubmitted"
    ids = [t.transaction_id for t in back.ledger.trades]
    assert len(ids) == len(set(ids))


def test_file_store(env: Env, tmp_path: Path) -> None:
    busy(env)
    env.book.end_of_day(EXPIRY)
    path = tmp_path / "sim" / "book.json"
    save_book(env.book, path)
    assert [p.name for p in path.parent.iterdir()] == ["book.json"]
    back = load_book(env.market, env.clock, path)
    assert back.to_state() == env.book.to_state()
    assert back.ledger.eae == env.book.ledger.eae


def test_executions_filters(env: Env) -> None:
    busy(env)
    t0 = env.clock.now()
    assert len(env.book.executions(client_id=1)) == 1
    assert env.book.executions(client_id=2) == []
    assert len(env.book.executions(since=t0)) == 1
    from datetime import timedelta

    assert env.book.executions(since=t0 + timedelta(seconds=1)) == []
