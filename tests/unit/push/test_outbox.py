"""The bounded, coalescing outbox between the sink and the socket.io client."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from pads_stream.candles.fold import Candle
from pads_stream.candles.output import TokenUpdate, public_candle, public_trade
from pads_stream.decode.events import LogRef, TradeEvent
from pads_stream.push.outbox import Outbox

A = "0x" + "aa" * 20
B = "0x" + "bb" * 20


def c(t: int, close: str = "1", final: bool = False) -> dict[str, Any]:
    return {"t": t, "close": close, "final": final}


def upd(token: str = A, candles: dict[str, list[dict[str, Any]]] | None = None,
        trades: list[dict[str, Any]] | None = None, chain: int = 1, deleted: dict[str, list[int]] | None = None,
        correction: bool = False) -> dict[str, Any]:
    """The shape of `TokenUpdate.to_dict`."""
    return {"chain_id": chain, "token": token, "trades": trades or [], "candles": candles or {},
            "deleted": deleted or {}, "correction": correction, "market": {}}


def removal(block: int, log_index: int, token: str = A, chain: int = 1) -> dict[str, Any]:
    """A trade that left the chain, as `TokenUpdate.remove_trade` lists it under `trades`."""
    return {"chain_id": chain, "token": token, "block_number": block, "log_index": log_index, "removed": True}


def keys(msgs: list[dict[str, Any]]) -> list[tuple[str, str, int, str]]:
    return [(m["token"], m["interval"], m["candle"]["t"], m["candle"].get("close", "-")) for m in msgs]


def flags(msgs: list[dict[str, Any]]) -> list[tuple[str, int, bool, bool]]:
    return [(m["interval"], m["candle"]["t"], m["correction"], m.get("deleted", False)) for m in msgs]


# --------------------------------------------------------------------------- shape and coalescing

def test_message_shape_and_drain_empties() -> None:
    box = Outbox(10)
    box.add_update(upd(candles={"1m": [c(60)]}, trades=[{"n": 1}], chain=8453))
    assert len(box) == 2
    candles, trades = box.drain()
    assert candles == [{"chain_id": 8453, "token": A, "interval": "1m", "correction": False, "candle": c(60)}]
    assert trades == [{"n": 1}]
    assert len(box) == 0 and box.drain() == ([], [])
    assert box.dropped == 0


def test_update_without_the_optional_fields_is_accepted() -> None:
    box = Outbox(10)
    box.add_update({"chain_id": 1, "token": A, "candles": {"1m": [c(60)]}, "market": {}})
    assert flags(box.drain()[0]) == [("1m", 60, False, False)]
    assert len(box) == 0


def test_all_trades_of_an_update_are_queued_in_order() -> None:
    box = Outbox(10)
    box.add_update(upd(trades=[{"n": 1}, removal(5, 0), {"n": 2}]))
    box.add_update(upd(B, trades=[{"n": 3}]))
    assert len(box) == 4
    assert box.drain() == ([], [{"n": 1}, removal(5, 0), {"n": 2}, {"n": 3}])


def test_several_candles_of_one_interval_are_all_queued_in_order() -> None:
    box = Outbox(10)
    box.add_update(upd(candles={"1m": [c(0, final=True), c(60, final=True), c(120)], "5m": [c(0)]}))
    candles, _ = box.drain()
    assert keys(candles) == [(A, "1m", 0, "1"), (A, "1m", 60, "1"), (A, "1m", 120, "1"), (A, "5m", 0, "1")]
    assert [m["candle"]["final"] for m in candles] == [True, True, False, False]


def test_newer_candle_version_replaces_unsent_one_and_moves_to_the_back() -> None:
    box = Outbox(100)
    box.add_update(upd(candles={"1m": [c(60, "1")], "5m": [c(0, "1")]}))
    box.add_update(upd(B, candles={"1m": [c(60, "7")]}))
    box.add_update(upd(candles={"1m": [c(60, "2")], "5m": [c(0, "2")]}))
    box.add_update(upd(candles={"1m": [c(120, "3")]}))
    candles, _ = box.drain()
    assert keys(candles) == [(B, "1m", 60, "7"), (A, "1m", 60, "2"), (A, "5m", 0, "2"), (A, "1m", 120, "3")]
    assert box.dropped == 0


def test_final_version_replaces_the_unsent_open_one() -> None:
    box = Outbox(100)
    box.add_update(upd(candles={"1m": [c(60, "1")]}))
    box.add_update(upd(candles={"1m": [c(60, "1", final=True)]}))
    candles, _ = box.drain()
    assert [m["candle"] for m in candles] == [c(60, "1", final=True)]


def test_trades_are_never_coalesced() -> None:
    box = Outbox(100)
    for i in range(5):
        box.add_update(upd(candles={"1m": [c(60, str(i))]}, trades=[{"n": i}]))
    candles, trades = box.drain()
    assert len(candles) == 1 and candles[0]["candle"]["close"] == "4"
    assert trades == [{"n": i} for i in range(5)]


# --------------------------------------------------------------------------- reorg corrections

def test_deleted_bucket_is_pushed_as_an_empty_correction() -> None:
    box = Outbox(100)
    box.add_update(upd(candles={"5m": [c(0, "2")]}, deleted={"1m": [120, 180], "5m": [300]}, correction=True,
                       chain=8453))
    candles, _ = box.drain()
    assert candles == [
        {"chain_id": 8453, "token": A, "interval": "1m", "correction": True, "deleted": True,
         "candle": {"t": 120, "trades": 0}},
        {"chain_id": 8453, "token": A, "interval": "1m", "correction": True, "deleted": True,
         "candle": {"t": 180, "trades": 0}},
        {"chain_id": 8453, "token": A, "interval": "5m", "correction": True, "deleted": True,
         "candle": {"t": 300, "trades": 0}},
        {"chain_id": 8453, "token": A, "interval": "5m", "correction": True, "candle": c(0, "2")},
    ]


def test_deletion_replaces_an_unsent_version_of_the_bucket() -> None:
    box = Outbox(100)
    box.add_update(upd(candles={"1m": [c(60, "1"), c(120, "1")]}))
    box.add_update(upd(deleted={"1m": [60]}, correction=True))
    # like any newer version, the deletion moves to the back
    assert flags(box.drain()[0]) == [("1m", 120, False, False), ("1m", 60, True, True)]


def test_deletion_only_touches_its_own_token() -> None:
    box = Outbox(100)
    box.add_update(upd(B, candles={"1m": [c(120, "9")]}))
    box.add_update(upd(A, deleted={"1m": [120]}, correction=True))
    candles, _ = box.drain()
    assert keys(candles) == [(B, "1m", 120, "9"), (A, "1m", 120, "-")]
    assert [m["correction"] for m in candles] == [False, True]


def test_candle_after_a_deletion_replaces_it_and_stays_a_correction() -> None:
    """The new fork fills the bucket again before the deletion was sent: the chart still has the old
    version, so the new one must be sent as a correction, and not as deleted."""
    box = Outbox(100)
    box.add_update(upd(deleted={"1m": [120]}, correction=True))
    box.add_update(upd(candles={"1m": [c(120, "5")]}, trades=[{"n": 1}]))
    candles, _ = box.drain()
    assert candles == [{"chain_id": 1, "token": A, "interval": "1m", "correction": True, "candle": c(120, "5")}]
    assert "deleted" not in candles[0]


@pytest.mark.parametrize(
    ("corrections", "expected"),
    [
        ([False], False),
        ([True], True),
        ([True, False], True),  # sticky until sent
        ([False, True], True),
        ([True, False, False], True),
        ([False, False], False),
    ],
)
def test_correction_flag_is_sticky_until_sent(corrections: list[bool], expected: bool) -> None:
    box = Outbox(100)
    for i, corr in enumerate(corrections):
        box.add_update(upd(candles={"1m": [c(60, str(i))]}, correction=corr))
    candles, _ = box.drain()
    assert [(m["candle"]["close"], m["correction"]) for m in candles] == [(str(len(corrections) - 1), expected)]
    # once sent, the next version of the bucket is an ordinary update again
    box.add_update(upd(candles={"1m": [c(60, "next")]}))
    assert [m["correction"] for m in box.drain()[0]] == [False]


def test_correction_flag_does_not_leak_to_other_buckets() -> None:
    box = Outbox(100)
    box.add_update(upd(candles={"1m": [c(60)]}, correction=True))
    box.add_update(upd(candles={"1m": [c(120)], "5m": [c(0)]}))
    box.add_update(upd(B, candles={"1m": [c(60)]}))
    assert flags(box.drain()[0]) == [("1m", 60, True, False), ("1m", 120, False, False),
                                     ("5m", 0, False, False), ("1m", 60, False, False)]


def test_removed_trade_is_pushed_as_a_trade_event() -> None:
    box = Outbox(100)
    box.add_update(upd(trades=[{"n": 1}], chain=8453))
    box.add_update(upd(trades=[removal(19_000_000, 7, chain=8453)], correction=True, chain=8453))
    candles, trades = box.drain()
    assert candles == []
    assert trades == [{"n": 1}, {"chain_id": 8453, "token": A, "block_number": 19_000_000, "log_index": 7,
                                 "removed": True}]


def test_removal_and_new_trade_keep_their_order() -> None:
    box = Outbox(100)
    box.add_update(upd(trades=[removal(10, 0), {"block_number": 10, "log_index": 0}], correction=True))
    box.add_update(upd(B, trades=[removal(11, 3, B)], correction=True))
    box.add_update(upd(trades=[{"block_number": 12, "log_index": 1}, removal(12, 1)], correction=True))
    _, trades = box.drain()
    assert [(t["block_number"], t.get("removed", False)) for t in trades] == [
        (10, True), (10, False), (11, True), (12, False), (12, True)]


def _trade(block: int, log_index: int) -> TradeEvent:
    ref = LogRef(8453, "0x" + "cc" * 20, block, "0x" + "11" * 32, 1_700_000_000, "0x" + "22" * 32, log_index, False)
    return TradeEvent(A, "0x" + "dd" * 20, False, 10**18, 10**15, 1, 2, ref)


def test_a_real_token_update_is_pushed_as_made() -> None:
    """Through TokenUpdate: a removal then re-inclusion at the same position,
    a deleted bucket and an emitted candle."""
    tr = _trade(19_000_000, 7)
    candle = Candle.first(60, Decimal("0.001"), False, 10**18, 10**15)
    u = TokenUpdate()
    u.remove_trade(8453, A, (19_000_000, 7))
    u.trade(tr)
    u.emit([(60, candle, False)])
    u.delete([(60, 120)])
    box = Outbox(100)
    box.add_update(u.to_dict(8453, A, {}))
    candles, trades = box.drain()
    assert trades == [{"chain_id": 8453, "token": A, "block_number": 19_000_000, "log_index": 7, "removed": True},
                      public_trade(tr)]
    assert candles == [
        {"chain_id": 8453, "token": A, "interval": "1m", "correction": True, "deleted": True,
         "candle": {"t": 120, "trades": 0}},
        {"chain_id": 8453, "token": A, "interval": "1m", "correction": True, "candle": public_candle(candle, False)},
    ]


def test_an_output_is_pushed_as_its_wire_form_would_be() -> None:
    """The push takes a sink's output whole: its candles go as the JSON they were made as."""
    tr = _trade(19_000_000, 7)
    candle = Candle.first(60, Decimal("0.001"), False, 10**18, 10**15)
    u = TokenUpdate()
    u.remove_trade(8453, A, (19_000_000, 6))
    u.trade(tr)
    u.emit([(60, candle, False), (3600, candle, True)])
    u.delete([(60, 120)])
    out = u.build(8453, A, {"price": "0.001"})
    direct, via_wire = Outbox(100), Outbox(100)
    direct.add_update(out)
    via_wire.add_update(out.wire())
    for a, b in ((direct.drain(), via_wire.drain()), (direct.drain_markets(), via_wire.drain_markets())):
        assert orjson.loads(orjson.dumps(a)) == orjson.loads(orjson.dumps(b))
    assert len(a) == 1


def test_a_requeued_output_candle_keeps_its_key() -> None:
    u = TokenUpdate()
    u.emit([(60, Candle.first(60, Decimal("1"), True, 1, 1), False)])
    box = Outbox(100)
    box.add_update(u.build(8453, A, {}))
    candles, _ = box.drain()
    box.requeue(candles, [])
    again, _ = box.drain()
    assert [m.key for m in again] == [(A, "1m", 60)] and orjson.loads(orjson.dumps(again)) == orjson.loads(
        orjson.dumps(candles))


def test_requeued_correction_keeps_its_flag_over_a_newer_plain_version() -> None:
    box = Outbox(100)
    box.add_update(upd(candles={"1m": [c(60, "corrected")]}, correction=True))
    unsent = box.drain()  # the emit failed
    box.add_update(upd(candles={"1m": [c(60, "newer")]}))
    box.requeue(*unsent)
    candles, _ = box.drain()
    assert [(m["candle"]["close"], m["correction"]) for m in candles] == [("newer", True)]


def test_requeued_deletion_is_superseded_by_a_newer_version() -> None:
    box = Outbox(100)
    box.add_update(upd(deleted={"1m": [60]}, correction=True))
    unsent = box.drain()
    box.add_update(upd(candles={"1m": [c(60, "new")]}, correction=True))
    box.requeue(*unsent)
    assert flags(box.drain()[0]) == [("1m", 60, True, False)]


# --------------------------------------------------------------------------- the bound

@pytest.mark.parametrize(
    ("max_items", "n_trades", "kept", "dropped"),
    [(3, 2, [0, 1], 0), (3, 3, [0, 1, 2], 0), (3, 5, [2, 3, 4], 2), (1, 4, [3], 3)],
)
def test_trade_overflow_drops_oldest_and_counts(max_items: int, n_trades: int, kept: list[int], dropped: int) -> None:
    box = Outbox(max_items)
    for i in range(n_trades):
        box.add_update(upd(trades=[{"n": i}]))
    assert len(box) == len(kept)
    assert box.dropped_trades == dropped and box.dropped_candles == 0 and box.dropped == dropped
    assert box.drain()[1] == [{"n": i} for i in kept]


def test_candle_overflow_drops_oldest_candles() -> None:
    box = Outbox(3)
    for t in range(5):
        box.add_update(upd(candles={"1m": [c(60 * t)]}))
    assert box.dropped_candles == 2 and box.dropped_trades == 0
    assert [m["candle"]["t"] for m in box.drain()[0]] == [120, 180, 240]


def test_trades_are_dropped_before_candles() -> None:
    box = Outbox(3)
    box.add_update(upd(trades=[{"n": 0}]))
    box.add_update(upd(trades=[{"n": 1}]))
    box.add_update(upd(candles={"1m": [c(60)], "5m": [c(0)]}))
    assert len(box) == 3 and box.dropped_trades == 1
    box.add_update(upd(candles={"15m": [c(0)], "1h": [c(0)]}))
    assert box.dropped_trades == 2 and box.dropped_candles == 1 and box.dropped == 3
    candles, trades = box.drain()
    assert trades == [] and [m["interval"] for m in candles] == ["5m", "15m", "1h"]


def test_deletions_and_removals_count_against_the_bound() -> None:
    box = Outbox(3)
    box.add_update(upd(trades=[{"n": 0}]))
    box.add_update(upd(trades=[removal(1, 0)], correction=True))
    box.add_update(upd(deleted={"1m": [0, 60]}, correction=True))
    assert len(box) == 3 and box.dropped_trades == 1 and box.dropped_candles == 0
    box.add_update(upd(deleted={"5m": [0, 300]}, correction=True))
    assert len(box) == 3 and box.dropped_trades == 2 and box.dropped_candles == 1
    candles, trades = box.drain()
    assert trades == [] and flags(candles) == [("1m", 60, True, True), ("5m", 0, True, True), ("5m", 300, True, True)]


def test_bound_holds_after_every_add() -> None:
    box = Outbox(5)
    for i in range(50):
        box.add_update(upd(candles={"1m": [c(60 * (i // 2))], "1h": [c(0)]},
                           deleted={"5m": [300 * i]} if i % 3 == 0 else None,
                           trades=[{"n": i}, removal(i, 0)] if i % 4 == 0 else [{"n": i}], correction=i % 3 == 0))
        assert len(box) <= 5
    assert box.dropped == box.dropped_trades + box.dropped_candles > 0


# --------------------------------------------------------------------------- requeue

def test_requeue_puts_unsent_back_in_front_in_original_order() -> None:
    box = Outbox(100)
    box.add_update(upd(candles={"1m": [c(60, "1")], "5m": [c(0, "1")]}, trades=[{"n": 1}]))
    box.add_update(upd(B, candles={"1m": [c(60, "1")]}, trades=[{"n": 2}]))
    sent_candles, sent_trades = box.drain()
    box.add_update(upd(candles={"1m": [c(120, "2")]}, trades=[{"n": 3}]))
    box.requeue(sent_candles, sent_trades)
    candles, trades = box.drain()
    assert keys(candles) == [(A, "1m", 60, "1"), (A, "5m", 0, "1"), (B, "1m", 60, "1"), (A, "1m", 120, "2")]
    assert trades == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_requeue_keeps_corrections_and_deletions_as_they_were() -> None:
    box = Outbox(100)
    box.add_update(upd(candles={"5m": [c(0, "1")]}, deleted={"1m": [60]}, correction=True,
                       trades=[{"n": 1}, removal(3, 1)]))
    sent = box.drain()
    box.requeue(*sent)
    assert box.drain() == sent


def test_requeue_never_overwrites_a_newer_version() -> None:
    box = Outbox(100)
    box.add_update(upd(candles={"1m": [c(60, "old")], "5m": [c(0, "old")]}))
    sent, _ = box.drain()
    box.add_update(upd(candles={"1m": [c(60, "new")]}))
    box.requeue(sent, [])
    candles, _ = box.drain()
    assert keys(candles) == [(A, "5m", 0, "old"), (A, "1m", 60, "new")]


def test_requeue_respects_the_bound_dropping_oldest_first() -> None:
    box = Outbox(3)
    box.add_update(upd(trades=[{"n": 0}]))
    box.add_update(upd(trades=[{"n": 1}]))
    sent = box.drain()
    box.add_update(upd(trades=[{"n": 2}]))
    box.add_update(upd(trades=[{"n": 3}]))
    box.requeue(*sent)
    assert box.dropped_trades == 1
    assert box.drain()[1] == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_requeue_of_candles_over_bound_drops_the_requeued_oldest() -> None:
    box = Outbox(2)
    box.add_update(upd(candles={"1m": [c(0)], "5m": [c(0)]}))
    sent = box.drain()
    box.add_update(upd(candles={"1h": [c(0)]}))
    box.requeue(*sent)
    assert box.dropped_candles == 1
    assert [m["interval"] for m in box.drain()[0]] == ["5m", "1h"]
