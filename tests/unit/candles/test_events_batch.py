"""Domain events and alerts made by the fold: the same ids and bytes whatever the batching,
interruptions and redeliveries; final forms only for causes that stayed on the chain;
provisional alerts retracted when their trade leaves it (docs/alerts-design.md)."""

from __future__ import annotations

import random
import zlib
from collections import Counter
from dataclasses import replace
from decimal import Decimal

import orjson
import pytest

from benchmarks.workload import Workload, messages, token_of
from pads_stream.alerts.rules import RULE_KEY, deletion_record, parse_rule
from pads_stream.candles.batch import BatchFolder, Message
from pads_stream.candles.events import EventParams
from pads_stream.candles.flush import WriteBehind
from pads_stream.candles.intervals import parse_intervals
from pads_stream.candles.market import MarketParams
from pads_stream.candles.price import trade_price
from pads_stream.chain.rawlog import MARKER_KEY, parse_raw_log
from pads_stream.decode.events import TradeEvent, decode_log

INTERVALS = parse_intervals("1m,1h")
CHAIN = 31337
PARTITIONS = 3
REORG_FROM = 60
MARKET = MarketParams(windows=(300, 3600))
PARAMS = EventParams(large_trade_wei=3 * 10**16, market=MARKET)


def rule(rid: str, **body: object) -> bytes:
    r = parse_rule({"recurrence": "every", "on": "provisional", **body}, owner="alice", rule_id=rid, created_at=0,
                   windows=MARKET.windows)
    return r.raw_record(CHAIN)


def with_rules(pairs: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Rules published to every partition before the logs, one deleted halfway, one added late."""
    prices = sorted(format(_price(v), "f") for k, v in pairs if _is_trade(k, v))
    mid = prices[len(prices) // 2]
    hot = token_of(0)
    first = [
        rule("r_" + "1" * 32, type="price_above", token=hot, value=str(mid)),
        rule("r_" + "2" * 32, type="price_below", token=hot, value=str(mid), on="final"),
        rule("r_" + "3" * 32, type="large_trade", value="0.02"),
        rule("r_" + "4" * 32, type="volume", token=hot, value="0.5", window="5m", recurrence="once"),
        rule("r_" + "5" * 32, type="change", token=token_of(1), value="1", window="1h"),
        rule("r_" + "6" * 32, type="large_trade", value="0.03", recurrence="once", on="final"),
    ]
    half = len(pairs) // 2
    out = [(RULE_KEY, r) for r in first] + pairs[:half]
    out += [(RULE_KEY, deletion_record("r_" + "3" * 32, CHAIN)),
            (RULE_KEY, rule("r_" + "7" * 32, type="large_trade", value="0.02"))]
    return out + pairs[half:]


def _is_trade(key: bytes, value: bytes) -> bool:
    return key != MARKER_KEY and b'"kind"' not in value[:40] and isinstance(decode_log(parse_raw_log(value)), TradeEvent)


def _price(value: bytes) -> Decimal:
    t = decode_log(parse_raw_log(value))
    assert isinstance(t, TradeEvent)
    return trade_price(t.eth_amount, t.token_amount)


def partitioned(pairs: list[tuple[bytes, bytes]]) -> dict[int, list[Message]]:
    logs: dict[int, list[Message]] = {p: [] for p in range(PARTITIONS)}
    for key, value in pairs:
        targets = range(PARTITIONS) if key in (MARKER_KEY, RULE_KEY) else [zlib.crc32(key) % PARTITIONS]
        for p in targets:
            logs[p].append(Message(p, len(logs[p]), key, value))
    return logs


def with_reorg(pairs: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    gone = [(k, replace(lg, removed=True).encode()) for k, v in pairs
            if k not in (MARKER_KEY, RULE_KEY) and (lg := parse_raw_log(v)).block_number >= REORG_FROM]
    return pairs + gone[::-1]


class World:
    """A table and the events topic; a crash loses what was not flushed, delivery restarts
    from the committed offsets (as in test_candle_batch)."""

    def __init__(self) -> None:
        self.table: dict[tuple[int, bytes], bytes] = {}
        self.buffer = WriteBehind()
        self.unacked: list[Message] = []
        self.committed = {p: 0 for p in range(PARTITIONS)}
        self.events: list[bytes] = []  # the topic: every event sent, duplicates included
        self.dead: list[str] = []

    def read(self, partition: int, key: bytes) -> bytes | None:
        held, value = self.buffer.read(key)
        return value if held else self.table.get((partition, key))

    def fold(self, batch: list[Message], crash: random.Random | None) -> None:
        folder = BatchFolder(self.read, CHAIN, INTERVALS, floor={p: 0 for p in range(PARTITIONS)}, params=MARKET,
                             events=PARAMS)
        out = folder.run(batch)
        self.dead += [reason for _, reason in out.dead]
        sent = [u for u in out.updates if crash is None or crash.random() < 0.5]
        self.events += [ev for u in sent for ev in u.events]
        if crash is not None:
            self.buffer.clear()
            self.unacked = []
            return
        self.buffer.add(out.writes)
        self.unacked += batch

    def flush(self) -> None:
        for p, key, value in self.buffer.drain():
            if value is None:
                self.table.pop((p, key), None)
            else:
                self.table[(p, key)] = value
        for m in self.unacked:
            self.committed[m.partition] = max(self.committed[m.partition], m.offset + 1)
        self.unacked = []

    def by_id(self) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for ev in self.events:
            i = orjson.loads(ev)["id"]
            assert out.setdefault(i, ev) == ev, "one id, two bodies"
        return out


def run(logs: dict[int, list[Message]], size: int, seed: int = 0, crash_every: int = 0) -> World:
    rng = random.Random(seed)
    world = World()
    n = 0
    while any(world.committed[p] < len(ms) for p, ms in logs.items()):
        cursor = dict(world.committed)
        while True:
            batch: list[Message] = []
            while len(batch) < size:
                live = [p for p in logs if cursor[p] < len(logs[p])]
                if not live:
                    break
                p = rng.choice(live)
                take = min(rng.randint(1, size), len(logs[p]) - cursor[p], size - len(batch))
                batch += logs[p][cursor[p]:cursor[p] + take]
                cursor[p] += take
            if not batch:
                world.flush()
                break
            n += 1
            if crash_every and n % crash_every == 0:
                world.fold(batch, crash=rng)
                break
            world.fold(batch, crash=None)
            if rng.random() < 0.4:
                world.flush()
    return world


@pytest.fixture(scope="module")
def history() -> dict[int, list[Message]]:
    pairs = list(messages(Workload(trades=600, tokens=7, logs_per_block=10, finality_depth=3)))
    return partitioned(with_reorg(with_rules(pairs)))


@pytest.fixture(scope="module")
def one_by_one(history: dict[int, list[Message]]) -> World:
    world = run(history, size=1)
    assert not world.dead
    return world


def kinds(world: World) -> Counter[tuple[str, bool]]:
    return Counter((d["type"], d["final"]) for d in map(orjson.loads, world.by_id().values()))


def test_every_event_type_the_history_causes_is_made(one_by_one: World) -> None:
    got = kinds(one_by_one)
    for kind in [("token_created", False), ("token_created", True), ("large_trade", False), ("large_trade", True),
                 ("new_ath", False), ("alert", False), ("alert", True), ("alert_retracted", False),
                 ("reorg_correction", False)]:
        assert got[kind] > 0, (kind, got)
    assert len(one_by_one.events) == len(one_by_one.by_id()), "folded once, each event made once"


@pytest.mark.parametrize(("size", "crash_every"), [(7, 0), (64, 0), (5000, 0), (1, 3), (7, 2), (64, 3)])
def test_any_batching_and_crashes_make_the_same_events(history: dict[int, list[Message]], one_by_one: World,
                                                       size: int, crash_every: int) -> None:
    world = run(history, size, seed=size, crash_every=crash_every)
    assert world.by_id() == one_by_one.by_id()


def test_final_forms_only_for_causes_that_stayed_and_provisional_alerts_retracted(one_by_one: World) -> None:
    events = [orjson.loads(e) for e in one_by_one.events]
    removed_final = [e for e in events if e["final"] and e["block_number"] >= REORG_FROM]
    assert removed_final == [], "nothing final from a block the reorg removed"
    provisional = {e["id"]: e for e in events if e["type"] == "alert" and not e["final"]}
    retracted = {e["data"]["retracts"] for e in events if e["type"] == "alert_retracted"}
    for i, e in provisional.items():
        assert (i in retracted) == (e["block_number"] >= REORG_FROM), e
        assert e["data"]["on"] == "provisional"
    finals = [e for e in events if e["type"] == "alert" and e["final"]]
    assert all(e["data"]["on"] == "final" for e in finals)
    # A retraction refers to the alert's cause, and its ref is the alert's.
    for e in events:
        if e["type"] == "alert_retracted":
            assert any(a["ref"] == e["ref"] for a in provisional.values())


def test_rules_apply_from_their_record_on_and_stop_at_their_deletion(one_by_one: World) -> None:
    events = [orjson.loads(e) for e in one_by_one.events if b'"type":"alert"' in e]
    by_rule = Counter(e["data"]["rule_id"] for e in events)
    assert by_rule["r_" + "3" * 32] > 0 and by_rule["r_" + "7" * 32] > 0
    # Rule 3 (deleted halfway) and rule 7 (added then) never overlap in chain position within a partition.
    last3 = max((e["block_number"], e["log_index"]) for e in events if e["data"]["rule_id"] == "r_" + "3" * 32)
    first7 = min((e["block_number"], e["log_index"]) for e in events if e["data"]["rule_id"] == "r_" + "7" * 32)
    assert last3 < first7


def test_once_fires_at_most_once_per_token_unless_its_cause_left_the_chain(one_by_one: World) -> None:
    events = [orjson.loads(e) for e in one_by_one.events]
    for rid in ("r_" + "4" * 32, "r_" + "6" * 32):
        fired = [e for e in events if e["type"] == "alert" and e["data"]["rule_id"] == rid]
        retracted = [e for e in events if e["type"] == "alert_retracted" and e["data"]["rule_id"] == rid]
        per_token = Counter(e["token"] for e in fired if e["final"] or e["data"]["on"] == "provisional")
        gone = Counter(e["token"] for e in retracted)
        assert fired, rid
        assert all(n - gone[t] <= 1 for t, n in per_token.items()), (rid, per_token, gone)


def test_the_windows_after_a_trade_are_the_windows_before_it_plus_the_trade() -> None:
    """`Before` reads the windows without traders or extremes, and `after` adds the trade instead
    of walking the activity again: the same values as `windows_stats` after the trade."""
    from pads_stream.alerts.evaluate import Observation
    from pads_stream.candles.events import Before, observe
    from pads_stream.candles.state import TokenState, apply_trade, settle
    from pads_stream.candles.windows import windows_stats

    rules = [parse_rule({"type": "volume", "token": token_of(0), "value": "1", "window": w}, owner="a",
                        rule_id="r_" + c * 32, created_at=0, windows=MARKET.windows)
             for c, w in (("a", "5m"), ("b", "1h"))]
    state, checked = TokenState(), 0
    for i, (_key, value) in enumerate(messages(Workload(trades=400, tokens=1, logs_per_block=3, finality_depth=3))):
        if _key == MARKER_KEY or not _is_trade(_key, value):
            continue
        t = decode_log(parse_raw_log(value))
        assert isinstance(t, TradeEvent)
        before = Before(state, t.ref.block_timestamp, rules, PARAMS)
        apply_trade(state, t, INTERVALS)
        if i % 7 == 0:
            settle(state, t.ref.block_number - 2, INTERVALS)
        price = trade_price(t.eth_amount, t.token_amount)
        derived = before.after(state, PARAMS, price, t.virtual_eth, t.eth_amount)
        walked: Observation = observe(state, PARAMS, price, t.virtual_eth,
                                      {w: (st.volume_eth, st.open) for w, st in windows_stats(
                                          state.activity, state.pending, t.ref.block_timestamp, (300, 3600)).items()},
                                      False)
        for w in (300, 3600):
            assert derived.volume_eth(w) == walked.volume_eth(w)
            assert derived.change(w) == walked.change(w)
        checked += 1
    assert checked > 300
