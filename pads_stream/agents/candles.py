"""Candle agent, partitioned by token: folds records into the token-state table and emits the
touched candles and market snapshot on `pads.candle-updates`.

Besides one value per token, each partition keeps two small values in the same table: the
finalized block reported by each raw partition (the partition's watermark is the lowest),
and the tokens that still have pending trades, so a rising watermark settles exactly those.
"""

from __future__ import annotations

import logging

import orjson
from faust.types import EventT, StreamT

from ..candles.codec import decode_state, decode_tokens, encode_state, encode_tokens
from ..candles.state import (
    DeepReorgError,
    TokenState,
    apply_curve_created,
    apply_graduated,
    apply_trade,
    current_view,
    remove_trade,
    settle,
    watermark,
)
from ..chain.rawlog import MARKER_KEY, HeadMarker, parse_message
from ..decode.events import CurveCreatedEvent, GraduatedEvent, TradeEvent, decode_record
from ..errors import DecodeError, OrderError
from ..mirror.updates import encode_update
from ..worker import app, settings, token_state, trades, updates
from .deadletter import send_dead_letter

log = logging.getLogger(__name__)
deep_reorgs: list[str] = []


def _finalized_key(partition: int) -> bytes:
    return b"\x00finalized:%d" % partition


def _pending_key(partition: int) -> bytes:
    return b"\x00pending:%d" % partition


@app.agent(trades, name="candles")
async def candles(stream: StreamT[bytes]) -> None:
    # Manual acks (see the decode agent). Updates are sent before the table write, so an
    # event cut short is redone in full when it is redelivered: Redis writes are idempotent.
    async for event in stream.noack().events():  # type: ignore[attr-defined]
        await _handle(event)
        event.ack()


async def _handle(event: EventT) -> None:
    try:
        if event.key == MARKER_KEY:
            marker = parse_message(event.value)
            assert isinstance(marker, HeadMarker)
            await _on_marker(event, marker)
        else:
            await _on_record(event)
    except (DecodeError, OrderError) as exc:
        await send_dead_letter(event, "candles", str(exc))
    except DeepReorgError as exc:
        deep_reorgs.append(str(exc))
        log.critical("%s; run `python -m pads_stream replay` to rebuild", exc)
        await send_dead_letter(event, "candles", f"deep reorg: {exc}")


async def _on_record(event: EventT) -> None:
    intervals = settings.ohlcv_intervals
    record = decode_record(event.value)
    key, offset = bytes(event.key), event.message.offset  # type: ignore[arg-type]
    # No await between this read and the table write below: the value stays consistent.
    state = decode_state(token_state.get(key))
    if offset <= state.offset:
        # Redelivered after an interruption: applied already, but the table write may have
        # reached Kafka while the update did not. Re-send what Redis should show; idempotent.
        await _resend_view(key, state)
        return
    had_pending = bool(state.pending)
    emitted, deleted, correction, removed = None, None, False, None
    if isinstance(record, TradeEvent):
        if record.ref.removed:
            result = remove_trade(state, record.ref, intervals)
            if result is not None:
                (emitted, deleted), correction, removed = result, True, record.ref.cursor
            changed = result is not None
        else:
            emitted = apply_trade(state, record, intervals)
            changed = emitted is not None
    elif isinstance(record, CurveCreatedEvent):
        changed = apply_curve_created(state, record)
    elif isinstance(record, GraduatedEvent):
        changed = apply_graduated(state, record)
    if not changed:
        log.debug("nothing to do for %s at %s (duplicate or already removed)", record.kind, record.ref.cursor)
        return
    trade = record if isinstance(record, TradeEvent) and not record.ref.removed else None
    if correction:
        log.info("reorg: %s trade at block %d removed; %d candles corrected, %d emptied", record.token,
                 record.ref.block_number, len(emitted or ()), len(deleted or ()))
    await updates.send(key=key, value=encode_update(record.ref.chain_id, record.token, state.market, trade,
                                                     emitted, deleted, correction, removed))
    state.offset = offset
    token_state[key] = encode_state(state)
    if had_pending != bool(state.pending):
        pkey = _pending_key(event.message.partition)
        tokens = decode_tokens(token_state.get(pkey))
        (tokens.add if state.pending else tokens.discard)(key)
        token_state[pkey] = encode_tokens(tokens)


async def _on_marker(event: EventT, marker: HeadMarker) -> None:
    partition, offset = event.message.partition, event.message.offset
    fkey = _finalized_key(partition)
    record = orjson.loads(token_state.get(fkey) or b'{"sources": {}, "offset": -1, "settled": []}')
    sources: dict[str, int] = record["sources"]
    if offset <= record["offset"]:
        # Redelivered: its state writes landed, its flip updates may not have. Re-send them.
        for token in record["settled"]:
            await _resend_view(token.encode())
        return
    settled: list[str] = []
    if marker.finalized_block > sources.get(str(marker.source), -1):
        previous = watermark(sources, settings.topic_partitions)
        sources[str(marker.source)] = marker.finalized_block
        finalized = watermark(sources, settings.topic_partitions)
        if finalized > previous:
            settled = await _settle_partition(event, finalized)
    # Written last: a marker cut short is redone in full on redelivery.
    token_state[fkey] = orjson.dumps({"sources": sources, "offset": offset, "settled": settled},
                                     option=orjson.OPT_SORT_KEYS)


async def _resend_view(key: bytes, state: TokenState | None = None) -> None:
    if state is None:
        state = decode_state(token_state.get(key))
    token, contract = key.decode(), state.meta.get("curve", "")
    replayed = [p.as_trade(settings.chain_id, token, contract) for p in state.pending]
    await updates.send(key=key, value=encode_update(settings.chain_id, token, state.market,
                                                     candles=current_view(state, settings.ohlcv_intervals),
                                                     replayed=replayed))


async def _settle_partition(event: EventT, finalized: int) -> list[str]:
    """Settle every token with pending trades; returns the tokens whose state changed."""
    partition, offset = event.message.partition, event.message.offset
    pkey = _pending_key(partition)
    tokens = decode_tokens(token_state.get(pkey))
    still: set[bytes] = set()
    settled: list[str] = []
    for key in sorted(tokens):
        state = decode_state(token_state.get(key))
        if state.offset >= offset:
            # Settled by this marker before an interruption: re-send, it may not have arrived.
            settled.append(key.decode())
            if state.pending:
                still.add(key)
            await _resend_view(key, state)
            continue
        before = len(state.pending)
        flipped = settle(state, finalized, settings.ohlcv_intervals)
        if state.pending:
            still.add(key)
        if flipped:
            await updates.send(key=key, value=encode_update(settings.chain_id, key.decode(), state.market,
                                                             candles=flipped))
        if len(state.pending) != before:
            state.offset = offset
            token_state[key] = encode_state(state)
            settled.append(key.decode())
    if still != tokens:
        token_state[pkey] = encode_tokens(still)
    return settled
