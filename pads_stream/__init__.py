"""pads-stream: chain logs -> trades -> OHLCV candles -> Redis mirror and socket.io push.

`faust -A pads_stream worker` looks up `pads_stream.app`; it is built lazily so that the
pure modules (and the bridge, which shares the raw-message schema) import without Faust.
"""

from __future__ import annotations

from typing import Any

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    if name == "app":
        from .worker import app

        return app
    raise AttributeError(name)
