"""Differences between the recomputed state and what Redis holds (pure).

One line per difference, in a stable order (token, interval, bucket), so two runs on the
same data print the same report.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..candles.market import MARKET_FIELDS, rank_scores
from .recompute import Expected

ABSENT = object()

Series = dict[tuple[str, str], list[tuple[bytes, float]]]


def _show(v: Any) -> str:
    return "(absent)" if v is ABSENT else orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()


def _same(a: Any, b: Any) -> bool:
    # Through JSON, so 1 and true (trades vs final) or "1" and 1 never compare equal.
    return a is not ABSENT and b is not ABSENT and orjson.dumps(a) == orjson.dumps(b)


def parse_series(name: str, members: list[tuple[bytes, float]]) -> tuple[dict[int, dict[str, Any]], list[str]]:
    """Bucket -> candle, plus the problems that make a member unusable or ambiguous."""
    out: dict[int, dict[str, Any]] = {}
    problems: list[str] = []
    for member, score in members:
        try:
            c = orjson.loads(member)
            t = c["t"]
            if not isinstance(t, int) or isinstance(t, bool):
                raise TypeError("t is not an integer")
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            problems.append(f"bad member {name} score={score:g}: {exc}: {member.decode(errors='replace')}")
            continue
        if score != t:
            problems.append(f"candle {name} t={t}: score {score:g} differs from t")
        if t in out:
            problems.append(f"candle {name} t={t}: more than one member for the bucket")
        out[t] = c
    return out, problems


def compare_candles(expected: Expected, actual: Series) -> list[str]:
    lines: list[str] = []
    for token, interval in sorted(set(expected.candles) | set(actual)):
        name = f"{token} {interval}"
        want = expected.candles.get((token, interval), {})
        have, problems = parse_series(name, actual.get((token, interval), []))
        lines += problems
        for t in sorted(set(want) | set(have)):
            if t not in have:
                lines.append(f"missing candle {name} t={t}: expected {_show(want[t])}")
            elif t not in want:
                lines.append(f"extra candle {name} t={t}: {_show(have[t])}")
            else:
                for f in sorted(set(want[t]) | set(have[t])):
                    e, a = want[t].get(f, ABSENT), have[t].get(f, ABSENT)
                    if not _same(e, a):
                        lines.append(f"candle {name} t={t} {f}: expected {_show(e)} vs actual {_show(a)}")
    return lines


def compare_markets(expected: Expected, actual: dict[str, dict[str, str]],
                    fields: tuple[str, ...] = MARKET_FIELDS) -> list[str]:
    """Every field of the market hash (`market_fields(windows)`), metadata and trade fields alike."""
    lines: list[str] = []
    for token in sorted(set(expected.markets) | set(actual)):
        want, have = expected.markets.get(token, {}), actual.get(token, {})
        for f in fields:
            e, a = want.get(f, ABSENT), have.get(f, ABSENT)
            if e is ABSENT and a is ABSENT:
                continue
            if not _same(e, a):
                lines.append(f"market {token} {f}: expected {_show(e)} vs actual {_show(a)}")
    return lines


def compare(expected: Expected, candles: Series, markets: dict[str, dict[str, str]],
            fields: tuple[str, ...] = MARKET_FIELDS) -> list[str]:
    return compare_candles(expected, candles) + compare_markets(expected, markets, fields)


def summary(expected: Expected, differences: int) -> str:
    return (f"checked {expected.trades} trades, {len(expected.markets)} tokens, {expected.candle_count} candles: "
            f"{differences} difference{'' if differences == 1 else 's'}")


def expected_ranks(expected: Expected) -> dict[str, dict[str, float]]:
    """ranking -> token -> score, from the recomputed markets (as Redis stores scores: doubles)."""
    out: dict[str, dict[str, float]] = {}
    for token, market in expected.markets.items():
        for name, score in (rank_scores(market) or {}).items():
            if score is not None:
                out.setdefault(name, {})[token] = float(score)
    return out


def compare_ranks(expected: Expected, actual: dict[str, dict[str, float]]) -> list[str]:
    want_all = expected_ranks(expected)
    lines: list[str] = []
    for name in sorted(set(want_all) | set(actual)):
        want, have = want_all.get(name, {}), actual.get(name, {})
        for token in sorted(set(want) | set(have)):
            e, a = want.get(token, ABSENT), have.get(token, ABSENT)
            if e != a:
                lines.append(f"rank {name} {token}: expected {_show(e)} vs actual {_show(a)}")
    return lines
