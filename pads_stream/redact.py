"""Secrets out of every line we print (pure): one helper for logs, health bodies and errors.

URLs carry credentials in three places: the userinfo (`redis://user:password@host`,
`SASL`-style `kafka://user:pw@`), the query (`?apikey=…`, `token=`, `key=`, `password=`,
`secret=`), and the path, where node providers put the API key (`…/v2/<key>`,
`…/ws/v3/<key>`). Each is replaced by `***`, keeping enough of the URL to say which
service it is. web3 and aiokafka put URLs in their exception texts, so a log line built from
an exception is redacted like any other.
"""

from __future__ import annotations

import logging
import re

MASK = "***"
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<secret>[^@/\s]+)@")
_QUERY = re.compile(r"(?P<key>[?&;](?:api[-_]?key|apikey|key|token|access[-_]?token|password|passwd|secret|auth)=)"
                    r"(?P<secret>[^&;#\s'\"]+)", re.IGNORECASE)
# A path segment of 20+ key-like characters in a URL (provider API keys, project ids, JWTs).
_PATH_KEY = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s'\"]+(?:/[^/\s'\"?#]*)*?/)"
                       r"(?P<secret>[A-Za-z0-9_\-.]{20,})(?=[/?#'\"\s]|$)")


def redact(text: str) -> str:
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _QUERY.sub(lambda m: f"{m['key']}{MASK}", text)
    return _PATH_KEY.sub(lambda m: f"{m['head']}{MASK}", text)


class RedactingFilter(logging.Filter):
    """On a handler: every record it writes, message and exception text, is redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
            record.exc_info = None  # formatted above; a formatter would print it unredacted
        return True


def redact_handlers(logger: logging.Logger | None = None) -> None:
    """Add the filter to every handler of `logger` (the root by default), once."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
