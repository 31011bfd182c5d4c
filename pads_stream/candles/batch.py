"""Fold a batch of raw-log messages into token states (pure): what the candle agent must send
and write, in that order.

Each token's state is read and decoded once per batch and encoded once, however many of its
trades the batch holds, and each token touched gets one update message. Besides one value
per token, each partition keeps two small values in the same table: how far the chain is
final (from the bridge's head markers) and the tokens that still have pending trades, so a
rising finalized block settles exactly those.

Idempotency: a token's value records the offset of the last message applied to it, and a
partition's finalized value that of the last marker. A message at or below it was applied
before an interruption; its table write may have landed while its update did not, so the
token's whole current view is sent again (Redis writes are idempotent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson

from ..chain.rawlog import HeadMarker, parse_message
from ..decode.events import CurveCreatedEvent, GraduatedEvent, Record, TradeEvent, decode_log
from ..errors import DecodeError, OrderError
from ..mirror.updates import TokenUpdate
from .codec import decode_state, decode_tokens, encode_state, encode_tokens
from .state import (
    DeepReorgError,
    TokenState,
    apply_curve_created,
    apply_graduated,
    apply_trade,
    current_view,
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
    writes: list[tuple[int, bytes, bytes]] = field(default_factory=list)  # (partition, key, value)
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
        self.finals: dict[int, dict[str, object]] = {}
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
            out.updates.append((key, self._encode(key, upd)))
        for key in sorted(self.dirty):
            out.writes.append((self.partition_of[key], key, encode_state(self.states[key])))
        for p, tokens in sorted(self.pending.items()):
            if tokens != self.pending_read[p]:
                out.writes.append((p, pending_key(p), encode_tokens(tokens)))
        # Written last: a marker cut short is redone in full on redelivery.
        for p, fin in sorted(self.finals.items()):
            out.writes.append((p, finalized_key(p), orjson.dumps(fin, option=orjson.OPT_SORT_KEYS)))
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
            self._update(key).resend = True
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
        pending = self._pending(m.partition)
        if state.pending and key not in pending:
            pending.add(key)
        elif not state.pending and key in pending:
            pending.discard(key)

    def _marker(self, m: Message, marker: HeadMarker) -> None:
        fin = self.finals.get(m.partition)
        if fin is None:
            raw = self.read(m.partition, finalized_key(m.partition))
            fin = orjson.loads(raw) if raw else {"finalized": -1, "offset": -1, "settled": []}
        if m.offset <= fin["offset"]:  # type: ignore[operator]
            for token in fin["settled"]:  # type: ignore[attr-defined]
                self._state(m.partition, token.encode())
                self._update(token.encode()).resend = True
            return
        settled: list[str] = []
        if marker.finalized_block > fin["finalized"]:  # type: ignore[operator]
            settled = self._settle(m, marker.finalized_block)
            fin = {"finalized": marker.finalized_block, "offset": m.offset, "settled": settled}
        else:
            fin = {"finalized": fin["finalized"], "offset": m.offset, "settled": []}
        self.finals[m.partition] = fin

    def _settle(self, m: Message, finalized: int) -> list[str]:
        """Settle every token of the partition with pending trades; returns those changed."""
        pending = self._pending(m.partition)
        settled: list[str] = []
        for key in sorted(pending):
            state = self._state(m.partition, key)
            if state.offset >= m.offset:
                # Settled by this marker before an interruption: re-send, it may not have arrived.
                settled.append(key.decode())
                self._update(key).resend = True
                continue
            before = len(state.pending)
            flipped = settle(state, finalized, self.intervals)
            if flipped:
                self._update(key).emit(flipped)
            if len(state.pending) != before:
                state.offset = m.offset
                self.dirty.add(key)
                settled.append(key.decode())
            if not state.pending:
                pending.discard(key)
        return settled

    def _encode(self, key: bytes, upd: TokenUpdate) -> bytes:
        state = self.states[key]
        token = key.decode()
        if not upd.resend:
            return upd.encode(self.chain_id, token, state.market)
        contract = state.meta.get("curve", "")
        return upd.encode(self.chain_id, token, state.market, view=current_view(state, self.intervals),
                          replayed=[p.as_trade(self.chain_id, token, contract) for p in state.pending])
