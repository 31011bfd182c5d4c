"""Kept JSON bytes cost their size, not orjson's 4 KiB buffer."""

from __future__ import annotations

import tracemalloc
from typing import Any

import orjson
import pytest

from pads_stream.candles.codec import encode_state
from pads_stream.candles.state import TokenState
from pads_stream.jsonbytes import dumps
from pads_stream.mirror.redis_mirror import candle_member

CANDLE = {"t": 1732442460, "open": "0.0000000280512581547064305684995394474", "trades": 2, "final": True}


@pytest.mark.parametrize("obj,option", [(CANDLE, orjson.OPT_SORT_KEYS), ([1, "a", None], None), ("x" * 9000, None)])
def test_same_bytes_as_orjson(obj: Any, option: int | None) -> None:
    assert dumps(obj, option) == orjson.dumps(obj, option=option)


@pytest.mark.parametrize("make", [lambda i: dumps({**CANDLE, "t": i}),
                                  lambda i: candle_member({**CANDLE, "t": i}),
                                  lambda i: encode_state(TokenState(offset=i))])
def test_a_thousand_kept_values_take_what_they_hold(make: Any) -> None:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [make(i) for i in range(1000)]
        per_value = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    assert per_value < 4 * max(len(v) for v in kept) + 200, per_value  # orjson's own: 4 KiB each
