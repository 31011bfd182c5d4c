"""checksum's canonical encoding: independent of the prefix and of read order, and sensitive
to every member, score and field."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from pads_stream.ops.canonical import Digest, digest_snapshot, encode_key, kind_of, score_text

TOKEN = "0x" + "a1" * 20


def candle(t: int, close: str = "0.5", final: bool = False) -> bytes:
    return orjson.dumps({"t": t, "open": "0.5", "high": "0.5", "low": "0.5", "close": close, "volume_token": "10",
                         "volume_eth": "5", "trades": 1, "buys": 1, "sells": 0, "final": final},
                        option=orjson.OPT_SORT_KEYS)


def snapshot(pfx: str) -> dict[str, Any]:
    return {
        f"{pfx}:candles:{TOKEN}:1m": [(candle(60), 60.0), (candle(120), 120.0)],
        f"{pfx}:candles:{TOKEN}:5m": [(candle(0), 0.0)],
        f"{pfx}:market:{TOKEN}": {b"price": b"0.5", b"trades": b"2", b"name": b"Pad"},
        f"{pfx}:tokens": {TOKEN.encode()},
        f"{pfx}:trades:{TOKEN}": [(b'{"log_index":1}', 4200001.0)],
    }


def test_same_data_under_another_prefix_gives_the_same_digest() -> None:
    a = digest_snapshot("pads:31337", snapshot("pads:31337"))
    b = digest_snapshot("pads-rebuild:31337", snapshot("pads-rebuild:31337"))
    assert a.hexdigest == b.hexdigest
    assert (a.series, a.candles, a.markets, a.trades, a.tokens) == (2, 3, 1, 1, 1)
    assert a.line() == f"sha256:{a.hexdigest} series=2 candles=3 markets=1"


def test_order_of_keys_members_and_fields_does_not_matter() -> None:
    data = snapshot("p:1")
    shuffled = dict(reversed(list(data.items())))
    shuffled["p:1:candles:" + TOKEN + ":1m"] = list(reversed(data["p:1:candles:" + TOKEN + ":1m"]))
    shuffled["p:1:market:" + TOKEN] = dict(reversed(list(data["p:1:market:" + TOKEN].items())))
    assert digest_snapshot("p:1", shuffled).hexdigest == digest_snapshot("p:1", data).hexdigest


def test_str_and_bytes_encode_alike() -> None:
    assert encode_key("market:x", {"a": "1"}) == encode_key("market:x", {b"a": b"1"})


def test_keys_outside_the_prefix_or_of_unknown_kinds_are_ignored() -> None:
    base = digest_snapshot("p:1", snapshot("p:1")).hexdigest
    noisy = {**snapshot("p:1"), "p:2:tokens": {b"x"}, "p:10:tokens": {b"y"}, "p:1:lock": b"1", "p:1:candles": [(b"m", 1.0)]}
    assert digest_snapshot("p:1", noisy).hexdigest == base


def test_empty_collections_count_as_absent() -> None:
    base = digest_snapshot("p:1", snapshot("p:1")).hexdigest
    assert digest_snapshot("p:1", {**snapshot("p:1"), "p:1:market:0xdead": {}}).hexdigest == base


def mutations() -> list[tuple[str, Any]]:
    key1m, market = f"p:1:candles:{TOKEN}:1m", f"p:1:market:{TOKEN}"
    return [
        ("member", lambda d: d[key1m].__setitem__(0, (candle(60, close="0.6"), 60.0))),
        ("final flag", lambda d: d[key1m].__setitem__(0, (candle(60, final=True), 60.0))),
        ("score", lambda d: d[key1m].__setitem__(0, (candle(60), 61.0))),
        ("missing member", lambda d: d[key1m].pop()),
        ("field value", lambda d: d[market].__setitem__(b"price", b"0.50")),
        ("field name", lambda d: d[market].__setitem__(b"prices", d[market].pop(b"price"))),
        ("extra field", lambda d: d[market].__setitem__(b"graduated", b"1")),
        ("token", lambda d: d["p:1:tokens"].add(b"0xbeef")),
        ("trade", lambda d: d[f"p:1:trades:{TOKEN}"].append((b"{}", 4200002.0))),
        ("key renamed", lambda d: d.__setitem__(f"p:1:candles:{TOKEN}:15m", d.pop(f"p:1:candles:{TOKEN}:5m"))),
        ("trades key renamed", lambda d: d.__setitem__(f"p:1:trades:{TOKEN}x", d.pop(f"p:1:trades:{TOKEN}"))),
    ]


@pytest.mark.parametrize("name,mutate", mutations(), ids=[m[0] for m in mutations()])
def test_any_change_changes_the_digest(name: str, mutate: Any) -> None:
    data = snapshot("p:1")
    changed = copy.deepcopy(data)
    mutate(changed)
    assert digest_snapshot("p:1", changed).hexdigest != digest_snapshot("p:1", data).hexdigest


def test_netstrings_keep_boundaries() -> None:
    # Without lengths, field "ab" = "c" and field "a" = "bc" would encode alike.
    assert encode_key("market:x", {"ab": "c"}) != encode_key("market:x", {"a": "bc"})
    assert encode_key("tokens", ["ab", "c"]) != encode_key("tokens", ["a", "bc"])


def test_keys_must_come_in_order() -> None:
    d = Digest()
    d.add("tokens", {b"x"})
    with pytest.raises(ValueError):
        d.add("market:x", {b"a": b"1"})


def test_scores_and_kinds() -> None:
    assert score_text(1732442520.0) == b"1732442520"
    assert score_text(0.5) == b"0.5"
    assert [kind_of(k) for k in ("tokens", "candles:t:1m", "trades:t", "market:t", "candles", "other:t")] == \
        ["set", "zset", "zset", "hash", None, None]
