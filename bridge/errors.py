"""One root exception for the bridge; `retriable` says whether waiting can help."""

from __future__ import annotations

import re


class BridgeError(Exception):
    retriable = False


class ConfigError(BridgeError):
    """A setting is missing or invalid; the message names the setting."""


RATE_LIMIT_SIGNS = ("too many requests", "rate limit", "rate-limit", "ratelimit", "compute units", "throughput",
                    "requests per second", "429", "slow down", "capacity")
RANGE_SIGNS = ("too many", "range", "limit", "exceed", "10000", "response size", "block span", "query returned more")


class RpcError(BridgeError):
    """The node answered a JSON-RPC error."""

    def __init__(self, method: str, error: object) -> None:
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error

    @property
    def rate_limited(self) -> bool:
        """The provider asks us to slow down: wait, and ask for the same range again."""
        return is_rate_limit(self.error)

    @property
    def range_too_large(self) -> bool:
        """The provider refuses the block range (and is not merely rate-limiting): shrink it."""
        return not self.rate_limited and any(s in str(self.error).lower() for s in RANGE_SIGNS)

    @property
    def retry_after(self) -> float | None:
        return retry_after_of(self.error)

    @property
    def retriable(self) -> bool:  # type: ignore[override]
        return True


def is_rate_limit(error: object) -> bool:
    if isinstance(error, dict) and error.get("code") in (429, -32029):
        return True
    if retry_after_of(error) is not None:
        return True
    text = str(error).lower()
    return any(s in text for s in RATE_LIMIT_SIGNS)


def retry_after_of(error: object) -> float | None:
    """Seconds the provider asks to wait, where it says: `data.retry_after` / `retryAfter` /
    `Retry-After`, or "retry after N s" / "try again in N seconds" in the message."""
    data = error.get("data") if isinstance(error, dict) else None
    if isinstance(data, dict):
        for key in ("retry_after", "retryAfter", "Retry-After", "retry-after", "backoff_seconds"):
            value = data.get(key)
            if isinstance(value, int | float | str) and str(value).replace(".", "", 1).isdigit():
                return min(float(value), 300.0)
    m = re.search(r"(?:retry[- ]after|try again in)[: ]*([0-9]+(?:\.[0-9]+)?) ?(ms|s|sec|seconds?)?", str(error),
                  re.IGNORECASE)
    if m is None:
        return None
    seconds = float(m[1]) / (1000 if (m[2] or "").lower() == "ms" else 1)
    return min(seconds, 300.0)


class NodeTimeout(BridgeError):
    """A request to the node got no answer in time."""

    retriable = True


class CheckpointWriteError(BridgeError):
    """The checkpoint file could not be written (the disk, not the node)."""


class CheckpointError(BridgeError):
    """The saved checkpoint belongs to another chain or factory."""


class ChainMoved(BridgeError):
    """The chain reorganised while a block range was being read: the range is read again."""

    retriable = True
