"""Fold a batch of raw-log messages into token states (pure): what the candle agent must
deliver (to Redis and the push) and then write.

Each token's state is read and decoded once per batch and encoded once, however many of its
trades the batch holds, and each token touched gets one update message. Besides one value
per token, each partition keeps three small values in the same table: its position (the next
offset to apply, how far the chain is final from the bridge's head markers, and its chain
time), the tokens that still have pending trades, so a rising finalized block settles
exactly those, and the window index: each token whose rolling windows still hold trades,
with the chain time at which one leaves, so moving chain time visits exactly those.

Idempotency: a message below the partition's next offset, or at or below the offset its
token's value records, was applied already and changes nothing. The agent writes the table
only after Redis took the batch's updates, so a state that survived an interruption implies
its updates did too.

Gaps: a message above the partition's next offset means the consumer skipped some (Faust
drops records it fetched around a rebalance, then commits past them as a "gap"). The batch
stops applying that partition there and reports the offset to seek back to, because the
table, not the committed offset, says exactly what was applied.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import orjson

from ..alerts.evaluate import RuleIndex
from ..alerts.events import BLOCK
from ..alerts.rules import RULE_KEY, shared_rule_record
from ..chain.rawlog import HeadMarker, parse_message
from ..decode.events import CurveCreatedEvent, GraduatedEvent, Record, TradeEvent, decode_log
from ..errors import DecodeError, OrderError
from .cache import StateCache
from .codec import (
    Deferred,
    TableValue,
    decode_pending,
    decode_rules,
    decode_state,
    encode_pending,
    encode_rules,
    encode_state,
)
from .events import Before, EventParams, TokenEvents, oldest_pending
from .market import MarketParams
from .output import TokenOutput, TokenUpdate
from .state import (
    DeepReorgError,
    TokenState,
    add_trade,
    apply_curve_created,
    apply_graduated,
    fold_tail,
    remove_trade,
    settle,
)
from .windows import next_change, window_start

log = logging.getLogger(__name__)


DEEP_REORGS_KEPT = 10  # per partition: the latest deep reorgs its position remembers
_BLOCK = attrgetter("block")  # a pending block's number, to bisect them by


def position_key(partition: int) -> bytes:
    return b"\x00position:%d" % partition


def decode_position(raw: bytes | None) -> dict[str, Any]:
    """A partition's position value; next = -1: nothing applied yet, so any first offset is
    where the partition starts."""
    pos = orjson.loads(raw) if raw else {"next": -1, "finalized": -1}
    pos.setdefault("time", -1)  # written before chain time existed
    return pos  # type: ignore[no-any-return]


def pending_key(partition: int) -> bytes:
    """A partition's tokens with pending trades and the oldest pending block of each: a head
    marker visits only the tokens it settles."""
    return b"\x00pending:%d" % partition


def windows_key(partition: int) -> bytes:
    """A partition's tokens whose windows hold trades, each with the chain time at which the
    first of those leaves a window (see `windows.next_change`)."""
    return b"\x00windows:%d" % partition


def rules_key(partition: int) -> bytes:
    """A partition's alert rules: those its rule records added and did not delete yet."""
    return b"\x00rules:%d" % partition


def expired_before(state: TokenState, retention: list[tuple[int, int]]) -> dict[int, int]:
    """Per interval, the bucket start before which a token's candles leave Redis: CANDLE_RETENTION
    back from its last final trade. Final trades never change, so neither does what a token
    keeps, however its writes were batched, and a reorg never brings back what left."""
    last = state.settled_market
    if not retention or last.price is None:
        return {}
    return {s: last.last_trade_at - keep for s, keep in retention}


@dataclass(frozen=True, slots=True)
class Message:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp: float = 0.0  # Kafka's, in seconds (for latency metrics only)


@dataclass(slots=True)
class Outcome:
    """`dead` are (message index, reason); `deep_reorgs` also appear in `dead`. `gaps` maps a
    partition to (the offset it must be read from again, the offset that came instead); `held` are the indices of messages
    behind a gap, not applied (release them, never ack them)."""

    dead: list[tuple[int, str]] = field(default_factory=list)
    gaps: dict[int, tuple[int, int]] = field(default_factory=dict)
    held: list[int] = field(default_factory=list)
    updates: list[TokenOutput] = field(default_factory=list)
    # (partition, key, value); None deletes, so an emptied set reads the same as one never made.
    writes: list[tuple[int, bytes, TableValue]] = field(default_factory=list)
    deep_reorgs: list[str] = field(default_factory=list)
    # Every deep reorg recorded in the positions this batch read, earlier ones (before a restart) too.
    deep_known: list[str] = field(default_factory=list)


class BatchFolder:
    def __init__(self, read: Callable[[int, bytes], bytes | None], chain_id: int,
                 intervals: tuple[int, ...], floor: dict[int, int] | None = None,
                 cache: StateCache | None = None, params: MarketParams | None = None,
                 retention: dict[int, int] | None = None, events: EventParams | None = None) -> None:
        """`floor` raises a partition's next offset: where Kafka's retention already
        deleted what the table expected next. States come from `cache` before the table and
        are changed in place: on success, `cache.keep(self.states)`; on failure, clear it."""
        self.floor = floor or {}
        self.cache = cache
        self.read = read
        self.chain_id = chain_id
        self.intervals = intervals
        self.params = params  # None: no windows, no derived fields (MARKET_DATA off)
        self.windows_on = bool(params and params.windows)
        self.retention = [(s, keep) for s, keep in sorted((retention or {}).items()) if s in intervals]
        self.states: dict[bytes, TokenState] = {}
        self.partition_of: dict[bytes, int] = {}
        self.pending: dict[int, dict[bytes, int]] = {}
        self.pending_changed: set[int] = set()
        self.positions: dict[int, dict[str, Any]] = {}
        self.positions_read: dict[int, dict[str, Any]] = {}
        self.windows: dict[int, dict[bytes, int]] = {}
        self.windows_changed: set[int] = set()
        self.windows_check: set[bytes] = set()  # tokens whose window index entry is recomputed at the end
        self.dirty: set[bytes] = set()
        self.updates: dict[bytes, TokenUpdate] = {}
        self.tails: set[bytes] = set()  # tokens whose state holds a tail (`add_trade`) not folded yet
        # Tokens a head marker made final blocks of, settled later (`_settle`): token ->
        # (finalized block, the marker's offset, the partition's chain time at the marker).
        self.deferred: dict[bytes, tuple[int, int, int]] = {}
        self.settled: set[bytes] = set()  # tokens whose final trades moved in this batch
        # Tokens whose market may differ from the one last shown: a log changed them, or chain
        # time reached their window index entry. Settling alone moves trades from pending to
        # final, which changes no field, so the others show `state.shown` again.
        self.reshow: set[bytes] = set()
        self.events = events  # None: no domain events, no alerts
        self.rules: dict[int, RuleIndex] = {}
        self.rules_changed: set[int] = set()

    def run(self, messages: Iterable[Message]) -> Outcome:
        out = Outcome()
        for i, m in enumerate(messages):
            pos = self._position(m.partition)
            if m.partition in out.gaps or m.offset > pos["next"] >= 0:
                out.gaps.setdefault(m.partition, (pos["next"], m.offset))
                out.held.append(i)
                continue
            if m.offset < pos["next"]:
                self._redelivered(m)
                continue
            pos["next"] = m.offset + 1
            try:
                if not isinstance(m.value, bytes):
                    # Folding it would raise TypeError on every redelivery: the partition would stop.
                    raise DecodeError("a record with no value (a tombstone)" if m.value is None
                                      else f"a value of type {type(m.value).__name__}, not bytes")
                if m.key == RULE_KEY:
                    self._rule(m)
                    continue
                msg = parse_message(m.value)
                if msg.chain_id != self.chain_id:
                    raise DecodeError(f"message of chain {msg.chain_id} on a worker for chain {self.chain_id}")
                if isinstance(msg, HeadMarker):
                    self._marker(m, msg)
                else:
                    self._record(m, decode_log(msg))
            except (DecodeError, OrderError) as exc:
                out.dead.append((i, str(exc)))
            except DeepReorgError as exc:
                out.deep_reorgs.append(str(exc))
                out.dead.append((i, f"deep reorg: {exc}"))
                # Kept in the partition's position, so the alarm outlives a restart until a replay
                # rebuilds the table.
                seen = self._position(m.partition).setdefault("deep_reorgs", [])
                seen[:] = [*seen, str(exc)][-DEEP_REORGS_KEPT:]
        for pos in self.positions.values():
            out.deep_known += [r for r in pos.get("deep_reorgs", ()) if r not in out.deep_known]
        for key in sorted(self.deferred):
            self._settle_now(key)
        for key in sorted(self.tails):
            self._fold_tail(key)
        for key, upd in self.updates.items():
            t = self.positions[self.partition_of[key]]["time"]
            state = self.states[key]
            # Cutoffs move only when final trades do: written by the update of that settle.
            expired = expired_before(state, self.retention) if key in self.settled else None
            if self.params is None:
                market = state.market.wire()
            elif key in self.reshow or state.shown is None:
                market = state.snapshot(t, self.params).wire()
            else:
                market = state.shown
            out.updates.append(upd.build(self.chain_id, key.decode(), market, expired, state.shown))
            state.shown = market
        self._index_windows()
        for key in sorted(self.dirty):
            out.writes.append((self.partition_of[key], key, Deferred(encode_state, self.states[key])))
        # Before the positions: a redone marker then finds the tokens it visited already moved
        # on, and their outputs reached the sinks before any table write.
        for p in sorted(self.windows_changed):
            index = self.windows[p]
            out.writes.append((p, windows_key(p), Deferred(encode_pending, index) if index else None))
        # After the states: a batch cut short is redone on redelivery. Before the pending
        # sets: a redone marker must still find the tokens it settled there. A stale pending
        # set heals itself (see _track_pending and _settle).
        for p, pos in sorted(self.positions.items()):
            if pos != self.positions_read[p]:
                out.writes.append((p, position_key(p), orjson.dumps(pos, option=orjson.OPT_SORT_KEYS)))
        for p in sorted(self.rules_changed):
            out.writes.append((p, rules_key(p), Deferred(encode_rules, self.rules[p]) if len(self.rules[p]) else None))
        for p in sorted(self.pending_changed):
            tokens = self.pending[p]
            out.writes.append((p, pending_key(p), Deferred(encode_pending, tokens) if tokens else None))
        return out

    def _state(self, partition: int, key: bytes) -> TokenState:
        state = self.states.get(key)
        if state is None:
            state = self.cache.get(key) if self.cache is not None else None
            if state is None:
                state = decode_state(self.read(partition, key))
            self.states[key] = state
            self.partition_of[key] = partition
        return state

    def _position(self, partition: int) -> dict[str, Any]:
        pos = self.positions.get(partition)
        if pos is None:
            pos = decode_position(self.read(partition, position_key(partition)))
            self.positions_read[partition] = dict(pos)
            pos["next"] = max(pos["next"], self.floor.get(partition, -1))
            self.positions[partition] = pos
        return pos

    def _redelivered(self, m: Message) -> None:
        """Applied before; the token's pending-set and window-index entries, written after it,
        may not have been."""
        if m.key is not None and m.key[:1] != b"\x00":
            known = m.key in self.states or (self.cache is not None and m.key in self.cache.states)
            if not known and self.read(m.partition, m.key) is None:
                return
            self._track_pending(m.partition, m.key, self._state(m.partition, m.key))
            self.windows_check.add(m.key)

    def _windows(self, partition: int) -> dict[bytes, int]:
        return self._index(partition, self.windows, "windows", windows_key)

    def _index(self, partition: int, loaded: dict[int, dict[bytes, int]], cached: str,
               key: Callable[[int], bytes]) -> dict[bytes, int]:
        """A partition's token index (pending or windows): from this batch, the cache, or the table."""
        index = loaded.get(partition)
        if index is None:
            index = getattr(self.cache, cached).get(partition) if self.cache is not None else None
            if index is None:
                index = decode_pending(self.read(partition, key(partition)))
            loaded[partition] = index
        return index

    @staticmethod
    def _set(index: dict[bytes, int], key: bytes, value: int | None) -> bool:
        """Whether the entry changed (None removes it)."""
        if index.get(key) == value:
            return False
        if value is None:
            del index[key]
        else:
            index[key] = value
        return True

    def _advance(self, partition: int, t: int) -> None:
        """Chain time moves to `t`: every token a window of which loses a trade is shown again."""
        pos = self._position(partition)
        if t <= pos["time"]:
            return
        pos["time"] = t
        if not self.windows_on:
            return
        index = self._windows(partition)
        for key in sorted([k for k, at in index.items() if at <= t]):
            self._state(partition, key)
            self._update(key)
            self.reshow.add(key)

    def _index_windows(self) -> None:
        if not self.windows_on:
            return
        assert self.params is not None
        for key in sorted(self.windows_check | set(self.updates)):
            p = self.partition_of[key]
            state = self.states[key]
            at = next_change(state.activity, state.pending, self.positions[p]["time"], self.params.windows)
            if self._set(self._windows(p), key, at):
                self.windows_changed.add(p)

    def _rules(self, partition: int) -> RuleIndex:
        index = self.rules.get(partition)
        if index is None:
            index = self.cache.rules.get(partition) if self.cache is not None else None
            if index is None:
                index = decode_rules(self.read(partition, rules_key(partition)))
            self.rules[partition] = index
        return index

    def _rule(self, m: Message) -> None:
        """A rule record: rules apply to the logs after it in this partition (docs/alerts-design.md)."""
        rule_id, rule = shared_rule_record(m.value, self.chain_id)
        if self.events is None:
            return
        index = self._rules(m.partition)
        if index.add(rule) if rule is not None else index.remove(rule_id) is not None:
            self.rules_changed.add(m.partition)
            log.info("alert rule %s %s in partition %d (%d rules)", rule_id, "applied" if rule else "deleted",
                     m.partition, len(index))

    def _events(self, key: bytes, state: TokenState) -> TokenEvents:
        assert self.events is not None
        return TokenEvents(self.chain_id, key.decode(), state, self.events, self._update(key).events)

    def _pending(self, partition: int) -> dict[bytes, int]:
        return self._index(partition, self.pending, "pending", pending_key)

    def _fold_tail(self, key: bytes) -> None:
        """Fold the token's tail into its open candles, and emit them: before a settle or a
        removal reads the candles, and at the end of the batch."""
        if key in self.tails:
            self.tails.discard(key)
            state = self.states[key]
            if state.tail is not None:
                self._update(key).emit(fold_tail(state, self.intervals))

    def _update(self, key: bytes) -> TokenUpdate:
        upd = self.updates.get(key)
        if upd is None:
            upd = self.updates[key] = TokenUpdate()
        return upd

    def _record(self, m: Message, record: Record) -> None:
        key = record.token.encode()
        if m.key != key:
            # Another key means another partition may hold this token's state: refuse to split it.
            raise DecodeError(f"log of token {record.token} keyed {m.key!r}: producers must key launchpad "
                              "logs by token (RawLog.key)")
        state = self._state(m.partition, key)
        if m.offset <= state.offset:
            # Applied before an interruption; the pending set, written later, may not have landed.
            self._track_pending(m.partition, key, state)
            self.windows_check.add(key)
            return
        ev = self.events
        if isinstance(record, TradeEvent):
            if record.ref.removed:
                self._settle_now(key)
                self._fold_tail(key)
                ref = record.ref
                block = next((pb for pb in state.pending if pb.block == ref.block_number
                              and pb.block_hash == ref.block_hash and ref.log_index in pb.indexes), None)
                indexes = list(block.indexes) if block is not None else []
                result = remove_trade(state, record.ref, self.intervals)
                if result is not None and ev is not None and block is not None:
                    self._events(key, state).removed(ref.block_number, ref.block_hash, indexes, ref)
                if result is not None:
                    upd = self._update(key)
                    upd.emit(result[0])
                    upd.delete(result[1])
                    upd.remove_trade(self.chain_id, record.token, record.ref.cursor)
                    log.info("reorg: %s trade at block %d removed; %d candles corrected, %d emptied",
                             record.token, record.ref.block_number, len(result[0]), len(result[1]))
                changed = result is not None
            else:
                due = self.deferred.get(key)
                if due is not None and record.ref.block_number <= due[0]:
                    self._settle_now(key)  # a late log of a final block: as if settled at the marker
                before = rules = None
                if ev is not None and not state.seen(record.ref.cursor):
                    rules = self._rules(m.partition).for_token(record.token)
                    before = Before(state, record.ref.block_timestamp, rules, ev)
                emitted = add_trade(state, record, self.intervals)
                if emitted is not None:
                    if before is not None and rules is not None:
                        self._events(key, state).trade(record, state.pending[-1].part.close, before, rules)
                    upd = self._update(key)
                    if emitted:  # an earlier block's tail, folded
                        upd.emit(emitted)
                    self.tails.add(key)
                    upd.trade(record)
                    self._advance(m.partition, record.ref.block_timestamp)
                changed = emitted is not None
        elif isinstance(record, CurveCreatedEvent):
            self._settle_now(key)
            changed = apply_curve_created(state, record)
            if changed and ev is not None:
                self._info_event(m.partition, key, state, record)
        else:
            self._settle_now(key)
            changed = apply_graduated(state, record)
            if changed and ev is not None:
                self._info_event(m.partition, key, state, record)
        if not changed:
            log.debug("nothing to do for %s at %s (duplicate or already removed)", record.kind, record.ref.cursor)
            return
        self._update(key)  # the market snapshot at least
        self.reshow.add(key)
        state.offset = m.offset
        self.dirty.add(key)
        self._track_pending(m.partition, key, state)

    def _info_event(self, partition: int, key: bytes, state: TokenState,
                    record: CurveCreatedEvent | GraduatedEvent) -> None:
        events, ref = self._events(key, state), record.ref
        if ref.removed:
            events.removed(ref.block_number, ref.block_hash, [ref.log_index], None)
        elif isinstance(record, CurveCreatedEvent):
            events.created(record, self._rules(partition).for_creator(record.creator))
        else:
            events.graduated(record, self._rules(partition).for_graduated(record.token))

    def _track_pending(self, partition: int, key: bytes, state: TokenState) -> None:
        if self._set(self._pending(partition), key, oldest_pending(state)):
            self.pending_changed.add(partition)

    def _marker(self, m: Message, marker: HeadMarker) -> None:
        pos = self._position(m.partition)
        if marker.block_timestamp is not None:
            self._advance(m.partition, marker.block_timestamp)
        if marker.finalized_block > pos["finalized"]:
            self._settle(m, marker.finalized_block)
            pos["finalized"] = marker.finalized_block

    def _settle(self, m: Message, finalized: int) -> None:
        """Settle the partition's tokens whose oldest pending block is final now. An entry
        older than its state's (the state was written, the set not, before an interruption)
        only costs a visit; a newer one cannot outlive the redelivery of the logs that made
        it, since each redelivered log of a token re-tracks it.

        Events are settled here, since they are sent in chain order. Trades are settled when
        something else needs the token (a removal, a creation, a graduation, a log of a final
        block) or at the end of the batch, all the markers' blocks at once: a busy token is
        settled once per batch, not once per block. Settling commutes with adding trades of
        later blocks (it only moves the oldest pending blocks, and turns final only buckets
        no later pending trade is in), so the state and outputs are the same either way."""
        pending = self._pending(m.partition)
        t = self._position(m.partition)["time"]
        for key in sorted([k for k, oldest in pending.items() if oldest <= finalized]):
            state = self._state(m.partition, key)
            if self.events is not None and state.events and state.events[0][BLOCK] <= finalized:
                self._events(key, state).settle(finalized)
                state.offset = m.offset
                self.dirty.add(key)
            # Due when this marker makes a block final that the markers before it did not.
            due = self.deferred.get(key)
            blocks = state.pending
            i = bisect_right(blocks, due[0], key=_BLOCK) if due is not None else 0
            if i < len(blocks) and blocks[i].block <= finalized:
                self.deferred[key] = (finalized, m.offset, t)
            elif due is None:
                self._track_pending(m.partition, key, state)  # `_settle_now` does, when due

    def _settle_now(self, key: bytes) -> None:
        """Settle what the markers made final of this token (see `_settle`)."""
        due = self.deferred.pop(key, None)
        if due is None:
            return
        finalized, offset, t = due
        state = self.states[key]
        self._fold_tail(key)  # its trades are in the open candles before any bucket turns final
        before = len(state.pending)
        flipped = settle(state, finalized, self.intervals, activity=self.params is not None)
        if flipped:
            self._update(key).emit(flipped)
        if len(state.pending) != before:
            # No window reaches minutes older than the largest one: keep the state small. With
            # the chain time of the marker, so the state does not depend on the batching.
            if t >= 0 and self.params is not None:
                # Without windows only the ATH is needed: keep no minute but the current one.
                state.activity.prune(window_start(t, max(self.params.windows or (60,))))
            state.offset = max(state.offset, offset)
            self.dirty.add(key)
            self.windows_check.add(key)
            if self.retention:  # its final trades moved: so did the candles it keeps
                self._update(key)
                self.settled.add(key)
        self._track_pending(self.partition_of[key], key, state)
