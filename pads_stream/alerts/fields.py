"""Checks of a rule's single fields (pure). Each failure is a RuleError naming the field."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlsplit

from . import RuleError

ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
OWNER = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
RULE_ID = re.compile(r"r_[A-Za-z0-9_-]{1,64}")
# Plain notation only: an exponent (1e-9) or a JSON number (a double) is how thresholds go wrong.
DECIMAL = re.compile(r"([0-9]{1,40})(?:\.([0-9]{1,40}))?")
WINDOW = re.compile(r"([1-9][0-9]{0,5})([mh])")
WEI_PER_ETH = 10**18
ETH_DECIMALS = 18
URL_MAX = 2048
SECRET_LENGTH = (16, 256)


def show(value: object) -> str:
    """The offending value, cut short, for a message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def text(body: dict[str, object], name: str) -> str:
    value = body[name]
    if not isinstance(value, str):
        raise RuleError(f"{name}: expected a string, got {show(value)}", name)
    return value


def address(body: dict[str, object], name: str) -> str:
    value = text(body, name)
    if not ADDRESS.fullmatch(value):
        raise RuleError(f"{name}: expected a 0x address of 40 hex digits, got {show(value)}", name)
    return value.lower()


def owner(value: object) -> str:
    if not isinstance(value, str) or not OWNER.fullmatch(value):
        raise RuleError(f"owner: expected 1 to 64 characters of A-Z a-z 0-9 _ . @ -, got {show(value)}", "owner")
    return value


def rule_id(value: object) -> str:
    if not isinstance(value, str) or not RULE_ID.fullmatch(value):
        raise RuleError(f"id: expected r_ and up to 64 letters, digits, _ or -, got {show(value)}", "id")
    return value


def decimal(body: dict[str, object], name: str) -> tuple[Decimal, str]:
    """A positive decimal string, exactly (no context rounds it), and its canonical text."""
    raw = text(body, name)
    m = DECIMAL.fullmatch(raw.strip())
    if m is None:
        raise RuleError(f"{name}: expected a decimal string in plain notation such as \"0.0005\", got {show(raw)}",
                        name)
    whole, frac = m[1].lstrip("0") or "0", (m[2] or "").rstrip("0")
    canonical = f"{whole}.{frac}" if frac else whole
    value = Decimal(canonical)
    if value <= 0:
        raise RuleError(f"{name}: must be greater than 0, got {show(raw)}", name)
    return value, canonical


def wei(body: dict[str, object], name: str) -> tuple[int, str]:
    """An ETH amount as integer wei, exactly: more than 18 decimals has no wei value."""
    _, canonical = decimal(body, name)
    whole, _, frac = canonical.partition(".")
    if len(frac) > ETH_DECIMALS:
        raise RuleError(f"{name}: an ETH amount has at most {ETH_DECIMALS} decimals (1 wei), got {show(body[name])}",
                        name)
    return int(whole) * WEI_PER_ETH + int(frac.ljust(ETH_DECIMALS, "0")), canonical


def eth_text(amount: int) -> str:
    """Wei as ETH in plain notation, exact at any size (no 30-digit rounding)."""
    whole, frac = divmod(amount, WEI_PER_ETH)
    digits = str(frac).rjust(ETH_DECIMALS, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def window_label(seconds: int) -> str:
    """As the market hash names windows (`change_5m`, `volume_eth_24h`): minutes, or whole hours.
    The same formula as candles.market.window_label, which this layer may not import."""
    minutes = seconds // 60
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def window(body: dict[str, object], windows: tuple[int, ...] | None) -> int:
    """A window label -> seconds; one of `windows` (MARKET_WINDOWS), or any label when None:
    a stored rule stays readable after MARKET_WINDOWS changes."""
    raw = text(body, "window")
    m = WINDOW.fullmatch(raw)
    seconds = int(m[1]) * (60 if m[2] == "m" else 3600) if m else 0
    if windows is None:
        if m is None or window_label(seconds) != raw:
            raise RuleError(f"window: expected a window such as 5m or 24h, got {show(raw)}", "window")
        return seconds
    labels = {window_label(w): w for w in windows}
    if raw not in labels:
        raise RuleError(f"window: {show(raw)} is not one of {', '.join(labels)} (MARKET_WINDOWS)", "window")
    return labels[raw]


def webhook(value: object) -> tuple[str, str]:
    """(url, secret) of `{"url": "http(s)://…", "secret": "…"}`."""
    if not isinstance(value, dict):
        raise RuleError(f"webhook: expected an object {{\"url\", \"secret\"}}, got {show(value)}", "webhook")
    extra = sorted(set(value) - {"url", "secret"})
    if extra:
        raise RuleError(f"webhook.{extra[0]}: not a field of a webhook (url, secret)", f"webhook.{extra[0]}")
    for name in ("url", "secret"):
        if not isinstance(value.get(name), str):
            raise RuleError(f"webhook.{name}: required, a string", f"webhook.{name}")
    url, secret = value["url"], value["secret"]
    parts = urlsplit(url)
    if (parts.scheme not in ("http", "https") or not parts.hostname or len(url) > URL_MAX
            or any(c.isspace() or not c.isprintable() for c in url)):
        raise RuleError(f"webhook.url: expected an http:// or https:// URL of at most {URL_MAX} characters, "
                        f"got {show(url)}", "webhook.url")
    lo, hi = SECRET_LENGTH
    if not lo <= len(secret) <= hi or not secret.isprintable():
        # The secret itself is never echoed.
        raise RuleError(f"webhook.secret: expected {lo} to {hi} printable characters, got {len(secret)}",
                        "webhook.secret")
    return url, secret
