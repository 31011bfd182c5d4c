"""Webhook signatures, Stripe-style (docs/alerts-design.md, Delivery; shared/notes/product.md):
`X-Pads-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.

The timestamp is signed with the body so a captured request cannot be replayed later than the
receiver's tolerance; `verify` is what a receiver runs (and what the tests run against).
"""

from __future__ import annotations

import hashlib
import hmac


def _mac(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, t: int, body: bytes) -> str:
    """The header value for `body` sent at unix time `t`."""
    return f"t={t},v1={_mac(secret, t, body)}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance: float = 300) -> bool:
    """True when `header` signs `body` with `secret` and its `t` is within `tolerance` seconds of
    `now`. Several `v1` values are accepted (a sender rotating secrets signs with both)."""
    t: int | None = None
    macs: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            return False
        if name == "t":
            try:
                t = int(value)
            except ValueError:
                return False
        elif name == "v1":
            macs.append(value)
    if t is None or not macs or abs(now - t) > tolerance:
        return False
    expected = _mac(secret, t, body)
    # Every candidate is compared, in constant time, so timing says nothing about which was close.
    ok = False
    for mac in macs:
        ok |= hmac.compare_digest(mac.encode(), expected.encode())
    return ok
