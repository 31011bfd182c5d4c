"""JSON bytes that are kept: orjson's output copied to its exact size (pure)."""

from __future__ import annotations

from typing import Any

import orjson


def dumps(obj: Any, option: int | None = None) -> bytes:
    """`orjson.dumps`, for bytes that stay alive: orjson returns them in a buffer of at least
    4 KiB, so each one kept costs 4 KiB of memory (100,000 kept candle members: 393 MB of RSS;
    copied: 9 MB). Copying costs about 140 ns."""
    return bytes(memoryview(orjson.dumps(obj, option=option)))
