"""Prices as exact decimals: ETH per token at 30 significant digits, ROUND_HALF_EVEN.

In the bottom layer: the candles fold and the alert rules below it (`pads_stream.alerts`) format
prices and percents the same way, with one cache."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import lru_cache

PRICE_CONTEXT = Context(prec=30, rounding=ROUND_HALF_EVEN)


# The fold prices a trade, then its outputs do again (the trade's wire form): the second is a hit.
@lru_cache(maxsize=1 << 12)
def trade_price(eth_amount: int, token_amount: int) -> Decimal:
    """ethAmount / tokenAmount, correctly rounded. Both are in base units with 18 decimals,
    so the ratio of base units equals the ratio of whole units."""
    if token_amount <= 0:
        raise ValueError("token amount must be positive")
    return PRICE_CONTEXT.divide(Decimal(eth_amount), Decimal(token_amount))


# A trade's price is formatted for each interval's candles, for Redis, the push and the table,
# while formatting costs 8x a cache hit. Equal values format the same, whatever their exponent,
# so keying by value is exact. The hits come from a price's recent uses: a batch's intervals and
# outputs, and each token's open, high and low candles and windows, met again at its next
# update. At 1,000 tokens with nine intervals 4,096 entries missed 6.8 times per trade and
# 16,384 1.7 times (one miss per trade is its new price); an entry is about 350 bytes.
@lru_cache(maxsize=1 << 14)
def format_price(value: Decimal) -> str:
    """Plain notation, no exponent, no trailing zeros, no trailing dot."""
    value = PRICE_CONTEXT.plus(value)
    if value.is_zero():
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def parse_price(text: str) -> Decimal:
    return Decimal(text)
