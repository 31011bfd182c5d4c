"""The typed market: its wire form (the Redis market hash) round-trips, lists only fields of
MARKET_FIELDS, and is what the table codec stores (so older table values read the same)."""

from __future__ import annotations

from decimal import Decimal

import orjson
from hypothesis import example, given
from hypothesis import strategies as st

from pads_stream.candles.codec import decode_state, encode_state
from pads_stream.candles.market import (
    MARKET_FIELDS,
    Market,
    TokenInfo,
    TradeTotals,
    _change_text,
    _market_cap_text,
    change,
    eth_text,
    market_cap,
)
from pads_stream.candles.price import format_price
from pads_stream.candles.state import TokenState

ints = st.integers(min_value=0, max_value=10**30)
blocks = st.integers(min_value=0, max_value=10**9)
text = st.text(max_size=12)
prices = st.decimals(min_value=Decimal("1e-20"), max_value=Decimal("1e12"), allow_nan=False,
                     allow_infinity=False).map(lambda d: Decimal(format_price(d)))

infos = st.builds(TokenInfo, name=st.none() | text, symbol=st.none() | text, curve=st.none() | text,
                  creator=st.none() | text, created_block=st.none() | blocks, created_at=st.none() | blocks,
                  graduated=st.booleans(), graduated_block=st.none() | blocks, graduated_at=st.none() | blocks,
                  graduation_eth_reserves=st.none() | ints, graduated_hash=st.none() | text)
totals = st.none() | st.builds(TradeTotals, prices, blocks, blocks, blocks, ints, ints, ints, ints, ints)


@given(infos, totals)
def test_wire_round_trips_and_names_only_known_fields(info: TokenInfo, t: TradeTotals | None) -> None:
    market = Market(info, t or TradeTotals())
    wire = market.wire()
    assert set(wire) <= set(MARKET_FIELDS) and all(isinstance(v, str) for v in wire.values())
    assert Market.from_wire(wire).wire() == wire
    assert market == wire and dict(market) == wire  # reads as the mapping Redis holds
    assert ("price" in wire) == (t is not None)


def test_fields_in_wire_form() -> None:
    info = TokenInfo(name="Pepe", created_block=5, created_at=1_700_000_000, graduated=True, graduated_block=9,
                     graduation_eth_reserves=10**20, graduated_hash="0xab")
    assert info.wire() == {"name": "Pepe", "created_block": "5", "created_at": "1700000000", "graduated": "1",
                           "graduated_block": "9", "graduation_eth_reserves": str(10**20), "graduated_hash": "0xab"}
    info.ungraduate()
    assert info.wire() == {"name": "Pepe", "created_block": "5", "created_at": "1700000000"}
    t = TradeTotals()
    assert t.wire() == {}
    t.last(Decimal("0.00000123"), 10, 2, 1_700_000_060, 7, 8)
    t.add(3, 30, 300)
    assert t.wire() == {"price": "0.00000123", "last_trade_block": "10", "last_trade_log_index": "2",
                        "last_trade_at": "1700000060", "virtual_eth_reserves": "7", "virtual_token_reserves": "8",
                        "trades": "3", "volume_eth": "30", "volume_token": "300"}


def test_the_table_stores_the_wire_form_as_before() -> None:
    """A value written before the typed model (string dicts under "m" and "sm") decodes to the
    same market and encodes to the same bytes."""
    meta = {"name": "X", "symbol": "X", "curve": "0x" + "cc" * 20, "creator": "0x" + "dd" * 20,
            "created_block": "3", "created_at": "100"}
    settled = {"price": "0.5", "last_trade_block": "4", "last_trade_log_index": "1", "last_trade_at": "160",
               "virtual_eth_reserves": "9", "virtual_token_reserves": "10", "trades": "2", "volume_eth": "6",
               "volume_token": "12"}
    old = orjson.dumps({"c": [4, 1], "o": 7, "sc": [4, 1], "s": {}, "sm": settled, "p": [], "k": {}, "m": meta,
                        "r": []}, option=orjson.OPT_SORT_KEYS)
    state = decode_state(old)
    assert state.market == {**meta, **settled}
    # Written again with the (empty) windows a value of that time had none of.
    assert orjson.loads(encode_state(state)) == {**orjson.loads(old), "w": {"m": [], "b": None, "t": {}, "a": None}}
    assert TokenState().market == {}


@given(st.integers(min_value=0, max_value=10**40))
@example(10**28 + 1)  # 29 digits: `scaleb` rounds to 28
@example(10**27 + 1)
@example(0)
def test_eth_text_is_the_price_format_of_wei_over_10_18(wei: int) -> None:
    assert eth_text(str(wei)) == format_price(Decimal(wei).scaleb(-18))


@given(prices, prices, st.integers(min_value=10**18, max_value=10**30))
def test_derived_texts_are_the_formatted_computations(price: Decimal, open_: Decimal, supply: int) -> None:
    """Cached by value: an equal value with another exponent gives the same text."""
    assert _market_cap_text(price, supply) == format_price(market_cap(price, supply))
    plain = format(price, "f")
    same = Decimal(plain + ("0" if "." in plain else ".0"))
    assert same == price and same.as_tuple() != price.as_tuple()
    assert _market_cap_text(same, supply) == format_price(market_cap(price, supply))
    assert _change_text(price, open_) == ("0" if price == open_ else format_price(change(price, open_)))
