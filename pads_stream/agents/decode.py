"""Decode agent: raw chain log -> launchpad record on `pads.trades`, keyed by token.

A token's trades can come from any raw partition, so each head marker goes on to every
trades partition, tagged with the raw partition it came from. A trades partition has then
seen everything up to block F from every source once each source's marker says F; the
candle agent settles up to the lowest of them (a watermark), the same in a replay as live.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from faust.types import EventT, StreamT

from ..chain.rawlog import MARKER_KEY, HeadMarker, parse_message
from ..decode.events import decode_log, encode_record
from ..errors import DecodeError
from ..worker import app, raw_logs, settings, trades
from .deadletter import send_dead_letter

log = logging.getLogger(__name__)


@app.agent(raw_logs, name="decode")
async def decode(stream: StreamT[bytes]) -> None:
    # Manual acks: Faust acks the current event when an agent is cancelled (shutdown,
    # rebalance), which would commit a log whose record was never sent. Acking after the
    # send is safe because Faust flushes the producer before it commits offsets.
    async for event in stream.noack().events():  # type: ignore[attr-defined]
        await _decode(event)
        event.ack()


async def _decode(event: EventT) -> None:
    try:
        msg = parse_message(event.value)
        if msg.chain_id != settings.chain_id:
            raise DecodeError(f"message of chain {msg.chain_id} on a worker for chain {settings.chain_id}")
        if isinstance(msg, HeadMarker):
            tagged = replace(msg, source=event.message.partition).encode()
            for partition in range(settings.topic_partitions):
                await trades.send(key=MARKER_KEY, value=tagged, partition=partition)
            return
        record = decode_log(msg)
    except DecodeError as exc:
        await send_dead_letter(event, "decode", str(exc))
        return
    await trades.send(key=record.token.encode(), value=encode_record(record))
