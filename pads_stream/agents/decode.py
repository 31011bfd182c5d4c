"""Decode agent: raw chain log -> launchpad record on `pads.trades`, keyed by token.

Head markers go on to the trades partition with the same number: every raw partition carries
every marker, so each trades partition learns the finalized block in order with its logs.
"""

from __future__ import annotations

import logging

from faust.types import StreamT

from ..chain.rawlog import MARKER_KEY, HeadMarker, parse_message
from ..decode.events import decode_log, encode_record
from ..errors import DecodeError
from ..worker import app, raw_logs, settings, trades
from .deadletter import send_dead_letter

log = logging.getLogger(__name__)


@app.agent(raw_logs, name="decode")
async def decode(stream: StreamT[bytes]) -> None:
    async for event in stream.events():
        try:
            msg = parse_message(event.value)
            if msg.chain_id != settings.chain_id:
                raise DecodeError(f"message of chain {msg.chain_id} on a worker for chain {settings.chain_id}")
            if isinstance(msg, HeadMarker):
                await trades.send(key=MARKER_KEY, value=event.value, partition=event.message.partition)
                continue
            record = decode_log(msg)
        except DecodeError as exc:
            await send_dead_letter(event, "decode", str(exc))
            continue
        await trades.send(key=record.token.encode(), value=encode_record(record))
