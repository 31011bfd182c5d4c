"""Market snapshots in the outbox: the latest unsent one per token, bounded on their own."""

from __future__ import annotations

from typing import Any

from pads_stream.push.outbox import Outbox

A, B = "0x" + "aa" * 20, "0x" + "bb" * 20


def upd(token: str, price: str) -> dict[str, Any]:
    return {"chain_id": 1, "token": token, "trades": [], "candles": {}, "deleted": {}, "correction": False,
            "market": {"price": price}}


def test_the_latest_snapshot_per_token_in_order_of_change() -> None:
    box = Outbox(100)
    box.add_update(upd(A, "1"))
    box.add_update(upd(B, "5"))
    box.add_update(upd(A, "2"))
    assert box.drain_markets() == [{"chain_id": 1, "token": B, "market": {"price": "5"}},
                                   {"chain_id": 1, "token": A, "market": {"price": "2"}}]
    assert box.drain_markets() == [] and len(box) == 0


def test_requeued_snapshots_never_replace_newer_ones() -> None:
    box = Outbox(100)
    box.add_update(upd(A, "1"))
    box.add_update(upd(B, "5"))
    unsent = box.drain_markets()
    box.add_update(upd(A, "3"))
    box.requeue_markets(unsent)
    assert [(m["token"], m["market"]["price"]) for m in box.drain_markets()] == [(B, "5"), (A, "3")]


def test_snapshots_are_bounded_dropping_the_oldest() -> None:
    box = Outbox(100)
    tokens = [f"0x{i:040x}" for i in range(150)]
    for t in tokens:
        box.add_update(upd(t, "1"))
    assert [m["token"] for m in box.drain_markets()] == tokens[50:]
    assert box.dropped_markets == 50 and box.dropped == 50
