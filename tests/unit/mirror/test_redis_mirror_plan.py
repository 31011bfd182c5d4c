"""Batch coalescing of the Redis mirror (pure `plan`), member encoding, keys, and the update
message (`TokenUpdate`: what one token's batch says, and its shape)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pads_stream.candles.fold import Candle
from pads_stream.candles.output import TokenUpdate, candle_json, public_candle, public_trade
from pads_stream.decode.events import LogRef, TradeEvent
from pads_stream.mirror.keys import candles_key, market_key, prefix, tokens_key, trade_score, trades_key
from pads_stream.mirror.redis_mirror import RECENT_TRADES, candle_member, ops, plan, script_args
from pads_stream.push.outbox import Outbox

A = "0x" + "aa" * 20
B = "0x" + "bb" * 20
P1 = prefix("pads", 1)
P2 = prefix("pads", 2)

# A trade op of a TokenUpdate: a TradeEvent is a new trade, a (block, log_index) cursor a removal.
TradeOp = TradeEvent | tuple[int, int]


def candle(t: int, close: str, trades: int = 1) -> Candle:
    p = Decimal(close)
    return Candle(t, p, p, p, p, 10**30, 10**20, trades, trades, 0)


def trade(block: int, log_index: int, token: str = A, chain: int = 1) -> TradeEvent:
    ref = LogRef(chain, "0x" + "cc" * 20, block, "0x" + "11" * 32, 1_700_000_000 + block, "0x" + "22" * 32,
                 log_index, False)
    return TradeEvent(token, "0x" + "dd" * 20, True, 3 * 10**18, 10**15, 1, 2, ref)


def token_update(token: str = A, chain: int = 1, candles: Sequence[tuple[int, Candle, bool]] = (),
                 deleted: Sequence[tuple[int, int]] = (), trades: Sequence[TradeOp] = ()) -> TokenUpdate:
    """Emits `candles`, then deletes `deleted` (so use distinct buckets), then applies `trades` in order."""
    u = TokenUpdate()
    u.emit(list(candles))
    u.delete(list(deleted))
    for op in trades:
        if isinstance(op, TradeEvent):
            u.trade(op)
        else:
            u.remove_trade(chain, token, op)
    return u


def shaped(u: TokenUpdate, token: str = A, chain: int = 1, market: dict[str, str] | None = None) -> dict[str, Any]:
    """As the candle agent hands it to the sink."""
    return u.to_dict(chain, token, market or {})


def update(token: str = A, chain: int = 1, market: dict[str, str] | None = None,
           candles: Sequence[tuple[int, Candle, bool]] = (), deleted: Sequence[tuple[int, int]] = (),
           trades: Sequence[TradeOp] = ()) -> dict[str, Any]:
    return shaped(token_update(token, chain, candles, deleted, trades), token, chain, market)


def removal(block: int, log_index: int, token: str = A, chain: int = 1) -> dict[str, Any]:
    return {"chain_id": chain, "token": token, "block_number": block, "log_index": log_index, "removed": True}


def member(c: Candle, final: bool = False) -> bytes:
    return candle_member(public_candle(c, final))


def trade_member(tr: TradeEvent) -> bytes:
    return orjson.dumps(public_trade(tr), option=orjson.OPT_SORT_KEYS)


def closes(u: dict[str, Any]) -> dict[str, list[tuple[int, str, bool]]]:
    return {iv: [(c["t"], c["close"], c["final"]) for c in cs] for iv, cs in u["candles"].items()}


# --------------------------------------------------------------------------- keys and update shape

def test_keys() -> None:
    assert prefix("pads", 1) == "pads:1" and prefix("replay-7", 8453) == "replay-7:8453"
    assert candles_key(P1, A, "1m") == f"pads:1:candles:{A}:1m"
    assert market_key(prefix("pads", 8453), A) == f"pads:8453:market:{A}"
    assert trades_key(P1, A) == f"pads:1:trades:{A}"
    assert tokens_key(P1) == "pads:1:tokens"
    assert candles_key(prefix("shadow", 1), A, "4h") == f"shadow:1:candles:{A}:4h"
    assert trade_score(19_000_000, 12) == 1_900_000_000_012
    assert trade_score(5, 99_999) < trade_score(6, 0)


def test_update_shape() -> None:
    u = update(market={"price": "0.001"}, trades=[trade(10, 2)],
               candles=[(60, candle(120, "0.5"), False), (60, candle(180, "0.6"), True), (14400, candle(0, "2"), True)])
    assert set(u) == {"chain_id", "token", "trades", "candles", "deleted", "correction", "market"}
    assert set(u["candles"]) == {"1m", "4h"}
    assert u["candles"]["1m"] == [{**candle(120, "0.5").to_public(), "final": False},
                                  {**candle(180, "0.6").to_public(), "final": True}]
    assert u["candles"]["4h"] == [{**candle(0, "2").to_public(), "final": True}]
    assert u["trades"] == [public_trade(trade(10, 2))]
    assert u["trades"][0]["price"] == "0.000333333333333333333333333333333"
    assert u["trades"][0]["token_amount"] == str(3 * 10**18)
    assert u["deleted"] == {} and u["correction"] is False
    assert u["market"] == {"price": "0.001"} and u["chain_id"] == 1 and u["token"] == A
    empty = update()
    assert empty["trades"] == [] and empty["candles"] == {} and empty["deleted"] == {}
    assert empty["correction"] is False


def test_correction_shape() -> None:
    u = update(candles=[(300, candle(0, "1"), False)], deleted=[(60, 120), (60, 180), (300, 300)],
               trades=[(19_000_000, 7)])
    assert u["deleted"] == {"1m": [120, 180], "5m": [300]}
    assert u["correction"] is True
    assert u["trades"] == [removal(19_000_000, 7)]
    assert u["candles"] == {"5m": [{**candle(0, "1").to_public(), "final": False}]}


def test_removal_names_the_chain_and_token_it_was_given() -> None:
    u = TokenUpdate()
    u.remove_trade(8453, B, (5, 3))
    assert shaped(u, B, 8453)["trades"] == [removal(5, 3, B, 8453)]


def test_candles_and_deleted_buckets_are_sorted_by_interval_and_bucket() -> None:
    u = update(candles=[(300, candle(300, "4"), False), (60, candle(180, "3"), False), (60, candle(60, "1"), True)],
               deleted=[(300, 600), (60, 240), (60, 120)])
    assert closes(u) == {"1m": [(60, "1", True), (180, "3", False)], "5m": [(300, "4", False)]}
    assert u["deleted"] == {"1m": [120, 240], "5m": [600]}


def test_candle_member_is_canonical() -> None:
    pub = public_candle(candle(60, "1.5"), True)
    shuffled = dict(reversed(list(pub.items())))
    assert candle_member(pub) == candle_member(shuffled)
    assert list(orjson.loads(candle_member(shuffled))) == sorted(pub)
    assert orjson.loads(candle_member(pub)) == pub
    assert member(candle(60, "1.5"), True) != member(candle(60, "1.5"), False)


# --------------------------------------------------------------------------- TokenUpdate merging

E = "emit"
X = "delete"


@pytest.mark.parametrize(
    ("ops", "expected", "deleted"),
    [
        ([(E, "1", False)], [(120, "1", False)], []),
        ([(E, "1", False), (E, "2", False)], [(120, "2", False)], []),  # the last version wins
        ([(E, "1", False), (E, "1", True)], [(120, "1", True)], []),  # ... with its final flag
        ([(E, "1", True), (E, "2", False)], [(120, "2", False)], []),
        ([(X,)], [], [120]),
        ([(E, "1", False), (X,)], [], [120]),  # a reorg emptied the bucket after it was emitted
        ([(X,), (E, "2", False)], [(120, "2", False)], []),  # the new fork filled it again: not deleted
        ([(E, "1", False), (X,), (E, "3", True)], [(120, "3", True)], []),
        ([(X,), (E, "2", False), (X,)], [], [120]),
        ([(X,), (X,)], [], [120]),
    ],
)
def test_token_update_merges_versions_of_a_bucket(ops: list[tuple[Any, ...]], expected: list[tuple[int, str, bool]],
                                                  deleted: list[int]) -> None:
    u = TokenUpdate()
    u.emit([(60, candle(60, "0"), True), (300, candle(0, "0"), False)])  # other buckets, never touched again
    for op in ops:
        if op[0] == E:
            u.emit([(60, candle(120, op[1]), op[2])])
        else:
            u.delete([(60, 120)])
    msg = shaped(u)
    assert closes(msg) == {"1m": [(60, "0", True), *expected], "5m": [(0, "0", False)]}
    assert msg["deleted"] == ({"1m": deleted} if deleted else {})
    assert u.deleted == {(60, t) for t in deleted}  # read by the candle batch, not only by encode
    assert msg["correction"] is False  # candle deletions alone are not a trade removal
    candles, _, _, _ = plan([msg])
    k1 = candles_key(P1, A, "1m")
    assert candles[(k1, 120)] == (member(candle(120, expected[0][1]), expected[0][2]) if expected else None)
    assert candles[(k1, 60)] == member(candle(60, "0"), True)


def test_delete_only_drops_its_own_interval_and_bucket() -> None:
    u = token_update(candles=[(60, candle(60, "1"), False), (60, candle(120, "2"), False),
                              (300, candle(0, "3"), False)], deleted=[(300, 60), (60, 120)])
    msg = shaped(u)
    assert closes(msg) == {"1m": [(60, "1", False)], "5m": [(0, "3", False)]}
    assert msg["deleted"] == {"1m": [120], "5m": [60]}


ADD = "add"
REMOVE = "remove"


@pytest.mark.parametrize(
    ("ops", "present"),
    [
        ([ADD], True),
        ([REMOVE], False),
        ([ADD, REMOVE], False),
        ([REMOVE, ADD], True),  # removed, then re-included at the same position by the new fork
        ([ADD, REMOVE, ADD], True),
        ([REMOVE, ADD, REMOVE], False),
        ([ADD, ADD], True),
    ],
)
def test_token_update_keeps_trade_order_and_plan_ends_in_the_last_state(ops: list[str], present: bool) -> None:
    tr = trade(12, 4)
    msg = update(trades=[tr if op == ADD else (12, 4) for op in ops])
    assert msg["trades"] == [public_trade(tr) if op == ADD else removal(12, 4) for op in ops]
    assert msg["correction"] is (REMOVE in ops)
    _, _, trades, _ = plan([msg])
    assert trades == {trades_key(P1, A): {trade_score(12, 4): trade_member(tr) if present else None}}


def test_token_update_keeps_order_across_trades() -> None:
    t1, t2, t3 = trade(10, 0), trade(10, 1), trade(11, 0)
    msg = update(trades=[t1, t2, (10, 1), t3, (10, 0)])
    assert msg["trades"] == [public_trade(t1), public_trade(t2), removal(10, 1), public_trade(t3), removal(10, 0)]
    _, _, trades, _ = plan([msg])
    assert trades == {trades_key(P1, A): {trade_score(10, 0): None, trade_score(10, 1): None,
                                          trade_score(11, 0): trade_member(t3)}}


@pytest.mark.parametrize(
    ("candles", "deleted", "trades", "correction"),
    [
        ([], [], [], False),
        ([(60, candle(60, "1"), False)], [], [], False),
        ([], [(60, 60)], [], False),
        ([], [], [trade(1, 0)], False),
        ([], [], [(1, 0)], True),
        ([], [], [(1, 0), trade(1, 0)], True),  # stays set after the trade came back
        ([(60, candle(60, "1"), False)], [(60, 120)], [trade(1, 0), (1, 0)], True),
    ],
)
def test_correction_only_when_a_trade_was_removed(candles: list[Any], deleted: list[tuple[int, int]],
                                                 trades: list[TradeOp], correction: bool) -> None:
    assert update(candles=candles, deleted=deleted, trades=trades)["correction"] is correction


prices = st.decimals(min_value=Decimal("1e-24"), max_value=Decimal("1e12"), places=None, allow_nan=False,
                     allow_infinity=False).filter(lambda d: d > 0)
amounts = st.integers(min_value=0, max_value=10**40)
counts = st.integers(min_value=0, max_value=10**6)


@given(t=st.integers(min_value=0, max_value=2**40), o=prices, h=prices, lo=prices, c=prices, vt=amounts, ve=amounts,
       n=counts, b=counts, s=counts, final=st.booleans())
def test_candle_json_is_the_canonical_member_of_the_public_candle(t: int, o: Decimal, h: Decimal, lo: Decimal,
                                                                     c: Decimal, vt: int, ve: int, n: int, b: int,
                                                                     s: int, final: bool) -> None:
    candle_ = Candle(t, o, h, lo, c, vt, ve, n, b, s)
    assert candle_json(candle_, final) == candle_member(public_candle(candle_, final))


def test_a_token_output_plans_as_its_wire_form() -> None:
    """The sinks plan from the output's own members; readers and tools from `wire()`."""
    u = token_update(candles=[(60, candle(60, "1.5"), True), (1, candle(61, "2"), False), (60, candle(120, "3"), False)],
                     deleted=[(300, 0)], trades=[trade(5, 1), (4, 2)])
    base = {"price": "1", "name": "x"}
    out = u.build(1, A, {"price": "2", "name": "x"}, {60: 0}, base)
    want = plan([out.wire()], "ns", [base])
    got = plan([out], "ns")
    assert tuple(got) == tuple(want) and got.expired == want.expired and got.bases == want.bases
    assert ops(plan([out], "ns", whole=True)) == ops(plan([out.wire()], "ns"))


def test_an_emitted_candle_is_read_when_the_output_is_built() -> None:
    """The batch emits a bucket again whenever it changes, so only its last version counts:
    made JSON once, from the object as it is when the output is built, with the last flag."""
    c = candle(60, "1")
    u = TokenUpdate()
    u.emit([(60, c, False)])
    c.add(Decimal("5"), False, 1, 1)
    c.close = Decimal("6")
    u.emit([(60, c, True)])
    assert closes(shaped(u)) == {"1m": [(60, "6", True)]}
    assert shaped(u)["candles"]["1m"][0]["trades"] == 2
    u.emit([(60, candle(60, "7"), False)])  # another object for the bucket replaces it
    assert closes(shaped(u)) == {"1m": [(60, "7", False)]}


# --------------------------------------------------------------------------- candles

def test_last_candle_per_key_and_bucket_wins() -> None:
    batch = [
        update(candles=[(60, candle(60, "1", trades=1), False), (300, candle(0, "1", trades=1), False)]),
        update(candles=[(60, candle(60, "2", trades=2), False), (300, candle(0, "2", trades=2), False)]),
        update(candles=[(60, candle(120, "3", trades=1), False), (300, candle(0, "3", trades=3), False)]),
    ]
    candles, _, _, _ = plan(batch)
    k1, k5 = candles_key(P1, A, "1m"), candles_key(P1, A, "5m")
    assert set(candles) == {(k1, 60), (k1, 120), (k5, 0)}
    assert orjson.loads(candles[(k1, 60)])["close"] == "2" and orjson.loads(candles[(k1, 60)])["trades"] == 2
    assert orjson.loads(candles[(k1, 120)])["close"] == "3"
    assert candles[(k5, 0)] == member(candle(0, "3", trades=3))


def test_several_candles_of_one_interval_in_one_update() -> None:
    """A settle or a correction can carry several buckets of the same interval."""
    u = update(candles=[(60, candle(0, "1"), True), (60, candle(60, "2"), True), (60, candle(120, "3"), False)])
    candles, _, _, _ = plan([u])
    k1 = candles_key(P1, A, "1m")
    assert candles == {(k1, 0): member(candle(0, "1"), True), (k1, 60): member(candle(60, "2"), True),
                       (k1, 120): member(candle(120, "3"), False)}


def test_final_flag_of_the_last_version_wins() -> None:
    batch = [update(candles=[(60, candle(60, "1"), False)]), update(candles=[(60, candle(60, "1"), True)])]
    candles, _, _, _ = plan(batch)
    assert candles == {(candles_key(P1, A, "1m"), 60): member(candle(60, "1"), True)}
    assert orjson.loads(candles[(candles_key(P1, A, "1m"), 60)])["final"] is True


W = "write"
D = "delete"


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        ([W], "1"),
        ([D], None),
        ([W, D], None),  # a reorg emptied the bucket after it was written in an earlier message
        ([D, W], "2"),  # the new fork filled it again
        ([W, D, W], "3"),
        ([D, W, D], None),
        ([W, W, D], None),
        ([D, D], None),
    ],
)
def test_deletes_and_writes_of_one_bucket_apply_in_batch_order(ops: list[str], expected: str | None) -> None:
    batch = []
    for i, op in enumerate(ops, 1):
        if op == W:
            batch.append(update(candles=[(60, candle(120, str(i)), False), (300, candle(0, str(i)), False)]))
        else:
            batch.append(update(candles=[(300, candle(0, str(i)), False)], deleted=[(60, 120)]))
    candles, _, _, _ = plan(batch)
    k1, k5 = candles_key(P1, A, "1m"), candles_key(P1, A, "5m")
    assert set(candles) == {(k1, 120), (k5, 0)}
    got = candles[(k1, 120)]
    assert (None if got is None else orjson.loads(got)["close"]) == expected
    assert orjson.loads(candles[(k5, 0)] or b"{}")["close"] == str(len(ops))  # the untouched key is unaffected


def test_delete_only_touches_its_own_key_and_bucket() -> None:
    batch = [
        update(candles=[(60, candle(60, "1"), False), (60, candle(120, "1"), False)]),
        update(B, candles=[(60, candle(120, "1"), False)]),
        update(A, 2, candles=[(60, candle(120, "1"), False)]),
        update(deleted=[(60, 120)]),
    ]
    candles, _, _, _ = plan(batch)
    assert candles[(candles_key(P1, A, "1m"), 120)] is None
    assert candles[(candles_key(P1, A, "1m"), 60)] == member(candle(60, "1"))
    assert candles[(candles_key(P1, B, "1m"), 120)] == member(candle(120, "1"))
    assert candles[(candles_key(P2, A, "1m"), 120)] == member(candle(120, "1"))


def test_within_one_update_its_candles_win_over_its_deletions() -> None:
    """Deletions of a message are applied before its candles. TokenUpdate never lists a bucket
    under both, but if a message did, the written candle is the newer truth."""
    msg = update(candles=[(60, candle(60, "5"), False)])
    msg["deleted"] = {"1m": [60]}
    candles, _, _, _ = plan([msg])
    assert candles == {(candles_key(P1, A, "1m"), 60): member(candle(60, "5"))}


def test_tokens_and_chains_do_not_mix() -> None:
    batch = [
        update(A, 1, candles=[(60, candle(60, "1"), False)]),
        update(B, 1, candles=[(60, candle(60, "2"), False)]),
        update(A, 2, candles=[(60, candle(60, "3"), False)]),
    ]
    candles, markets, _, tokens = plan(batch)
    assert {k: orjson.loads(v or b"{}")["close"] for k, v in candles.items()} == {
        (candles_key(P1, A, "1m"), 60): "1", (candles_key(P1, B, "1m"), 60): "2", (candles_key(P2, A, "1m"), 60): "3"}
    assert set(markets) == {market_key(P1, A), market_key(P1, B), market_key(P2, A)}
    assert tokens == {A: P2, B: P1}  # last chain seen for a token address (one worker serves one chain)


def test_namespace_prefixes_every_key() -> None:
    batch = [update(A, 8453, market={"price": "1"}, trades=[trade(5, 1, chain=8453)],
                    candles=[(60, candle(60, "1"), False)], deleted=[(60, 120)]),
             update(A, 8453, trades=[(5, 0)])]
    candles, markets, trades, tokens = plan(batch, "replay")
    p = prefix("replay", 8453)
    assert p == "replay:8453"
    assert set(candles) == {(candles_key(p, A, "1m"), 60), (candles_key(p, A, "1m"), 120)}
    assert set(markets) == {market_key(p, A)} and set(trades) == {trades_key(p, A)} and tokens == {A: p}
    assert set(trades[trades_key(p, A)]) == {trade_score(5, 1), trade_score(5, 0)}
    keys = [k for k, _ in candles] + list(markets) + list(trades) + [tokens_key(v) for v in tokens.values()]
    assert all(k.startswith("replay:8453:") for k in keys), keys
    default = plan(batch)
    assert all(k.startswith("pads:8453:") for k, _ in default[0])
    assert default[1:] != (markets, trades, tokens)  # same data, other keys


# --------------------------------------------------------------------------- markets

def test_market_is_replaced_not_merged() -> None:
    """Each update carries the whole snapshot, so a field a reorg took away must disappear."""
    batch = [
        update(market={"name": "Pepe", "symbol": "PEPE", "price": "1", "trades": "1"}),
        update(market={"name": "Pepe", "symbol": "PEPE", "price": "2", "trades": "2", "graduated": "1"}),
        update(market={"name": "Pepe", "symbol": "PEPE", "price": "2", "trades": "2"}),  # graduation reorged out
        update(B, market={"price": "9"}),
    ]
    _, markets, _, _ = plan(batch)
    assert markets[market_key(P1, A)] == {"name": "Pepe", "symbol": "PEPE", "price": "2", "trades": "2"}
    assert markets[market_key(P1, B)] == {"price": "9"}


def test_market_can_become_empty() -> None:
    _, markets, _, _ = plan([update(market={"price": "1", "trades": "1"}), update(market={})])
    assert markets == {market_key(P1, A): {}}


def test_market_is_a_copy_of_the_update() -> None:
    u = update(market={"price": "1"})
    _, markets, _, _ = plan([u])
    markets[market_key(P1, A)]["price"] = "changed"
    assert u["market"] == {"price": "1"}


# --------------------------------------------------------------------------- trades

def test_trades_are_deduplicated_and_scored_by_chain_position() -> None:
    t1, t2 = trade(10, 3), trade(11, 0)
    batch = [update(trades=[t1]), update(trades=[t2]), update(trades=[t1]), update()]
    _, _, trades, _ = plan(batch)
    assert trades == {trades_key(P1, A): {trade_score(10, 3): trade_member(t1), trade_score(11, 0): trade_member(t2)}}


def test_removed_trade_deletes_the_trade_at_its_score() -> None:
    t1, t2 = trade(10, 3), trade(11, 0)
    batch = [update(trades=[t1]), update(trades=[t2]), update(trades=[(11, 0)])]
    _, _, trades, _ = plan(batch)
    assert trades == {trades_key(P1, A): {trade_score(10, 3): trade_member(t1), trade_score(11, 0): None}}


def test_removal_of_a_trade_not_in_the_batch_is_still_planned() -> None:
    """The trade may be in Redis from an earlier batch: the delete must reach Redis."""
    _, _, trades, _ = plan([update(trades=[(7, 2)])])
    assert trades == {trades_key(P1, A): {trade_score(7, 2): None}}


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        ([ADD, REMOVE], None),
        ([REMOVE, ADD], ADD),
        ([ADD, REMOVE, ADD], ADD),
        ([REMOVE, ADD, REMOVE], None),
    ],
)
def test_trade_adds_and_removals_apply_in_batch_order(ops: list[str], expected: str | None) -> None:
    """The same across messages of a batch as within one message."""
    tr = trade(12, 4)
    batch = [update(trades=[tr]) if op == ADD else update(trades=[(12, 4)]) for op in ops]
    _, _, trades, _ = plan(batch)
    assert trades == {trades_key(P1, A): {trade_score(12, 4): trade_member(tr) if expected else None}}


def test_removed_trade_only_touches_its_own_token_and_chain() -> None:
    ta, tb, tc = trade(10, 0), trade(10, 0, B), trade(10, 0, chain=2)
    batch = [update(trades=[ta]), update(B, trades=[tb]), update(A, 2, trades=[tc]), update(trades=[(10, 0)])]
    _, _, trades, _ = plan(batch)
    assert trades == {trades_key(P1, A): {trade_score(10, 0): None},
                      trades_key(P1, B): {trade_score(10, 0): trade_member(tb)},
                      trades_key(P2, A): {trade_score(10, 0): trade_member(tc)}}


# --------------------------------------------------------------------------- whole batches

def test_empty_batch_and_update_without_trade() -> None:
    assert plan([]) == ({}, {}, {}, {})
    candles, markets, trades, tokens = plan([update()])
    assert candles == {} and trades == {} and markets == {market_key(P1, A): {}} and tokens == {A: P1}


def test_plan_is_idempotent_over_a_repeated_batch() -> None:
    batch = [update(market={"price": str(i)}, trades=[trade(i, 0)],
                     candles=[(60, candle(60 * (i // 3), str(i)), i % 2 == 0)]) for i in range(1, 10)]
    batch += [update(market={"price": "8"}, deleted=[(60, 180)], trades=[(9, 0)])]
    once = plan(batch)
    assert plan(batch + batch) == once
    assert once[0][(candles_key(P1, A, "1m"), 180)] is None
    assert once[2][trades_key(P1, A)][trade_score(9, 0)] is None
    assert once[2][trades_key(P1, A)][trade_score(8, 0)] == trade_member(trade(8, 0))


# --------------------------------------------------------------------------- RedisMirror.write commands
# The ops of a batch, as the Redis commands the script runs for them (the script itself is
# checked against these commands on a real Redis in tests/integration/test_redis_mirror.py).

def commands(batch_ops: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for op in batch_ops:
        if op[0] == "z":
            out.append(("zremrangebyscore", op[1], op[2], op[2]))
            if op[3] is not None:
                out.append(("zadd", op[1], {op[3]: op[2]}))
        elif op[0] == "h":
            out.append(("delete", op[1]))
            if op[2]:
                out.append(("hset", op[1], ("mapping", op[2])))
        elif op[0] == "r":
            out.append(("zremrangebyrank", op[1], 0, -op[2] - 1))
        else:
            out.append(("sadd", op[1], op[2]))
    return out + [("execute",)]


def written(batch: list[dict[str, Any]], namespace: str = "pads") -> list[tuple[Any, ...]]:
    return commands(ops(plan(batch, namespace)))


def test_script_args_name_each_key_once_and_flatten_ops() -> None:
    batch_ops = [("z", "c", 60, b"m"), ("z", "c", 120, None), ("h", "m", {"a": "1", "b": "2"}), ("h", "e", {}),
                 ("r", "t", 500), ("s", "k", "0xaa")]
    keys, args = script_args(batch_ops)
    assert keys == ["c", "m", "e", "t", "k"]
    assert args == ["z", 1, 60, b"m", "z", 1, 120, b"", "h", 2, 2, "a", "1", "b", "2", "h", 3, 0,
                    "r", 4, 500, "s", 5, "0xaa"]
    assert script_args([]) == ([], [])


def test_write_deletes_without_adding_and_replaces_markets() -> None:
    t1 = trade(10, 0)
    batch = [update(market={"price": "1", "graduated": "1"}, trades=[t1], candles=[(60, candle(60, "1"), False)]),
             update(market={"price": "1"}, deleted=[(60, 60)], trades=[(10, 0)])]
    ck, mk, tk = candles_key(P1, A, "1m"), market_key(P1, A), trades_key(P1, A)
    assert written(batch) == [
        ("zremrangebyscore", ck, 60, 60),
        ("delete", mk), ("hset", mk, ("mapping", {"price": "1"})),
        ("zremrangebyscore", tk, trade_score(10, 0), trade_score(10, 0)),
        ("zremrangebyrank", tk, 0, -RECENT_TRADES - 1),
        ("sadd", tokens_key(P1), A),
        ("execute",),
    ]


def test_write_replaces_bucket_and_trade_members_in_the_namespace() -> None:
    t1 = trade(10, 0)
    batch = [update(market={}, trades=[t1], candles=[(60, candle(60, "1"), True)])]
    p = prefix("shadow", 1)
    ck, mk, tk = candles_key(p, A, "1m"), market_key(p, A), trades_key(p, A)
    s = trade_score(10, 0)
    assert written(batch, "shadow") == [
        ("zremrangebyscore", ck, 60, 60), ("zadd", ck, {member(candle(60, "1"), True): 60}),
        ("delete", mk),  # an empty snapshot leaves no hash behind
        ("zremrangebyscore", tk, s, s), ("zadd", tk, {trade_member(t1): s}),
        ("zremrangebyrank", tk, 0, -RECENT_TRADES - 1),
        ("sadd", tokens_key(p), A),
        ("execute",),
    ]


def test_write_of_a_trade_removed_and_re_added_in_one_message_ends_present() -> None:
    t1 = trade(10, 0)
    tk, s = trades_key(P1, A), trade_score(10, 0)
    log = written([update(trades=[(10, 0), t1])])
    assert [e for e in log if e[1:2] == (tk,)] == [
        ("zremrangebyscore", tk, s, s), ("zadd", tk, {trade_member(t1): s}),
        ("zremrangebyrank", tk, 0, -RECENT_TRADES - 1),
    ]
    log = written([update(trades=[t1, (10, 0)])])
    assert [e for e in log if e[1:2] == (tk,)] == [
        ("zremrangebyscore", tk, s, s), ("zremrangebyrank", tk, 0, -RECENT_TRADES - 1),
    ]


# ------------------------------------------------------------------ markets written as differences

RANKED = {"created_at": "100", "curve_progress": "12.5", "market_cap_eth": "30", "volume_eth_5m": "2000000000000000000",
          "price": "0.1", "trades": "4"}


def market_ops(batch: list[dict[str, Any]], bases: list[dict[str, str] | None]) -> list[tuple[Any, ...]]:
    return [op for op in ops(plan(batch, bases=bases)) if op[0] in "hu" or op[1].startswith(f"{P1}:rank:")]


@pytest.mark.parametrize(("base", "market", "expected"), [
    # (what the hash holds, the new snapshot, the market and ranking ops)
    (None, RANKED, [("h", market_key(P1, A), RANKED), ("a", f"{P1}:rank:created", "100", A),
                    ("a", f"{P1}:rank:market_cap", "30", A), ("a", f"{P1}:rank:progress", "12.5", A),
                    ("d", f"{P1}:rank:graduated", A), ("a", f"{P1}:rank:volume_5m", "2", A)]),
    (RANKED, RANKED, []),  # nothing changed: nothing written
    (RANKED, RANKED | {"price": "0.2", "trades": "5"},  # unranked fields only: no ranking writes
     [("u", market_key(P1, A), {"price": "0.2", "trades": "5"}, [])]),
    (RANKED, RANKED | {"market_cap_eth": "31", "volume_eth_5m": "0"},
     [("u", market_key(P1, A), {"market_cap_eth": "31", "volume_eth_5m": "0"}, []),
      ("a", f"{P1}:rank:market_cap", "31", A), ("a", f"{P1}:rank:volume_5m", "0", A)]),
    (RANKED | {"high_5m": "0.3"}, RANKED, [("u", market_key(P1, A), {}, ["high_5m"])]),  # a reorg took it
    (RANKED, RANKED | {"graduated": "1", "graduated_at": "200", "curve_progress": "100"},
     [("u", market_key(P1, A), {"graduated": "1", "graduated_at": "200", "curve_progress": "100"}, []),
      ("a", f"{P1}:rank:graduated", "200", A), ("d", f"{P1}:rank:progress", A)]),
])
def test_a_known_market_is_written_as_its_differences(base: dict[str, str] | None, market: dict[str, str],
                                                       expected: list[tuple[Any, ...]]) -> None:
    assert market_ops([update(market=market)], [base]) == expected


def test_the_first_base_of_a_token_in_a_batch_is_the_one_that_counts() -> None:
    first, second = RANKED | {"price": "0.2"}, RANKED | {"price": "0.3"}
    got = market_ops([update(market=first), update(market=second)], [RANKED, first])
    assert got == [("u", market_key(P1, A), {"price": "0.3"}, [])]
    # One update without a base: the whole hash is replaced, whatever the others knew.
    assert market_ops([update(market=first), update(market=second)], [None, first])[0] == \
        ("h", market_key(P1, A), second)


def test_script_args_of_a_difference() -> None:
    keys, args = script_args([("u", "k", {"a": "1", "b": "2"}, ["c"]), ("u", "k", {}, [])])
    assert keys == ["k"]
    assert args == ["u", 1, 2, "a", "1", "b", "2", 1, "c", "u", 1, 0, 0]


def test_an_output_whose_market_is_its_base_writes_no_market_and_pushes_none() -> None:
    # A settle alone changes no field: the folder hands the market it showed last, as both.
    shown = dict(RANKED)
    same = TokenUpdate().build(1, A, shown, None, shown)
    assert [op for op in ops(plan([same])) if op[0] in "hu" or ":rank:" in op[1]] == []
    moved = TokenUpdate().build(1, A, RANKED | {"price": "0.2"}, None, shown)
    assert [op[0] for op in ops(plan([moved])) if op[0] in "hu"] == ["u"]
    box = Outbox(100)
    box.add_update(same)
    assert box.drain_markets() == []
    box.add_update(moved)
    assert [m["market"]["price"] for m in box.drain_markets()] == ["0.2"]
