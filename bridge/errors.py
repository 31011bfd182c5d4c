"""One root exception for the bridge; `retriable` says whether waiting can help."""

from __future__ import annotations


class BridgeError(Exception):
    retriable = False


class ConfigError(BridgeError):
    """A setting is missing or invalid; the message names the setting."""


class RpcError(BridgeError):
    """The node answered a JSON-RPC error."""

    def __init__(self, method: str, error: object) -> None:
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error

    @property
    def range_too_large(self) -> bool:
        text = str(self.error).lower()
        return any(s in text for s in ("too many", "range", "limit", "exceed", "10000", "response size"))

    @property
    def retriable(self) -> bool:  # type: ignore[override]
        return True


class CheckpointError(BridgeError):
    """The saved checkpoint belongs to another chain or factory."""


class ChainMoved(BridgeError):
    """The chain reorganised while a block range was being read: the range is read again."""

    retriable = True
