"""A token's domain events and alerts, made as the fold applies its logs (pure).

Reorgs as data, like the candles: an event caused by a log that is not final yet is kept in
the token's state (`TokenState.events`, in chain order) and sent provisional at once; when
its block is final it is sent again, final (an alert of an `on: final` rule only then), and
dropped from the state; when its block leaves the chain it is dropped, and a provisional
alert sent for it is retracted. Nothing here reads a clock or depends on batching, so a
redelivery or a replay makes the same events, with the same ids.

Rules fire on edges, before and after a log at the same chain time (`alerts.evaluate`); only
`once` needs memory: the rule ids that fired on a final cause (`TokenState.once`) and the
alerts still pending.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..alerts.evaluate import TRADE_TESTS, Observation, fires_on_created, fires_on_graduated
from ..alerts.events import (
    BLOCK,
    DATA,
    EXTRA,
    FINAL,
    HASH,
    INDEX,
    ON,
    PROVISIONAL,
    TYPE,
    Pending,
    event_json,
    pending,
    retraction_json,
)
from ..alerts.rules import Rule
from ..decode.events import CurveCreatedEvent, GraduatedEvent, LogRef, TradeEvent
from .market import MarketParams, change, curve_progress
from .price import format_price
from .state import TokenState
from .windows import windows_volume_open

MILESTONES = (25, 50, 75, 90)


@dataclass(frozen=True, slots=True)
class EventParams:
    """LARGE_TRADE_ETH in wei, and the curve the progress milestones are measured on."""

    large_trade_wei: int = 10**18
    market: MarketParams = MarketParams()


class Plan:
    """What a token's rules need, worked out once per rules tuple (`RuleIndex` keeps one tuple per
    token until its rules change), not once per trade."""

    __slots__ = ("rules", "windows", "progress", "tests")

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = rules
        self.windows = sorted({r.window for r in rules if r.window is not None})
        self.progress = any(r.type == "progress" for r in rules)
        self.tests = [(TRADE_TESTS[r.type], r) for r in rules if r.type in TRADE_TESTS]


_PLANS: dict[int, Plan] = {}


def plan_of(rules: Sequence[Rule]) -> Plan:
    # By identity, holding the tuple so its id is not reused while its plan is kept.
    got = _PLANS.get(id(rules))
    if got is None or got.rules is not rules:
        if len(_PLANS) >= 1 << 16:
            _PLANS.clear()
        got = _PLANS[id(rules)] = Plan(rules)
    return got


class Before:
    """What a trade's events compare with, taken before it is applied."""

    __slots__ = ("price", "virtual_eth", "ath", "obs", "stats", "plan")

    def __init__(self, state: TokenState, t: int, rules: Sequence[Rule], p: EventParams) -> None:
        last = state.pending[-1] if state.pending else None
        totals = state.settled_market
        self.price = last.part.close if last is not None else totals.price
        self.virtual_eth = last.virtual_eth if last is not None else (
            totals.virtual_eth_reserves if totals.price is not None else None)
        self.ath = state.ath_price()
        self.obs: Observation | None = None
        self.stats: dict[int, tuple[int, Decimal | None]] = {}  # window -> (volume_eth, open)
        self.plan = plan_of(rules) if rules else None
        if self.plan is not None:
            if self.plan.windows:
                self.stats = windows_volume_open(state.activity, state.pending, t, self.plan.windows)
            self.obs = observe(state, p, self.price, self.virtual_eth, self.stats, self.plan.progress)

    def after(self, state: TokenState, p: EventParams, price: Decimal, virtual_eth: int, eth: int) -> Observation:
        """The same windows with the trade in them: it falls into each at the same chain time, so
        its volume adds, and it opens a window nothing was before (no second walk of the activity)."""
        stats = {w: (volume + eth, price if open_ is None else open_) for w, (volume, open_) in self.stats.items()}
        return observe(state, p, price, virtual_eth, stats, self.plan is not None and self.plan.progress)


def observe(state: TokenState, p: EventParams, price: Decimal | None, virtual_eth: int | None,
            stats: Mapping[int, tuple[int, Decimal | None]], progress_rule: bool) -> Observation:
    """The token as its rules see it; `stats` the windows they need, at the event's chain time."""
    # Progress is a division per trade: only for the tokens that have a progress rule.
    progress = curve_progress(virtual_eth, state.info.graduated, p.market) if progress_rule else Decimal(0)
    if not stats:
        return Observation(price, progress)
    return Observation(price, progress, lambda w: stats[w][0], lambda w: _change(price, stats[w][1]))


def _change(price: Decimal | None, open_: Decimal | None) -> Decimal:
    return Decimal(0) if price is None or open_ is None or open_ == 0 or price == open_ else change(price, open_)


def _reached(virtual_eth: int | None, milestone: int, p: MarketParams) -> bool:
    """progress >= milestone, in integers: (v - initial) * 100 >= milestone * graduation."""
    return virtual_eth is not None and (virtual_eth - p.initial_virtual_eth) * 100 >= milestone * p.graduation_eth


def _at(ref: LogRef, type_: str, extra: str, data: dict[str, Any], on: str = "") -> Pending:
    return pending(type_, ref.block_number, ref.block_hash, ref.log_index, ref.tx_hash, ref.block_timestamp,
                   extra, data, on)


class TokenEvents:
    """One token's event maker within a batch: appends to `out` (canonical JSON, in order)."""

    __slots__ = ("chain_id", "token", "state", "p", "out")

    def __init__(self, chain_id: int, token: str, state: TokenState, p: EventParams, out: list[bytes]) -> None:
        self.chain_id, self.token, self.state, self.p, self.out = chain_id, token, state, p, out

    def _add(self, ev: Pending, send: bool = True) -> None:
        self.state.events.append(ev)
        if send:
            self.out.append(event_json(self.chain_id, self.token, ev, PROVISIONAL))

    def _fired(self, rule_id: str) -> bool:
        return rule_id in self.state.once or any(e[TYPE] == "alert" and e[EXTRA] == rule_id for e in self.state.events)

    def _alert(self, rule: Rule, ref: LogRef, observed: str) -> None:
        if rule.once and self._fired(rule.id):
            return
        data: dict[str, Any] = {"rule_id": rule.id, "owner": rule.owner, "rule_type": rule.type, "observed": observed,
                                "on": rule.on, "recurrence": "once" if rule.once else "every"}
        if rule.value is not None:
            data["value"] = rule.value
        if rule.window is not None:
            data["window"] = rule.window
        self._add(_at(ref, "alert", rule.id, data, rule.on), send=rule.on == "provisional")

    def trade(self, t: TradeEvent, price: Decimal, before: Before, rules: Sequence[Rule]) -> None:
        ref, p = t.ref, self.p
        if t.eth_amount >= p.large_trade_wei:
            self._add(_at(ref, "large_trade", "", {
                "eth_amount": str(t.eth_amount), "token_amount": str(t.token_amount), "is_buy": t.is_buy,
                "trader": t.trader, "price": _text(price)}))
        if before.ath is not None and price > before.ath:
            self._add(_at(ref, "new_ath", "", {"price": _text(price), "previous": _text(before.ath)}))
        if not self.state.info.graduated:
            for m in MILESTONES:
                if not _reached(before.virtual_eth, m, p.market) and _reached(t.virtual_eth, m, p.market):
                    self._add(_at(ref, "curve_milestone", str(m), {
                        "milestone": m, "progress": _text(curve_progress(t.virtual_eth, False, p.market))}))
        if before.obs is not None and before.plan is not None:
            after = before.after(self.state, p, price, t.virtual_eth, t.eth_amount)
            obs, eth = before.obs, t.eth_amount
            for test, rule in before.plan.tests:
                observed = test(rule, obs, after, eth)
                if observed is not None:
                    self._alert(rule, ref, observed)

    def created(self, ev: CurveCreatedEvent, rules: Sequence[Rule]) -> None:
        self._add(_at(ev.ref, "token_created", "", {"name": ev.name, "symbol": ev.symbol, "creator": ev.creator,
                                                     "curve": ev.curve}))
        for rule in rules:
            if fires_on_created(rule, ev.creator):
                self._alert(rule, ev.ref, ev.creator)

    def graduated(self, ev: GraduatedEvent, rules: Sequence[Rule]) -> None:
        self._add(_at(ev.ref, "graduated", "", {"eth_reserves": str(ev.eth_reserves)}))
        for rule in rules:
            if fires_on_graduated(rule):
                self._alert(rule, ev.ref, "100")

    def settle(self, finalized: int) -> None:
        """Events of blocks <= `finalized` are final: sent final, and `once` alerts remembered."""
        events = self.state.events
        n = 0
        while n < len(events) and events[n][BLOCK] <= finalized:
            n += 1
        for ev in events[:n]:
            if ev[TYPE] == "alert":
                if ev[DATA].get("recurrence") == "once" and ev[EXTRA] not in self.state.once:
                    self.state.once.append(ev[EXTRA])
                if ev[ON] != "final":
                    continue  # a provisional rule's alert was sent already, and stays
            self.out.append(event_json(self.chain_id, self.token, ev, FINAL))
        del events[:n]

    def removed(self, block: int, block_hash: str, indexes: Sequence[int], by: LogRef | None) -> None:
        """The logs `indexes` of a block left the chain: their events go, provisional alerts are
        retracted; `by` (the first removal of a trade block) also makes its reorg_correction."""
        keep: list[Pending] = []
        for ev in self.state.events:
            if ev[BLOCK] == block and ev[HASH] == block_hash and ev[INDEX] in indexes:
                if ev[TYPE] == "alert" and ev[ON] == "provisional":
                    self.out.append(retraction_json(self.chain_id, self.token, ev))
            else:
                keep.append(ev)
        self.state.events[:] = keep
        if by is not None:
            self.out.append(event_json(self.chain_id, self.token, _at(by, "reorg_correction", "", {
                "removed_block": block, "removed_block_hash": block_hash}), PROVISIONAL))


def oldest_pending(state: TokenState) -> int | None:
    """The oldest block a head marker must settle for this token: its trades' or its events'."""
    a = state.pending[0].block if state.pending else None
    b = state.events[0][BLOCK] if state.events else None
    return a if b is None else b if a is None else min(a, b)


_text = format_price
