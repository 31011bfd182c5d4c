"""The hiredis packing connection sends the bytes redis-py's own packing would."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.connection import Connection

from pads_stream.mirror.redis_mirror import HiredisPackingConnection, connect


@pytest.mark.parametrize("args", [
    ("PING",),
    ("SCRIPT LOAD", "return 1"),
    ("EVALSHA", b"\x00ab", 2, "k1", "pads:1:candles:0xab:1m", b"z", 1, 1732442460, b""),
    ("HSET", "k", "name", "Pepe \U0001f438", "supply", 10**30, "neg", -7),
    ("SET", b"k", b"\r\n$3\r\n"),  # payload bytes that look like protocol
])
def test_packs_like_redis_py(args: tuple[Any, ...]) -> None:
    ours = b"".join(HiredisPackingConnection().pack_command(*args))
    theirs = b"".join(Connection().pack_command(*args))
    assert ours == theirs


def test_only_tcp_urls_get_it() -> None:
    assert connect("redis://127.0.0.1:1/0").connection_pool.connection_class is HiredisPackingConnection
    assert connect("unix:///tmp/redis.sock").connection_pool.connection_class is not HiredisPackingConnection
