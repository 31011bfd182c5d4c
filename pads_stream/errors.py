"""One root exception for the package; each error says whether retrying can help."""

from __future__ import annotations


class PadsStreamError(Exception):
    """Root of every error raised by pads_stream."""

    retriable = False


class ConfigError(PadsStreamError):
    """A setting is missing or invalid; the message names the setting."""


class DecodeError(PadsStreamError):
    """A raw log or message cannot be turned into a record. Goes to the dead-letter topic."""


class OrderError(PadsStreamError):
    """A trade arrived behind the state it should extend (e.g. a timestamp going back)."""


class MirrorError(PadsStreamError):
    """Writing the Redis mirror failed; the batch is retried, never acked unwritten."""

    retriable = True


class PushError(PadsStreamError):
    """The socket.io backend refused or dropped the listener."""

    retriable = True
