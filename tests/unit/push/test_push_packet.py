"""The push's socket.io packets: what socket.io's own packet encodes, read back the same."""

from __future__ import annotations

from typing import Any

import pytest
from socketio.packet import EVENT, Packet

from pads_stream.push.client import PushPacket

CANDLE = {"chain_id": 31337, "token": "0x" + "ab" * 20, "interval": "1m", "correction": False,
          "candle": {"t": 1732442460, "open": "0.0000000280512581547064305684995394474", "high": "1e-9",
                     "low": "0", "close": "3", "volume_token": str(10**30), "volume_eth": "7", "trades": 2,
                     "buys": 1, "sells": 1, "final": True}}


@pytest.mark.parametrize("data", [
    ["candle", [CANDLE] * 3],
    ["trade", [{"chain_id": 1, "token": "0xab", "block_number": 9, "log_index": 0, "removed": True}]],
    ["trade", [{"name": "Pepe \U0001f438 \"quoted\" \\ back"}]],
])
def test_encodes_what_socketio_reads_back(data: list[Any]) -> None:
    ours = PushPacket(EVENT, data=data, namespace="/listener").encode()
    theirs = Packet(EVENT, data=data, namespace="/listener").encode()
    assert isinstance(ours, str) and ours.startswith("2/listener,")
    assert Packet(encoded_packet=ours).data == Packet(encoded_packet=theirs).data == data
    assert PushPacket(encoded_packet=theirs).data == data
