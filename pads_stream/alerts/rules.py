"""The rule model (docs/alerts-design.md, "Rule"), its validation and its two encodings (pure):
the full rule on the compacted topic `pads.alert-rules`, and the control record on every
partition of the raw-log topic, which never carries the webhook."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from ..errors import DecodeError
from . import RuleError, fields

RULE_KEY = b"\x00rule"
TYPES = ("price_above", "price_below", "change", "volume", "large_trade", "progress", "graduated", "new_token")
# Which fields each type takes: 1 required, 0 optional, absent from the map: not allowed.
_SHAPE: dict[str, dict[str, int]] = {
    "price_above": {"token": 1, "value": 1}, "price_below": {"token": 1, "value": 1},
    "change": {"token": 1, "value": 1, "window": 1}, "volume": {"token": 1, "value": 1, "window": 1},
    "large_trade": {"token": 0, "value": 1}, "progress": {"token": 0, "value": 1},
    "graduated": {"token": 0}, "new_token": {"creator": 1},
}
_WEI_TYPES = ("volume", "large_trade")
_COMMON = ("type", "recurrence", "on", "webhook")
RECURRENCES = ("every", "once")
STAGES = ("provisional", "final")
SERVER_FIELDS = ("id", "owner", "created_at")


@dataclass(frozen=True, slots=True)
class Rule:
    """A validated rule. `level` is the Decimal threshold of price_*, change and progress;
    `wei` the integer threshold of volume and large_trade; `value` the canonical text of either."""

    id: str
    owner: str
    type: str
    token: str | None = None
    value: str | None = None
    level: Decimal | None = None
    wei: int | None = None
    window: int | None = None
    creator: str | None = None
    once: bool = False
    on: str = "provisional"
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)  # never in a log line
    created_at: int = 0

    def _eval_fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for name in ("token", "value", "creator"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.window is not None:
            out["window"] = fields.window_label(self.window)
        out["recurrence"] = "once" if self.once else "every"
        out["on"] = self.on
        return out

    def public(self, secret_hidden: bool = True) -> dict[str, Any]:
        """The design's public JSON; the webhook secret as "***" when hidden."""
        out: dict[str, Any] = {"id": self.id, "owner": self.owner, **self._eval_fields()}
        if self.webhook_url is not None:
            out["webhook"] = {"url": self.webhook_url, "secret": "***" if secret_hidden else self.webhook_secret}
        out["created_at"] = self.created_at
        return out

    def store_value(self) -> bytes:
        """The value on `pads.alert-rules`: the public form with the secret."""
        return orjson.dumps(self.public(secret_hidden=False))

    def raw_record(self, chain_id: int) -> bytes:
        """The control record on the raw-log topic: what the fold evaluates, and the owner its
        alerts name; no webhook and no created_at (a re-POST must change nothing)."""
        rule = {"owner": self.owner, **self._eval_fields()}
        return orjson.dumps({"kind": "rule", "chain_id": chain_id, "id": self.id, "rule": rule})


def new_rule_id() -> str:
    return "r_" + uuid.uuid4().hex


def parse_rule(body: dict[str, Any], *, owner: str, rule_id: str, created_at: int,
               windows: tuple[int, ...]) -> Rule:
    """A rule from its JSON body (without id, owner, created_at); RuleError names the field."""
    if isinstance(body, dict):
        for name in SERVER_FIELDS:
            if name in body:
                raise RuleError(f"{name}: set by the server, not by the body", name)
    return _parse(body, fields.owner(owner), fields.rule_id(rule_id), created_at, windows, allowed=())


def _parse(body: object, owner: str, rule_id: str, created_at: int, windows: tuple[int, ...] | None,
           allowed: tuple[str, ...]) -> Rule:
    if not isinstance(body, dict):
        raise RuleError(f"rule: expected a JSON object, got {fields.show(body)}", "rule")
    kind = body.get("type")
    if kind not in TYPES:
        raise RuleError(f"type: expected one of {', '.join(TYPES)}, got {fields.show(kind)}", "type")
    shape = _SHAPE[kind]
    for name in body:
        if name not in shape and name not in _COMMON and name not in allowed:
            raise RuleError(f"{name}: not a field of a {kind} rule", str(name))
    for name, required in shape.items():
        if required and body.get(name) is None:
            raise RuleError(f"{name}: required for a {kind} rule", name)
    token = fields.address(body, "token") if body.get("token") is not None else None
    creator = fields.address(body, "creator") if "creator" in shape else None
    window = fields.window(body, windows) if "window" in shape else None
    value = level = wei = None
    if kind in _WEI_TYPES:
        wei, value = fields.wei(body, "value")
    elif "value" in shape:
        level, value = fields.decimal(body, "value")
        if kind == "progress" and level > 100:
            raise RuleError(f"value: progress is a percent in (0, 100], got {fields.show(body['value'])}", "value")
    recurrence = body.get("recurrence", "every")
    if recurrence not in RECURRENCES:
        raise RuleError(f"recurrence: expected every or once, got {fields.show(recurrence)}", "recurrence")
    on = body.get("on", "provisional")
    if on not in STAGES:
        raise RuleError(f"on: expected provisional or final, got {fields.show(on)}", "on")
    url = secret = None
    if body.get("webhook") is not None:
        url, secret = fields.webhook(body["webhook"])
    return Rule(rule_id, owner, kind, token, value, level, wei, window, creator, recurrence == "once", on, url, secret,
                created_at)


def rule_from_store(value: bytes) -> Rule:
    """A rule from `pads.alert-rules` (written by `store_value`); DecodeError if it is not one.
    Windows are not checked against MARKET_WINDOWS: a stored rule outlives a settings change."""
    try:
        d = orjson.loads(value)
        if not isinstance(d, dict):
            raise DecodeError("stored rule is not a JSON object")
        created_at = d.get("created_at", 0)
        if isinstance(created_at, bool) or not isinstance(created_at, int):
            raise DecodeError(f"stored rule: created_at is not an integer: {created_at!r}")
        return _parse(d, fields.owner(d.get("owner")), fields.rule_id(d.get("id")), created_at, None,
                      allowed=SERVER_FIELDS)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"stored rule is not JSON: {exc}") from None
    except RuleError as exc:
        raise DecodeError(f"stored rule: {exc.message}") from None


_PARSED: dict[tuple[bytes, int | None], tuple[str, Rule | None]] = {}


def shared_rule_record(payload: bytes, chain_id: int | None = None) -> tuple[str, Rule | None]:
    """`parse_rule_record`, one Rule per distinct record: every partition carries each rule's
    record, and 10,000 rules over 8 partitions were 80,000 objects. A bad record raises each time."""
    key = (payload, chain_id)
    got = _PARSED.get(key)
    if got is None:
        got = parse_rule_record(payload, chain_id)
        if len(_PARSED) >= 1 << 16:
            _PARSED.clear()
        _PARSED[key] = got
    return got


def parse_rule_record(payload: bytes, chain_id: int | None = None) -> tuple[str, Rule | None]:
    """(rule id, rule) of a raw-log control record; None for a deletion. DecodeError when it is
    not a rule record (or, with `chain_id`, one of another chain)."""
    try:
        d = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"rule record is not JSON: {exc}") from None
    if not isinstance(d, dict) or d.get("kind") != "rule":
        raise DecodeError('rule record: not a JSON object of "kind": "rule"')
    if chain_id is not None and d.get("chain_id") != chain_id:
        raise DecodeError(f"rule record of chain {d.get('chain_id')!r}, not {chain_id}")
    try:
        rid = fields.rule_id(d.get("id"))
        body = d.get("rule", ...)
        if body is ...:
            raise DecodeError("rule record lacks 'rule' (null for a deletion)")
        if body is None:
            return rid, None
        if not isinstance(body, dict):
            raise DecodeError(f"rule record: 'rule' is not an object: {fields.show(body)}")
        return rid, _parse(body, fields.owner(body.get("owner")), rid, 0, None, allowed=("owner",))
    except RuleError as exc:
        raise DecodeError(f"rule record: {exc.message}") from None


def deletion_record(rule_id: str, chain_id: int) -> bytes:
    """The raw-log record that ends a rule: `"rule": null`."""
    return orjson.dumps({"kind": "rule", "chain_id": chain_id, "id": rule_id, "rule": None})
