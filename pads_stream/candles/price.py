"""The price primitives, where the candles code has always imported them from; they live in
`pads_stream.price` so that `pads_stream.alerts` (a layer below candles) formats the same way."""

from __future__ import annotations

from ..price import PRICE_CONTEXT, format_price, parse_price, trade_price

__all__ = ["PRICE_CONTEXT", "format_price", "parse_price", "trade_price"]
