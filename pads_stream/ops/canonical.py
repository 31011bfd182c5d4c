"""Canonical encoding of the Redis market data for `checksum` (pure).

Keys are taken relative to the `{namespace}:{chain_id}` prefix so a rebuild into another
namespace digests the same. Every item is a netstring (`<len>:<bytes>,`), so no choice of
member or field bytes can make two different snapshots encode the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

VERSION = b"pads-checksum-v1\n"
ZSET_KINDS = ("candles", "trades", "rank")

Text = str | bytes


def kind_of(relkey: str) -> str | None:
    """What a key under the prefix holds; None for keys the checksum does not cover."""
    if relkey == "tokens":
        return "set"
    head, sep, rest = relkey.partition(":")
    if not sep or not rest:
        return None
    if head in ZSET_KINDS:
        return "zset"
    if head == "market":
        return "hash"
    return None


def relative(key: Text, prefix: str) -> str | None:
    text = key.decode() if isinstance(key, bytes) else key
    head = prefix + ":"
    return text[len(head):] if text.startswith(head) else None


def _b(v: Text) -> bytes:
    return v if isinstance(v, bytes) else v.encode()


def _ns(b: bytes) -> bytes:
    return b"%d:%s," % (len(b), b)


def score_text(score: float) -> bytes:
    # Redis scores are doubles; integral ones (bucket starts, trade positions) print as integers.
    if score.is_integer() and abs(score) < 2**53:
        return b"%d" % int(score)
    return repr(score).encode()


def encode_key(relkey: str, value: Any) -> bytes:
    """One key's bytes: kind, relative name, then its entries in a canonical order.
    zset: iterable of (member, score); hash: mapping field -> value; set: iterable of members."""
    kind = kind_of(relkey)
    if kind is None:
        raise ValueError(f"not a checksummed key: {relkey!r}")
    if kind == "zset":
        items = sorted((float(s), _b(m)) for m, s in value)
        body = [_ns(score_text(s)) + _ns(m) for s, m in items]
    elif kind == "hash":
        body = [_ns(f) + _ns(v) for f, v in sorted((_b(f), _b(v)) for f, v in value.items())]
    else:
        body = [_ns(m) for m in sorted(_b(m) for m in value)]
    return _ns(_ns(kind.encode()) + _ns(relkey.encode()) + _ns(b"%d" % len(body)) + b"".join(body))


@dataclass
class Digest:
    """Feeds keys in ascending relative-name order; refuses any other order so the result
    never depends on the order SCAN returned them in."""

    _h: Any = field(default_factory=lambda: hashlib.sha256(VERSION))
    _last: bytes | None = None
    series: int = 0
    candles: int = 0
    markets: int = 0
    trades: int = 0
    tokens: int = 0

    def add(self, relkey: str, value: Any) -> None:
        if not value:
            return  # Redis has no empty collections: a key read as empty vanished after SCAN
        name = relkey.encode()
        if self._last is not None and name <= self._last:
            raise ValueError(f"keys must be added in ascending order: {relkey!r} after {self._last!r}")
        self._last = name
        data = encode_key(relkey, value)
        self._h.update(data)
        head = relkey.partition(":")[0]
        if head == "candles":
            self.series += 1
            self.candles += len(value)
        elif head == "market":
            self.markets += 1
        elif head == "trades":
            self.trades += len(value)
        elif head == "tokens":
            self.tokens += len(value)

    @property
    def hexdigest(self) -> str:
        return str(self._h.hexdigest())

    def line(self) -> str:
        return f"sha256:{self.hexdigest} series={self.series} candles={self.candles} markets={self.markets}"

    def as_dict(self) -> dict[str, Any]:
        return {"sha256": self.hexdigest, "series": self.series, "candles": self.candles,
                "markets": self.markets, "trades": self.trades, "tokens": self.tokens}


def sorted_relative(keys: Iterable[Text], prefix: str) -> list[tuple[str, Text]]:
    """(relative name, original key) for the covered keys, in digest order."""
    out = []
    for k in keys:
        rel = relative(k, prefix)
        if rel is not None and kind_of(rel) is not None:
            out.append((rel, k))
    return sorted(out, key=lambda p: p[0].encode())


def digest_snapshot(prefix: str, data: Mapping[Any, Any]) -> Digest:
    """The digest of plain data keyed by full Redis key (str or bytes); keys outside the prefix
    are ignored."""
    d = Digest()
    for rel, key in sorted_relative(data, prefix):
        d.add(rel, data[key])
    return d
