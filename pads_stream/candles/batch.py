"""Fold a batch of raw-log messages into token states (pure): what the candle agent must send
and then write.

Each token's state is read and decoded once per batch and encoded once, however many of its
trades the batch holds, and each token touched gets one update message. Besides one value
per token, each partition keeps two small values in the same table: how far the chain is
final (from the bridge's head markers) and the tokens that still have pending trades, so a
rising finalized block settles exactly those.

Idempotency: a token's value records the offset of the last message applied to it, and a
partition's finalized value that of the last marker; a redelivered message at or below it
changes nothing. The agent writes the table only after Kafka acknowledged the batch's
updates, so a state that survived an interruption implies its updates did too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..chain.rawlog import HeadMarker, parse_message
from ..decode.events import CurveCreatedEvent, Record, TradeEvent, decode_log
from ..errors import DecodeError, OrderError
from ..mirror.updates import TokenUpdate
from .codec import decode_state, decode_tokens, encode_state, encode_tokens
from .state import (
    DeepReorgError,
    TokenState,
    apply_curve_created,
    apply_graduated,
    apply_trade,
    remove_trade,
    settle,
)

log = logging.getLogger(__name__)


def finalized_key(partition: int) -> bytes:
    return b"\x00finalized:%d" % partition


def pending_key(partition: int) -> bytes:
    return b"\x00pending:%d" % partition


@dataclass(frozen=True, slots=True)
class Message:
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass(slots=True)
class Outcome:
    """`dead` are (message index, reason); `deep_reorgs` also appear in `dead`."""

    dead: list[tuple[int, str]] = field(default_factory=list)
    updates: list[tuple[bytes, bytes]] = field(default_factory=list)
    # (partition, key, value); None deletes, so an emptied set reads the same as one never made.
    writes: list[tuple[int, bytes, bytes | None]] = field(default_factory=list)
    deep_reorgs: list[str] = field(default_factory=list)


class BatchFolder:
    def __init__(self, read: Callable[[int, bytes], bytes | None], chain_id: int,
                 intervals: tuple[int, ...]) -> None:
        self.read = read
        self.chain_id = chain_id
        self.intervals = intervals
        self.states: dict[bytes, TokenState] = {}
        self.partition_of: dict[bytes, int] = {}
        self.pending: dict[int, set[bytes]] = {}
        self.pending_read: dict[int, frozenset[bytes]] = {}
        self.finals: dict[int, dict[str, Any]] = {}
        self.dirty: set[bytes] = set()
        self.updates: dict[bytes, TokenUpdate] = {}

    def run(self, messages: Iterable[Message]) -> Outcome:
        out = Outcome()
        for i, m in enumerate(messages):
            try:
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
        for key, upd in self.updates.items():
            out.updates.append((key, upd.encode(self.chain_id, key.decode(), self.states[key].market)))
        for key in sorted(self.dirty):
            out.writes.append((self.partition_of[key], key, encode_state(self.states[key])))
        # After the states: a marker cut short is redone on redelivery. Before the pending
        # sets: a redone marker must still find the tokens it settled there. A stale pending
        # set heals itself (see _track_pending and _settle).
        for p, fin in sorted(self.finals.items()):
            out.writes.append((p, finalized_key(p), orjson.dumps(fin, option=orjson.OPT_SORT_KEYS)))
        for p, tokens in sorted(self.pending.items()):
            if tokens != self.pending_read[p]:
                out.writes.append((p, pending_key(p), encode_tokens(tokens) if tokens else None))
        return out

    def _state(self, partition: int, key: bytes) -> TokenState:
        state = self.states.get(key)
        if state is None:
            state = self.states[key] = decode_state(self.read(partition, key))
            self.partition_of[key] = partition
        return state

    def _pending(self, partition: int) -> set[bytes]:
        tokens = self.pending.get(partition)
        if tokens is None:
            tokens = self.pending[partition] = decode_tokens(self.read(partition, pending_key(partition)))
            self.pending_read[partition] = frozenset(tokens)
        return tokens

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
            return
        if isinstance(record, TradeEvent):
            if record.ref.removed:
                result = remove_trade(state, record.ref, self.intervals)
                if result is not None:
                    upd = self._update(key)
                    upd.emit(result[0])
                    upd.delete(result[1])
                    upd.remove_trade(self.chain_id, record.token, record.ref.cursor)
                    log.info("reorg: %s trade at block %d removed; %d candles corrected, %d emptied",
                             record.token, record.ref.block_number, len(result[0]), len(result[1]))
                changed = result is not None
            else:
                emitted = apply_trade(state, record, self.intervals)
                if emitted is not None:
                    upd = self._update(key)
                    upd.emit(emitted)
                    upd.trade(record)
                changed = emitted is not None
        elif isinstance(record, CurveCreatedEvent):
            changed = apply_curve_created(state, record)
        else:
            changed = apply_graduated(state, record)
        if not changed:
            log.debug("nothing to do for %s at %s (duplicate or already removed)", record.kind, record.ref.cursor)
            return
        self._update(key)  # the market snapshot at least
        state.offset = m.offset
        self.dirty.add(key)
        self._track_pending(m.partition, key, state)

    def _track_pending(self, partition: int, key: bytes, state: TokenState) -> None:
        pending = self._pending(partition)
        if state.pending:
            pending.add(key)
        else:
            pending.discard(key)

    def _marker(self, m: Message, marker: HeadMarker) -> None:
        fin = self.finals.get(m.partition)
        if fin is None:
            raw = self.read(m.partition, finalized_key(m.partition))
            fin = orjson.loads(raw) if raw else {"finalized": -1, "offset": -1}
        if m.offset <= fin["offset"]:
            return
        if marker.finalized_block > fin["finalized"]:
            self._settle(m, marker.finalized_block)
        self.finals[m.partition] = {"finalized": max(marker.finalized_block, fin["finalized"]), "offset": m.offset}

    def _settle(self, m: Message, finalized: int) -> None:
        """Settle every token of the partition with pending trades."""
        pending = self._pending(m.partition)
        for key in sorted(pending):
            state = self._state(m.partition, key)
            # A state written after this marker (before an interruption) has nothing to settle.
            before = len(state.pending)
            flipped = settle(state, finalized, self.intervals)
            if flipped:
                self._update(key).emit(flipped)
            if len(state.pending) != before:
                state.offset = m.offset
                self.dirty.add(key)
            if not state.pending:
                pending.discard(key)
