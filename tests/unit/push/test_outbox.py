"""The bounded, coalescing outbox between the sink and the socket.io client."""

from __future__ import annotations

from typing import Any

import pytest

from pads_stream.push.outbox import Outbox

A = "0x" + "aa" * 20
B = "0x" + "bb" * 20


def c(t: int, close: str = "1") -> dict[str, Any]:
    return {"t": t, "close": close}


def upd(token: str = A, candles: dict[str, dict[str, Any]] | None = None,
        trade: dict[str, Any] | None = None, chain: int = 1) -> dict[str, Any]:
    return {"chain_id": chain, "token": token, "candles": candles or {}, "trade": trade, "market": {}}


def keys(msgs: list[dict[str, Any]]) -> list[tuple[str, str, int, str]]:
    return [(m["token"], m["interval"], m["candle"]["t"], m["candle"]["close"]) for m in msgs]


def test_message_shape_and_drain_empties() -> None:
    box = Outbox(10)
    box.add_update(upd(candles={"1m": c(60)}, trade={"n": 1}, chain=8453))
    assert len(box) == 2
    candles, trades = box.drain()
    assert candles == [{"chain_id": 8453, "token": A, "interval": "1m", "candle": c(60)}]
    assert trades == [{"n": 1}]
    assert len(box) == 0 and box.drain() == ([], [])
    assert box.dropped == 0


def test_newer_candle_version_replaces_unsent_one_and_moves_to_the_back() -> None:
    box = Outbox(100)
    box.add_update(upd(candles={"1m": c(60, "1"), "5m": c(0, "1")}))
    box.add_update(upd(B, candles={"1m": c(60, "7")}))
    box.add_update(upd(candles={"1m": c(60, "2"), "5m": c(0, "2")}))
    box.add_update(upd(candles={"1m": c(120, "3")}))
    candles, _ = box.drain()
    assert keys(candles) == [(B, "1m", 60, "7"), (A, "1m", 60, "2"), (A, "5m", 0, "2"), (A, "1m", 120, "3")]
    assert box.dropped == 0


def test_trades_are_never_coalesced() -> None:
    box = Outbox(100)
    for i in range(5):
        box.add_update(upd(candles={"1m": c(60, str(i))}, trade={"n": i}))
    candles, trades = box.drain()
    assert len(candles) == 1 and candles[0]["candle"]["close"] == "4"
    assert trades == [{"n": i} for i in range(5)]


@pytest.mark.parametrize(
    ("max_items", "n_trades", "kept", "dropped"),
    [(3, 2, [0, 1], 0), (3, 3, [0, 1, 2], 0), (3, 5, [2, 3, 4], 2), (1, 4, [3], 3)],
)
def test_trade_overflow_drops_oldest_and_counts(max_items: int, n_trades: int, kept: list[int], dropped: int) -> None:
    box = Outbox(max_items)
    for i in range(n_trades):
        box.add_update(upd(trade={"n": i}))
    assert len(box) == len(kept)
    assert box.dropped_trades == dropped and box.dropped_candles == 0 and box.dropped == dropped
    assert box.drain()[1] == [{"n": i} for i in kept]


def test_candle_overflow_drops_oldest_candles() -> None:
    box = Outbox(3)
    for t in range(5):
        box.add_update(upd(candles={"1m": c(60 * t)}))
    assert box.dropped_candles == 2 and box.dropped_trades == 0
    assert [m["candle"]["t"] for m in box.drain()[0]] == [120, 180, 240]


def test_trades_are_dropped_before_candles() -> None:
    box = Outbox(3)
    box.add_update(upd(trade={"n": 0}))
    box.add_update(upd(trade={"n": 1}))
    box.add_update(upd(candles={"1m": c(60), "5m": c(0)}))
    assert len(box) == 3 and box.dropped_trades == 1
    box.add_update(upd(candles={"15m": c(0), "1h": c(0)}))
    assert box.dropped_trades == 2 and box.dropped_candles == 1 and box.dropped == 3
    candles, trades = box.drain()
    assert trades == [] and [m["interval"] for m in candles] == ["5m", "15m", "1h"]


def test_bound_holds_after_every_add() -> None:
    box = Outbox(5)
    for i in range(50):
        box.add_update(upd(candles={"1m": c(60 * (i // 2)), "1h": c(0)}, trade={"n": i}))
        assert len(box) <= 5
    assert box.dropped == box.dropped_trades + box.dropped_candles > 0


def test_requeue_puts_unsent_back_in_front_in_original_order() -> None:
    box = Outbox(100)
    box.add_update(upd(candles={"1m": c(60, "1"), "5m": c(0, "1")}, trade={"n": 1}))
    box.add_update(upd(B, candles={"1m": c(60, "1")}, trade={"n": 2}))
    sent_candles, sent_trades = box.drain()
    box.add_update(upd(candles={"1m": c(120, "2")}, trade={"n": 3}))
    box.requeue(sent_candles, sent_trades)
    candles, trades = box.drain()
    assert keys(candles) == [(A, "1m", 60, "1"), (A, "5m", 0, "1"), (B, "1m", 60, "1"), (A, "1m", 120, "2")]
    assert trades == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_requeue_never_overwrites_a_newer_version() -> None:
    box = Outbox(100)
    box.add_update(upd(candles={"1m": c(60, "old"), "5m": c(0, "old")}))
    sent, _ = box.drain()
    box.add_update(upd(candles={"1m": c(60, "new")}))
    box.requeue(sent, [])
    candles, _ = box.drain()
    assert keys(candles) == [(A, "5m", 0, "old"), (A, "1m", 60, "new")]


def test_requeue_respects_the_bound_dropping_oldest_first() -> None:
    box = Outbox(3)
    box.add_update(upd(trade={"n": 0}))
    box.add_update(upd(trade={"n": 1}))
    sent = box.drain()
    box.add_update(upd(trade={"n": 2}))
    box.add_update(upd(trade={"n": 3}))
    box.requeue(*sent)
    assert box.dropped_trades == 1
    assert box.drain()[1] == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_requeue_of_candles_over_bound_drops_the_requeued_oldest() -> None:
    box = Outbox(2)
    box.add_update(upd(candles={"1m": c(0), "5m": c(0)}))
    sent = box.drain()
    box.add_update(upd(candles={"1h": c(0)}))
    box.requeue(*sent)
    assert box.dropped_candles == 1
    assert [m["interval"] for m in box.drain()[0]] == ["5m", "1h"]
