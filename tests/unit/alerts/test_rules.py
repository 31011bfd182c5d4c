"""The rule model: every field validated with the field named, exact thresholds, and both
encodings round-tripping (the raw-log record never carries the webhook)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from pads_stream.alerts import RuleError
from pads_stream.alerts.fields import eth_text, window_label
from pads_stream.alerts.rules import RULE_KEY, deletion_record, parse_rule, parse_rule_record, rule_from_store
from pads_stream.candles import market
from pads_stream.errors import DecodeError, PadsStreamError

TOKEN = "0x" + "Ab" * 20
WINDOWS = (300, 3600, 21600, 86400)
HOOK = {"url": "https://hooks.example.com/pads?x=1", "secret": "s3cret-s3cret-s3cret"}


def parse(body: dict[str, Any], owner: str = "alice") -> Any:
    return parse_rule(body, owner=owner, rule_id="r_" + "0" * 32, created_at=1_700_000_000, windows=WINDOWS)


VALID = [
    ({"type": "price_above", "token": TOKEN, "value": "0.0000000280"}, {"level": Decimal("0.000000028"),
                                                                          "value": "0.000000028"}),
    ({"type": "price_below", "token": TOKEN, "value": "1"}, {"level": Decimal(1)}),
    ({"type": "change", "token": TOKEN, "value": "12.5", "window": "1h"}, {"level": Decimal("12.5"), "window": 3600}),
    ({"type": "volume", "token": TOKEN, "value": "1.000000000000000001", "window": "24h"},
     {"wei": 10**18 + 1, "window": 86400}),
    ({"type": "large_trade", "value": "0.5"}, {"wei": 5 * 10**17, "token": None}),
    ({"type": "large_trade", "token": TOKEN, "value": "2"}, {"wei": 2 * 10**18, "token": TOKEN.lower()}),
    ({"type": "progress", "value": "100"}, {"level": Decimal(100)}),
    ({"type": "graduated"}, {"token": None}),
    ({"type": "new_token", "creator": TOKEN, "recurrence": "once", "on": "final"},
     {"creator": TOKEN.lower(), "once": True, "on": "final"}),
]


@pytest.mark.parametrize(("body", "expect"), VALID)
def test_valid_rules_parse_to_exact_thresholds(body: dict[str, Any], expect: dict[str, Any]) -> None:
    rule = parse(body)
    for name, value in expect.items():
        assert getattr(rule, name) == value, name
    assert rule.owner == "alice" and rule.type == body["type"]
    assert rule.once is (body.get("recurrence") == "once")


INVALID = [
    ({"type": "price_up", "token": TOKEN, "value": "1"}, "type"),
    ({"token": TOKEN, "value": "1"}, "type"),
    ({"type": "price_above", "value": "1"}, "token"),
    ({"type": "price_above", "token": "0x12", "value": "1"}, "token"),
    ({"type": "price_above", "token": TOKEN}, "value"),
    ({"type": "price_above", "token": TOKEN, "value": 1.5}, "value"),
    ({"type": "price_above", "token": TOKEN, "value": "1e-9"}, "value"),
    ({"type": "price_above", "token": TOKEN, "value": "-1"}, "value"),
    ({"type": "price_above", "token": TOKEN, "value": "0"}, "value"),
    ({"type": "price_above", "token": TOKEN, "value": "1", "window": "5m"}, "window"),
    ({"type": "change", "token": TOKEN, "value": "5"}, "window"),
    ({"type": "change", "token": TOKEN, "value": "5", "window": "2m"}, "window"),
    ({"type": "volume", "token": TOKEN, "value": "0.0000000000000000001", "window": "5m"}, "value"),
    ({"type": "large_trade", "value": "1.0000000000000000001"}, "value"),
    ({"type": "progress", "value": "100.01"}, "value"),
    ({"type": "graduated", "value": "1"}, "value"),
    ({"type": "new_token"}, "creator"),
    ({"type": "new_token", "creator": TOKEN, "token": TOKEN}, "token"),
    ({"type": "graduated", "recurrence": "twice"}, "recurrence"),
    ({"type": "graduated", "on": "confirmed"}, "on"),
    ({"type": "graduated", "colour": "red"}, "colour"),
    ({"type": "graduated", "id": "r_1"}, "id"),
    ({"type": "graduated", "owner": "bob"}, "owner"),
    ({"type": "graduated", "webhook": "https://x"}, "webhook"),
    ({"type": "graduated", "webhook": {"url": "ftp://x.io/", "secret": HOOK["secret"]}}, "webhook.url"),
    ({"type": "graduated", "webhook": {"url": "https:///nohost", "secret": HOOK["secret"]}}, "webhook.url"),
    ({"type": "graduated", "webhook": {"url": "https://x.io/a b", "secret": HOOK["secret"]}}, "webhook.url"),
    ({"type": "graduated", "webhook": {"url": HOOK["url"], "secret": "short"}}, "webhook.secret"),
    ({"type": "graduated", "webhook": {"url": HOOK["url"], "secret": "x" * 257}}, "webhook.secret"),
    ({"type": "graduated", "webhook": {"url": HOOK["url"]}}, "webhook.secret"),
    ({"type": "graduated", "webhook": {**HOOK, "method": "PUT"}}, "webhook.method"),
]


@pytest.mark.parametrize(("body", "field"), INVALID)
def test_invalid_rules_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(RuleError) as err:
        parse(body)
    assert err.value.field == field
    assert err.value.message.startswith(field + ":")
    assert isinstance(err.value, PadsStreamError)


@pytest.mark.parametrize("owner", ["", "a" * 65, "al ice", "al/ice"])
def test_owner_is_checked(owner: str) -> None:
    with pytest.raises(RuleError) as err:
        parse({"type": "graduated"}, owner=owner)
    assert err.value.field == "owner"


def test_the_secret_is_never_echoed_nor_in_a_repr() -> None:
    with pytest.raises(RuleError) as err:
        parse({"type": "graduated", "webhook": {"url": HOOK["url"], "secret": "tiny-secret"}})
    assert "tiny-secret" not in str(err.value)
    rule = parse({"type": "graduated", "webhook": HOOK})
    assert HOOK["secret"] not in repr(rule)


def test_public_hides_the_secret_and_the_store_keeps_it() -> None:
    rule = parse({"type": "change", "token": TOKEN, "value": "10.0", "window": "5m", "webhook": HOOK})
    assert rule.public(secret_hidden=True) == {
        "id": rule.id, "owner": "alice", "type": "change", "token": TOKEN.lower(), "value": "10", "window": "5m",
        "recurrence": "every", "on": "provisional", "webhook": {"url": HOOK["url"], "secret": "***"},
        "created_at": 1_700_000_000}
    stored = orjson.loads(rule.store_value())
    assert stored["webhook"] == HOOK
    assert rule_from_store(rule.store_value()) == rule


def test_raw_record_has_no_webhook_and_round_trips() -> None:
    rule = parse({"type": "volume", "token": TOKEN, "value": "3.25", "window": "6h", "webhook": HOOK})
    record = rule.raw_record(31337)
    d = orjson.loads(record)
    assert d == {"kind": "rule", "chain_id": 31337, "id": rule.id,
                 "rule": {"owner": "alice", "type": "volume", "token": TOKEN.lower(), "value": "3.25",
                          "window": "6h", "recurrence": "every", "on": "provisional"}}
    assert b"webhook" not in record and HOOK["secret"].encode() not in record
    rid, back = parse_rule_record(record, chain_id=31337)
    assert rid == rule.id and back is not None
    assert (back.wei, back.window, back.owner, back.webhook_url) == (rule.wei, rule.window, "alice", None)
    assert parse_rule_record(deletion_record(rule.id, 31337)) == (rule.id, None)
    assert RULE_KEY == b"\x00rule"


@pytest.mark.parametrize("payload", [
    b"not json", b"[]", b'{"kind":"head","chain_id":1}', b'{"kind":"rule","chain_id":1,"id":"r_1"}',
    b'{"kind":"rule","chain_id":1,"id":"nope","rule":null}',
    b'{"kind":"rule","chain_id":1,"id":"r_1","rule":{"owner":"a","type":"price_above","value":"1"}}',
    b'{"kind":"rule","chain_id":2,"id":"r_1","rule":null}',
])
def test_bad_rule_records_are_decode_errors(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_rule_record(payload, chain_id=1)


def test_a_stored_rule_outlives_a_change_of_market_windows() -> None:
    rule = parse_rule({"type": "volume", "token": TOKEN, "value": "1", "window": "15m"}, owner="a", rule_id="r_x",
                      created_at=0, windows=(900,))
    assert rule_from_store(rule.store_value()).window == 900
    with pytest.raises(DecodeError):
        rule_from_store(b'{"id":"r_x","owner":"a","type":"graduated","created_at":"yesterday"}')


def test_window_labels_are_the_market_hash_ones() -> None:
    for seconds in (60, 300, 900, 3600, 5400, 21600, 86400, 7 * 86400):
        assert window_label(seconds) == market.window_label(seconds)


@pytest.mark.parametrize(("wei", "text"), [(0, "0"), (1, "0.000000000000000001"), (10**18, "1"),
                                           (15 * 10**17, "1.5"), (10**40 + 1, "10000000000000000000000.000000000000000001")])
def test_eth_text_is_exact(wei: int, text: str) -> None:
    assert eth_text(wei) == text


def test_a_record_carried_by_every_partition_is_one_rule_object() -> None:
    from pads_stream.alerts.rules import shared_rule_record
    from pads_stream.errors import DecodeError

    rule = parse_rule({"type": "large_trade", "value": "2"}, owner="bob", rule_id="r_" + "c" * 32, created_at=0,
                      windows=(300,))
    first, again = shared_rule_record(rule.raw_record(7), 7), shared_rule_record(rule.raw_record(7), 7)
    assert first[1] is again[1] and first[1] is not None and first[1].wei == 2 * 10**18
    for _ in range(2):  # a bad record is refused every time, never remembered as good
        with pytest.raises(DecodeError):
            shared_rule_record(rule.raw_record(7), 8)
