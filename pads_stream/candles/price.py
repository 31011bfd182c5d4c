"""Prices as exact decimals: ETH per token at 30 significant digits, ROUND_HALF_EVEN."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal

PRICE_CONTEXT = Context(prec=30, rounding=ROUND_HALF_EVEN)


def trade_price(eth_amount: int, token_amount: int) -> Decimal:
    """ethAmount / tokenAmount, correctly rounded. Both are in base units with 18 decimals,
    so the ratio of base units equals the ratio of whole units."""
    if token_amount <= 0:
        raise ValueError("token amount must be positive")
    return PRICE_CONTEXT.divide(Decimal(eth_amount), Decimal(token_amount))


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
