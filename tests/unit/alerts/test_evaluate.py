"""Edges of every rule type: exactly at the level fires, just short does not, already past does
not fire again, and coming back re-arms. Window values are asked only when a rule needs them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pads_stream.alerts.evaluate import (
    Observation,
    RuleIndex,
    fires_on_created,
    fires_on_graduated,
    fires_on_trade,
)
from pads_stream.alerts.rules import Rule, parse_rule

TOKEN = "0x" + "ab" * 20
OTHER = "0x" + "cd" * 20
ETH = 10**18
_ids = iter(range(10**9))


def rule(kind: str, **body: Any) -> Rule:
    return parse_rule({"type": kind, **body}, owner="alice", rule_id=f"r_{next(_ids)}", created_at=0,
                      windows=(300, 3600))


def price(p: str | None) -> Observation:
    return Observation(None if p is None else Decimal(p), Decimal(0))


def fired(r: Rule, before: Observation, after: Observation, eth_amount: int = 1) -> str | None:
    return fires_on_trade(r, before, after, eth_amount)


PRICE_ABOVE = [  # level 2
    ("1", "2", "2"),  # exactly at the level
    ("1", "1.999999999", None),  # just below
    ("1", "7.5", "7.5"),
    ("2", "3", None),  # already at it before
    ("3", "4", None),  # already above
    ("3", "1", None),  # the opposite crossing
    (None, "5", None),  # a token's first trade has no before
]


@pytest.mark.parametrize(("before", "after", "observed"), PRICE_ABOVE)
def test_price_above(before: str | None, after: str, observed: str | None) -> None:
    assert fired(rule("price_above", token=TOKEN, value="2"), price(before), price(after)) == observed


PRICE_BELOW = [("3", "2", "2"), ("3", "2.000000001", None), ("2", "1", None), ("1", "0.5", None),
               ("1", "3", None), (None, "0.1", None)]


@pytest.mark.parametrize(("before", "after", "observed"), PRICE_BELOW)
def test_price_below(before: str | None, after: str, observed: str | None) -> None:
    assert fired(rule("price_below", token=TOKEN, value="2"), price(before), price(after)) == observed


def test_price_rules_rearm_after_the_opposite_crossing() -> None:
    r = rule("price_above", token=TOKEN, value="2")
    path = ["1", "3", "3.5", "2.5", "1", "2", "2", "1.5", "9"]
    fires = [i for i in range(1, len(path)) if fired(r, price(path[i - 1]), price(path[i]))]
    assert fires == [1, 5, 8]


def changes(before: str, after: str, window: int = 300) -> tuple[Observation, Observation]:
    def at(v: str) -> Observation:
        return Observation(Decimal(1), Decimal(0), change=lambda w: Decimal(v) if w == window else Decimal(0))
    return at(before), at(after)


CHANGE = [  # |change_5m| crossing 10, in both directions
    ("5", "10", "10"), ("5", "-10", "-10"), ("-3", "10.5", "10.5"), ("0", "-25", "-25"),
    ("5", "9.99", None), ("-5", "-9.99", None),
    ("-10", "-12", None), ("12", "-12", None), ("10", "11", None),  # already at or past it
    ("12", "3", None),
]


@pytest.mark.parametrize(("before", "after", "observed"), CHANGE)
def test_change_both_directions(before: str, after: str, observed: str | None) -> None:
    assert fired(rule("change", token=TOKEN, value="10", window="5m"), *changes(before, after)) == observed


def test_change_reads_its_own_window() -> None:
    r = rule("change", token=TOKEN, value="10", window="1h")
    assert fired(r, *changes("0", "50", window=300)) is None
    assert fired(r, *changes("0", "50", window=3600)) == "50"


def volumes(before: int, after: int) -> tuple[Observation, Observation]:
    return (Observation(Decimal(1), Decimal(0), volume_eth=lambda w: before),
            Observation(Decimal(1), Decimal(0), volume_eth=lambda w: after))


VOLUME = [  # 1.000000000000000001 ETH, compared in wei
    (ETH, ETH + 1, "1.000000000000000001"), (0, 5 * ETH, "5"),
    (ETH - 1, ETH, None), (ETH + 1, ETH + 2, None), (2 * ETH, 3 * ETH, None),
]


@pytest.mark.parametrize(("before", "after", "observed"), VOLUME)
def test_volume_is_exact_in_wei(before: int, after: int, observed: str | None) -> None:
    r = rule("volume", token=TOKEN, value="1.000000000000000001", window="5m")
    assert fired(r, *volumes(before, after)) == observed


@pytest.mark.parametrize(("amount", "observed"), [(ETH, "1"), (ETH - 1, None), (5 * ETH + 3, "5.000000000000000003")])
def test_large_trade_fires_on_each_trade_at_least_n(amount: int, observed: str | None) -> None:
    r = rule("large_trade", value="1")
    assert fired(r, price("1"), price("1"), amount) == observed
    assert fired(r, price("1"), price("1"), amount) == observed  # each such trade, no arming


PROGRESS = [("49.9", "50", "50"), ("0", "100", "100"), ("49", "49.99", None), ("50", "60", None), ("60", "40", None)]


@pytest.mark.parametrize(("before", "after", "observed"), PROGRESS)
def test_progress(before: str, after: str, observed: str | None) -> None:
    r = rule("progress", value="50")
    assert fired(r, Observation(None, Decimal(before)), Observation(Decimal(1), Decimal(after))) == observed


def test_window_values_are_computed_only_when_a_rule_needs_them() -> None:
    calls: list[tuple[str, int]] = []

    def obs(vol: int) -> Observation:
        return Observation(Decimal(1), Decimal(0), volume_eth=lambda w: calls.append(("v", w)) or vol,
                           change=lambda w: calls.append(("c", w)) or Decimal(0))

    before, after = obs(0), obs(0)
    fired(rule("price_above", token=TOKEN, value="2"), before, after)
    fired(rule("large_trade", value="1"), before, after, ETH)
    assert calls == []
    vol = rule("volume", token=TOKEN, value="1", window="5m")
    fired(vol, before, after)
    assert calls == [("v", 300)]  # after is short of it: before is never asked
    fired(vol, before, after)
    assert calls == [("v", 300)]  # asked once per window


def test_graduated_and_new_token() -> None:
    assert fires_on_graduated(rule("graduated")) and not fires_on_graduated(rule("progress", value="1"))
    creator = rule("new_token", creator=OTHER.upper().replace("X", "x"))
    assert fires_on_created(creator, OTHER) and not fires_on_created(creator, TOKEN)
    assert fired(rule("graduated"), price("1"), price("2")) is None


def test_index_selects_own_and_all_token_rules() -> None:
    ix = RuleIndex()
    own = rule("price_above", token=TOKEN, value="1")
    other = rule("price_above", token=OTHER, value="1")
    every = rule("large_trade", value="1")
    grad, grad_all = rule("graduated", token=TOKEN), rule("graduated")
    new = rule("new_token", creator=OTHER)
    for r in (own, other, grad, new):
        assert ix.add(r)
    assert list(ix.for_token(TOKEN)) == [own]
    assert ix.add(every)
    assert list(ix.for_token(TOKEN)) == [own, every] and list(ix.for_token("0x" + "ee" * 20)) == [every]
    assert ix.add(grad_all)
    assert list(ix.for_graduated(TOKEN)) == [grad, grad_all] and list(ix.for_graduated(OTHER)) == [grad_all]
    assert list(ix.for_creator(OTHER)) == [new] and list(ix.for_creator(TOKEN)) == []
    assert not ix.add(own)  # a re-published record changes nothing
    assert ix.remove(own.id) == own and ix.remove(own.id) is None
    assert list(ix.for_token(TOKEN)) == [every] and list(ix.for_token(OTHER)) == [other, every]
    ix.remove(every.id)
    assert list(ix.for_token(TOKEN)) == [] and len(ix) == 4
    changed = parse_rule({"type": "price_above", "token": OTHER, "value": "5"}, owner="alice", rule_id=other.id,
                         created_at=0, windows=())
    assert ix.add(changed) and list(ix.for_token(OTHER)) == [changed] and ix.get(other.id) == changed


def crossings(path: list[Decimal], level: Decimal) -> list[int]:
    """Upward crossings by a plain state machine: armed while below the level."""
    out, armed = [], path[0] < level
    for i, p in enumerate(path[1:], 1):
        if armed and p >= level:
            out.append(i)
        armed = p < level
    return out


@given(st.lists(st.integers(1, 20), min_size=1, max_size=60), st.integers(1, 20))
def test_price_above_fires_exactly_at_the_upward_crossings(steps: list[int], level: int) -> None:
    path = [Decimal(s) / 4 for s in steps]  # small grid: many prices land exactly on the level
    x = Decimal(level) / 4
    r = rule("price_above", token=TOKEN, value=str(x))
    got = [i for i in range(1, len(path))
           if fired(r, Observation(path[i - 1], Decimal(0)), Observation(path[i], Decimal(0)))]
    assert got == crossings(path, x)
