"""check's recompute: the canonical log set (removal cancels, duplicates once, order) and the
finality rule, against hand-built raw logs."""

from __future__ import annotations

import random
from collections.abc import Sequence

from pads_stream.candles.fold import Candle, fold
from pads_stream.candles.price import trade_price
from pads_stream.chain.rawlog import HeadMarker, RawLog
from pads_stream.decode.abi import GRADUATED_TOPIC, TRADE_TOPIC
from pads_stream.ops.recompute import LogSet, recompute, recompute_messages

CHAIN = 7
TOKEN = "0x" + "a1" * 20
OTHER = "0x" + "a2" * 20
TRADER = "0x" + "b2" * 20
CURVE = "0x" + "c3" * 20
T0 = 1_700_000_020  # 40 s into a minute


def _topic(addr: str) -> str:
    return "0x" + "00" * 12 + addr[2:]


def trade(block: int, idx: int, ts: int, eth: int, tok: int, is_buy: bool = True, token: str = TOKEN,
          block_hash: str | None = None, removed: bool = False, chain_id: int = CHAIN) -> RawLog:
    data = "0x" + "".join(f"{v:064x}" for v in (int(is_buy), tok, eth, 10**18, 10**24))
    return RawLog(chain_id, CURVE, (TRADE_TOPIC, _topic(token), _topic(TRADER)), data, block,
                  block_hash or f"0x{block:064x}", ts, "0x" + "33" * 32, 0, idx, removed)


def marker(finalized: int, chain_id: int = CHAIN) -> HeadMarker:
    return HeadMarker(chain_id, finalized + 5, "0x" + "44" * 32, finalized)


def one_minute(messages: Sequence[RawLog | HeadMarker]) -> dict[int, dict[str, object]]:
    return recompute_messages(messages, CHAIN, (60,)).candles.get((TOKEN, "1m"), {})


def test_single_trade_makes_one_candle_per_interval() -> None:
    e = recompute_messages([trade(10, 0, T0, 2, 4)], CHAIN, (60, 3600))
    assert set(e.candles) == {(TOKEN, "1m"), (TOKEN, "1h")}
    c = e.candles[(TOKEN, "1m")][T0 - 40]
    assert c == {"t": T0 - 40, "open": "0.5", "high": "0.5", "low": "0.5", "close": "0.5", "volume_token": "4",
                 "volume_eth": "2", "trades": 1, "buys": 1, "sells": 0, "final": False}
    assert e.markets[TOKEN] == {"price": "0.5", "last_trade_block": "10", "last_trade_at": str(T0), "trades": "1",
                                "last_trade_log_index": "0", "volume_eth": "2", "volume_token": "4",
                                "virtual_eth_reserves": str(10**18), "virtual_token_reserves": str(10**24)}
    assert (e.trades, e.candle_count) == (1, 2)


def test_removed_log_cancels_the_earlier_one() -> None:
    a, b = trade(10, 0, T0, 1, 4), trade(11, 0, T0 + 1, 3, 4)
    removed_b = trade(11, 0, T0 + 1, 3, 4, removed=True)
    c = one_minute([a, b, removed_b])[T0 - 40]
    assert (c["trades"], c["close"], c["high"]) == (1, "0.25", "0.25")


def test_removal_matches_block_hash_not_just_position() -> None:
    a = trade(11, 0, T0, 3, 4, block_hash="0x" + "aa" * 32)
    other_fork = trade(11, 0, T0, 3, 4, block_hash="0x" + "bb" * 32, removed=True)
    assert one_minute([a, other_fork])[T0 - 40]["trades"] == 1


def test_reorg_replacement_at_the_same_position() -> None:
    old = trade(11, 0, T0, 3, 4, block_hash="0x" + "aa" * 32)
    gone = trade(11, 0, T0, 3, 4, block_hash="0x" + "aa" * 32, removed=True)
    new = trade(11, 0, T0, 1, 4, block_hash="0x" + "bb" * 32)
    c = one_minute([old, gone, new])[T0 - 40]
    assert (c["trades"], c["close"]) == (1, "0.25")


def test_all_trades_of_a_bucket_removed_leaves_no_candle() -> None:
    a = trade(10, 0, T0, 1, 4)
    e = recompute_messages([a, trade(10, 0, T0, 1, 4, removed=True)], CHAIN, (60,))
    assert e.candles == {} and e.markets == {} and e.trades == 0


def test_duplicates_count_once() -> None:
    a, b = trade(10, 0, T0, 1, 4), trade(10, 1, T0, 3, 4, is_buy=False)
    c = one_minute([a, b, a, b, a])[T0 - 40]
    assert (c["trades"], c["buys"], c["sells"], c["volume_eth"]) == (2, 1, 1, "4")


def test_order_is_block_then_log_index_whatever_the_arrival() -> None:
    logs = [trade(10, 0, T0, 1, 4), trade(10, 1, T0, 2, 4), trade(11, 0, T0 + 2, 3, 4), trade(12, 5, T0 + 3, 4, 4)]
    expected = one_minute(list(logs))
    shuffled = logs[:]
    random.Random(3).shuffle(shuffled)
    assert shuffled != logs
    assert one_minute(shuffled) == expected  # different partitions: no order between them
    c = expected[T0 - 40]
    assert (c["open"], c["close"], c["high"], c["low"]) == ("0.25", "1", "1", "0.25")
    m = recompute_messages(shuffled, CHAIN, (60,)).markets[TOKEN]
    assert (m["price"], m["last_trade_block"]) == ("1", "12")


def test_fold_matches_the_pure_fold_for_many_trades() -> None:
    rng = random.Random(11)
    params = [(100 + i, i % 3, T0 + 7 * i, rng.randrange(1, 10**18), rng.randrange(1, 10**24), rng.random() < 0.6)
              for i in range(200)]
    got = recompute([trade(*p) for p in params], -1, (300,)).candles[(TOKEN, "5m")]
    ref: dict[int, Candle] = {}
    for _block, _idx, ts, eth, tok, is_buy in params:
        b = ts - ts % 300
        ref[b] = fold(ref.get(b), b, trade_price(eth, tok), is_buy, tok, eth)
    assert len(ref) > 3
    assert got == {b: {**c.to_public(), "final": False} for b, c in ref.items()}


def test_a_candle_is_final_iff_all_its_trades_are_at_or_below_the_finalized_block() -> None:
    logs = [trade(10, 0, T0, 1, 4), trade(11, 0, T0 + 10, 1, 4),  # bucket T0-40: blocks 10, 11
            trade(12, 0, T0 + 30, 1, 4)]                           # bucket T0+20: block 12
    def finals(f: int | None) -> dict[int, object]:
        msgs: list[RawLog | HeadMarker] = [*logs, *([marker(f)] if f is not None else [])]
        return {t: c["final"] for t, c in one_minute(msgs).items()}
    assert finals(None) == {T0 - 40: False, T0 + 20: False}
    assert finals(10) == {T0 - 40: False, T0 + 20: False}  # block 11 is not final yet
    assert finals(11) == {T0 - 40: True, T0 + 20: False}
    assert finals(12) == {T0 - 40: True, T0 + 20: True}


def test_finalized_is_the_largest_marker_in_any_order() -> None:
    s = LogSet(CHAIN)
    for m in (marker(5), marker(9), marker(7), marker(100, chain_id=CHAIN + 1)):
        s.add(m)
    assert s.finalized == 9
    assert LogSet(CHAIN).finalized == -1


def test_other_chains_and_non_trades_make_no_candles() -> None:
    graduated = RawLog(CHAIN, CURVE, (GRADUATED_TOPIC, _topic(TOKEN)), "0x" + "00" * 64, 9, "0x" + "09" * 32,
                       T0, "0x" + "33" * 32, 0, 0, False)
    bad = trade(10, 1, T0, 1, 0)  # zero token amount: undecodable, dead-lettered by the worker
    e = recompute_messages([graduated, bad, trade(10, 2, T0, 1, 4, chain_id=CHAIN + 1), trade(10, 3, T0, 1, 4,
                            token=OTHER)], CHAIN, (60,))
    assert set(e.candles) == {(OTHER, "1m")}
    assert (e.trades, e.undecodable) == (1, 1)
