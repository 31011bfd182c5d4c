"""A token's market snapshot, typed (pure): the one place that lists its fields.

    TokenInfo    from the token's CurveCreated and Graduated logs
    TradeTotals  from its trades: the last trade's price, position and reserves, and totals
    Market       both, with the rolling windows and the all-time high at the partition's
                 chain time and what follows from them (market cap, curve progress, change),
                 as the worker shows them; its wire form is the Redis market hash
                 `pads:{chain_id}:market:{token}` and the `market` of a socket.io update

Every class reads as a read-only mapping of its wire form (field -> string, a field that is
unset is absent), so a snapshot compares equal to the hash Redis holds. `market_fields`
lists every wire field for the configured windows; the checker compares each of them.
Derived decimals are computed exactly and rounded once, to the price format.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from decimal import Context, Decimal
from functools import lru_cache
from typing import Any, TypeVar

from .price import PRICE_CONTEXT, format_price
from .windows import WindowStats

WIDE = Context(prec=200)  # exact for sums and products of prices and amounts


@dataclass(frozen=True, slots=True)
class MarketParams:
    """Settings the derived fields need (MARKET_WINDOWS, TOKEN_TOTAL_SUPPLY, CURVE_*)."""

    windows: tuple[int, ...] = (300, 3600, 21600, 86400)
    total_supply: int = 10**27
    initial_virtual_eth: int = 30 * 10**18
    graduation_eth: int = 85 * 10**18


def window_label(seconds: int) -> str:
    """300 -> '5m', 3600 -> '1h', 86400 -> '24h': minutes, or whole hours."""
    minutes = seconds // 60
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def market_cap(price: Decimal, total_supply: int) -> Decimal:
    return PRICE_CONTEXT.plus(WIDE.divide(WIDE.multiply(price, Decimal(total_supply)), Decimal(10**18)))


# Derived texts, by value: a token's ATH (every update) and, between its trades, its price,
# progress and changes (a window moving) recur, and each costs a division and a format.
@lru_cache(maxsize=1 << 12)
def _market_cap_text(price: Decimal, total_supply: int) -> str:
    return format_price(market_cap(price, total_supply))


@lru_cache(maxsize=1 << 12)
def _change_text(price: Decimal, open_: Decimal) -> str:
    return "0" if price == open_ else format_price(change(price, open_))


def curve_progress(virtual_eth: int | None, graduated: bool, p: MarketParams) -> Decimal:
    if graduated:
        return Decimal(100)
    if virtual_eth is None:
        return Decimal(0)
    progress = PRICE_CONTEXT.divide(Decimal((virtual_eth - p.initial_virtual_eth) * 100), Decimal(p.graduation_eth))
    return min(max(progress, Decimal(0)), Decimal(100))


@lru_cache(maxsize=1 << 12)
def _progress_text(virtual_eth: int | None, graduated: bool, p: MarketParams) -> str:
    return format_price(curve_progress(virtual_eth, graduated, p))


def change(price: Decimal, open_: Decimal) -> Decimal:
    return PRICE_CONTEXT.divide(WIDE.multiply(WIDE.subtract(price, open_), Decimal(100)), open_)


V = TypeVar("V")


class WireView(Mapping[str, V]):
    """Reads as the read-only mapping of `wire()`: for readers and tests, never on the hot path."""

    __slots__ = ()

    def wire(self) -> dict[str, V]:
        raise NotImplementedError

    def __getitem__(self, key: str) -> V:
        return self.wire()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.wire())

    def __len__(self) -> int:
        return len(self.wire())


_Wire = WireView[str]


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
    """A snapshot: its parts are copies, so later batches never change it. Without `params`
    only the token's own fields are shown (no windows, no derived fields)."""

    info: TokenInfo
    totals: TradeTotals
    windows: dict[int, WindowStats] = field(default_factory=dict)
    ath: Decimal | None = None
    ath_at: int | None = None
    params: MarketParams | None = None

    def wire(self) -> dict[str, str]:
        out = self.info.wire()
        t = self.totals
        out.update(t.wire())
        p = self.params
        if p is None or not out:  # a token with neither a creation nor a trade shows nothing
            return out
        price = t.price
        if price is not None:
            out["market_cap_eth"] = _market_cap_text(price, p.total_supply)
        out["curve_progress"] = _progress_text(t.virtual_eth_reserves if price is not None else None,
                                               self.info.graduated, p)
        if self.ath is not None:
            out["ath_price"] = format_price(self.ath)
            out["ath_at"] = str(self.ath_at)
            out["ath_market_cap_eth"] = _market_cap_text(self.ath, p.total_supply)
        for w in p.windows:
            st = self.windows.get(w) or WindowStats()
            f = _window_names(w)
            out[f[0]] = str(st.volume_eth)
            out[f[1]] = str(st.volume_token)
            out[f[2]] = str(st.trades)
            out[f[3]] = str(st.buys)
            out[f[4]] = str(st.sells)
            out[f[5]] = str(st.traders)
            if st.high is not None and st.low is not None:
                out[f[6]] = format_price(st.high)
                out[f[7]] = format_price(st.low)
            if st.open is not None:
                out[f[8]] = format_price(st.open)
                if price is not None:
                    out[f[9]] = _change_text(price, st.open)
        return out

    @classmethod
    def from_wire(cls, d: Mapping[str, str]) -> Market:
        """The token's own fields (derived ones are recomputed, never read back)."""
        return cls(TokenInfo.from_wire(d), TradeTotals.from_wire(d))


def _int(v: str | None) -> int | None:
    return None if v is None else int(v)


INFO_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TokenInfo))
TRADE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TradeTotals))
MARKET_FIELDS: tuple[str, ...] = INFO_FIELDS + TRADE_FIELDS  # the token's own fields
DERIVED_FIELDS = ("market_cap_eth", "curve_progress", "ath_price", "ath_at", "ath_market_cap_eth")
WINDOW_FIELDS = ("volume_eth", "volume_token", "trades", "buys", "sells", "traders", "high", "low", "open", "change")


@lru_cache(maxsize=64)
def _window_names(w: int) -> tuple[str, ...]:
    sfx = window_label(w)
    return tuple(f"{f}_{sfx}" for f in WINDOW_FIELDS)


def market_fields(windows: tuple[int, ...] = ()) -> tuple[str, ...]:
    """Every field a market hash can have with these windows: what `check` compares."""
    return MARKET_FIELDS + DERIVED_FIELDS + tuple(f"{f}_{window_label(w)}" for w in windows for f in WINDOW_FIELDS)


RANKED_BY = {"created_at": "created", "market_cap_eth": "market_cap", "curve_progress": "progress",
             "graduated": "progress", "graduated_at": "graduated"}


def rank_scores(m: Mapping[str, str], changed: Iterable[str] | None = None) -> dict[str, str | None] | None:
    """The token's score in each ranking (`pads:{chain_id}:rank:{name}`), None where it is not
    ranked; None for a market without derived fields (nothing to rank by). With `changed`
    (field names), only the rankings that follow one of those fields.

        created      created_at                 volume_{W}   the window's ETH volume, in ETH
        market_cap   market_cap_eth             progress     curve_progress, tokens on their curve
        graduated    graduated_at
    """
    if "curve_progress" not in m:
        return None
    out: dict[str, str | None] = {}
    if changed is None:
        names: Iterable[str] = ("created", "market_cap", "progress", "graduated")
        volumes: Iterable[str] = [f for f in m if f[:11] == "volume_eth_"]
    else:
        fs = list(changed)
        names = sorted({RANKED_BY[f] for f in fs if f in RANKED_BY})
        volumes = [f for f in fs if f[:11] == "volume_eth_"]
    for name in names:
        out[name] = (m.get("created_at") if name == "created" else m.get("market_cap_eth") if name == "market_cap"
                     else m.get("graduated_at") if name == "graduated"
                     else None if m.get("graduated") else m["curve_progress"])
    for f in volumes:
        v = m.get(f)
        out["volume_" + f[11:]] = None if v is None else eth_text(v)
    return out


def eth_text(wei: str) -> str:
    """A wei amount (an integer string) in ETH, as rankings always scored it:
    `format_price(Decimal(wei).scaleb(-18))`, by moving the point when no rounding can happen.
    `scaleb` rounds to the default context's 28 digits, so the point moves only up to 28."""
    if len(wei) > 28 or not wei.isdigit():
        return format_price(Decimal(wei).scaleb(-18))
    whole, frac = wei[:-18].lstrip("0") or "0", wei[-18:].rjust(18, "0").rstrip("0")
    return f"{whole}.{frac}" if frac else whole
