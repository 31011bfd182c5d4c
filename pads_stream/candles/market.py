"""A token's market snapshot, typed (pure): the one place that lists its fields.

    TokenInfo    from the token's CurveCreated and Graduated logs
    TradeTotals  from its trades: the last trade's price, position and reserves, and totals
    Market       both, as the worker shows them; its wire form is the Redis market hash
                 `pads:{chain_id}:market:{token}` and the `market` of a socket.io update

Every class reads as a read-only mapping of its wire form (field -> string, a field that is
unset is absent), so a snapshot compares equal to the hash Redis holds. `MARKET_FIELDS` lists
every wire field in order; the checker compares each of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from .price import format_price


class _Wire(Mapping[str, str]):
    """Mapping access to `wire()`: for readers and tests, never on the hot path."""

    __slots__ = ()

    def wire(self) -> dict[str, str]:
        raise NotImplementedError

    def __getitem__(self, key: str) -> str:
        return self.wire()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.wire())

    def __len__(self) -> int:
        return len(self.wire())


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "1"
    if isinstance(v, Decimal):
        return format_price(v)
    return str(v)


@dataclass(slots=True, eq=False)
class TokenInfo(_Wire):
    name: str | None = None
    symbol: str | None = None
    curve: str | None = None
    creator: str | None = None
    created_block: int | None = None
    created_at: int | None = None
    graduated: bool = False
    graduated_block: int | None = None
    graduated_at: int | None = None
    graduation_eth_reserves: int | None = None
    graduated_hash: str | None = None

    def wire(self) -> dict[str, str]:
        return {f: _text(v) for f in INFO_FIELDS if (v := getattr(self, f)) is not None and v is not False}

    @classmethod
    def from_wire(cls, d: Mapping[str, str]) -> TokenInfo:
        return cls(
            name=d.get("name"), symbol=d.get("symbol"), curve=d.get("curve"), creator=d.get("creator"),
            created_block=_int(d.get("created_block")), created_at=_int(d.get("created_at")),
            graduated=d.get("graduated") == "1", graduated_block=_int(d.get("graduated_block")),
            graduated_at=_int(d.get("graduated_at")), graduation_eth_reserves=_int(d.get("graduation_eth_reserves")),
            graduated_hash=d.get("graduated_hash"))

    def copy(self) -> TokenInfo:
        return TokenInfo(self.name, self.symbol, self.curve, self.creator, self.created_block, self.created_at,
                         self.graduated, self.graduated_block, self.graduated_at, self.graduation_eth_reserves,
                         self.graduated_hash)

    def ungraduate(self) -> None:
        self.graduated = False
        self.graduated_block = self.graduated_at = self.graduation_eth_reserves = None
        self.graduated_hash = None


@dataclass(slots=True, eq=False)
class TradeTotals(_Wire):
    """All set once a trade was added (`price` is None before); totals are sums over trades."""

    price: Decimal | None = None
    last_trade_block: int = 0
    last_trade_log_index: int = 0
    last_trade_at: int = 0
    virtual_eth_reserves: int = 0
    virtual_token_reserves: int = 0
    trades: int = 0
    volume_eth: int = 0
    volume_token: int = 0

    def wire(self) -> dict[str, str]:
        if self.price is None:
            return {}
        return {"price": format_price(self.price), "last_trade_block": str(self.last_trade_block),
                "last_trade_log_index": str(self.last_trade_log_index), "last_trade_at": str(self.last_trade_at),
                "virtual_eth_reserves": str(self.virtual_eth_reserves),
                "virtual_token_reserves": str(self.virtual_token_reserves), "trades": str(self.trades),
                "volume_eth": str(self.volume_eth), "volume_token": str(self.volume_token)}

    @classmethod
    def from_wire(cls, d: Mapping[str, str]) -> TradeTotals:
        if "price" not in d:
            return cls()
        return cls(Decimal(d["price"]), int(d["last_trade_block"]), int(d["last_trade_log_index"]),
                   int(d["last_trade_at"]), int(d["virtual_eth_reserves"]), int(d["virtual_token_reserves"]),
                   int(d["trades"]), int(d["volume_eth"]), int(d["volume_token"]))

    def copy(self) -> TradeTotals:
        return TradeTotals(self.price, self.last_trade_block, self.last_trade_log_index, self.last_trade_at,
                           self.virtual_eth_reserves, self.virtual_token_reserves, self.trades, self.volume_eth,
                           self.volume_token)

    def last(self, price: Decimal, block: int, log_index: int, at: int, virtual_eth: int,
             virtual_token: int) -> None:
        self.price, self.last_trade_block, self.last_trade_log_index, self.last_trade_at = price, block, log_index, at
        self.virtual_eth_reserves, self.virtual_token_reserves = virtual_eth, virtual_token

    def add(self, trades: int, volume_eth: int, volume_token: int) -> None:
        self.trades += trades
        self.volume_eth += volume_eth
        self.volume_token += volume_token


@dataclass(slots=True, eq=False)
class Market(_Wire):
    """A snapshot: its parts are copies, so later batches never change it."""

    info: TokenInfo
    totals: TradeTotals

    def wire(self) -> dict[str, str]:
        out = self.info.wire()
        out.update(self.totals.wire())
        return out

    @classmethod
    def from_wire(cls, d: Mapping[str, str]) -> Market:
        return cls(TokenInfo.from_wire(d), TradeTotals.from_wire(d))


def _int(v: str | None) -> int | None:
    return None if v is None else int(v)


INFO_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TokenInfo))
TRADE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TradeTotals))
MARKET_FIELDS: tuple[str, ...] = INFO_FIELDS + TRADE_FIELDS
