"""Decode agent: raw chain log -> launchpad record on `pads.trades`, keyed by token."""

from __future__ import annotations

import logging

from faust.types import StreamT

from ..chain.rawlog import parse_raw_log
from ..decode.events import decode_log, encode_record
from ..errors import DecodeError
from ..worker import app, raw_logs, settings, trades
from .deadletter import send_dead_letter

log = logging.getLogger(__name__)


@app.agent(raw_logs, name="decode")
async def decode(stream: StreamT[bytes]) -> None:
    async for event in stream.events():
        try:
            raw = parse_raw_log(event.value)
            if raw.chain_id != settings.chain_id:
                raise DecodeError(f"log of chain {raw.chain_id} on a worker for chain {settings.chain_id}")
            record = decode_log(raw)
        except DecodeError as exc:
            await send_dead_letter(event, "decode", str(exc))
            continue
        await trades.send(key=record.token.encode(), value=encode_record(record))
