"""Candle agent, partitioned by token: folds records into the token-state table and emits the
touched candles and market snapshot on `pads.candle-updates`."""

from __future__ import annotations

import logging

from faust.types import StreamT

from ..candles.state import apply_curve_created, apply_graduated, apply_trade, decode_state, encode_state
from ..decode.events import CurveCreatedEvent, GraduatedEvent, TradeEvent, decode_record
from ..errors import DecodeError, OrderError
from ..mirror.updates import encode_update
from ..worker import app, settings, token_state, trades, updates
from .deadletter import send_dead_letter

log = logging.getLogger(__name__)


@app.agent(trades, name="candles")
async def candles(stream: StreamT[bytes]) -> None:
    intervals = settings.ohlcv_intervals
    async for event in stream.events():
        try:
            record = decode_record(event.value)
            if record.ref.removed:
                raise DecodeError("removal of a reorged log reached a worker without reorg support")
            # No await between this read and the table write below: the value stays consistent.
            state = decode_state(token_state.get(event.key))
            touched = None
            if isinstance(record, TradeEvent):
                touched = apply_trade(state, record, intervals)
                changed = touched is not None
            elif isinstance(record, CurveCreatedEvent):
                changed = apply_curve_created(state, record)
            elif isinstance(record, GraduatedEvent):
                changed = apply_graduated(state, record)
        except (DecodeError, OrderError) as exc:
            await send_dead_letter(event, "candles", str(exc))
            continue
        if not changed:
            log.debug("skipped already applied %s at %s", record.kind, record.ref.cursor)
            continue
        token_state[event.key] = encode_state(state)
        trade = record if isinstance(record, TradeEvent) else None
        await updates.send(key=event.key, value=encode_update(
            record.ref.chain_id, record.token, state.market, trade, touched))
