"""Domain events of `pads.market-events` (pure): ids, stages and the JSON (docs/alerts-design.md).

An event's `ref` is a hash of what caused it (type, chain, token, the causing log's block
hash and index, and a discriminator: the rule of an alert, the milestone); its `id` adds the
stage, so the provisional, final and retracted forms of one cause are three ids and each of
them is the same whenever and however often it is made (a redelivery, a replay).

A pending event is kept in the token's state until its block is final or leaves the chain,
as a plain list (`Pending`), so the table encoding stays JSON:

    [type, block, block_hash, log_index, tx_hash, block_timestamp, extra, data, on]

`on` is "" for domain events and the rule's `on` for alerts; `extra` the rule id or milestone.
"""

from __future__ import annotations

from hashlib import sha256
from typing import Any

import orjson

from ..jsonbytes import dumps

TYPES = ("token_created", "graduated", "curve_milestone", "new_ath", "large_trade", "reorg_correction",
         "alert", "alert_retracted")
PROVISIONAL, FINAL, RETRACTED = "p", "f", "r"

Pending = list[Any]
TYPE, BLOCK, HASH, INDEX, TX, TS, EXTRA, DATA, ON = range(9)


def _cause(type_: str, chain_id: int, token: str, block_hash: str, log_index: int, extra: str) -> str:
    return f"{type_}|{chain_id}|{token}|{block_hash}|{log_index}|{extra}"


def _digest(text: str) -> str:
    """The first 128 bits of its sha256, as 32 hex digits."""
    return sha256(text.encode()).hexdigest()[:32]


def event_ref(type_: str, chain_id: int, token: str, block_hash: str, log_index: int, extra: str) -> str:
    """sha256 of "type|chain|token|block_hash|log_index|extra" (docs/alerts-design.md)."""
    return _digest(_cause(type_, chain_id, token, block_hash, log_index, extra))


def event_id(type_: str, chain_id: int, token: str, block_hash: str, log_index: int, extra: str, stage: str) -> str:
    """sha256 of "type|chain|token|block_hash|log_index|extra|stage": the ref's text and the stage."""
    return _digest(f"{_cause(type_, chain_id, token, block_hash, log_index, extra)}|{stage}")


def pending(type_: str, block: int, block_hash: str, log_index: int, tx_hash: str, ts: int, extra: str,
            data: dict[str, Any], on: str = "") -> Pending:
    return [type_, block, block_hash, log_index, tx_hash, ts, extra, data, on]


def event_json(chain_id: int, token: str, ev: Pending, stage: str, type_: str | None = None,
               data: dict[str, Any] | None = None) -> bytes:
    """The event on the topic, canonical (sorted keys): `type_` and `data` override the pending
    event's (a retraction is of type alert_retracted, caused by the alert's log)."""
    cause = _cause(ev[TYPE], chain_id, token, ev[HASH], ev[INDEX], ev[EXTRA])
    # Copied to its size: orjson's buffer is 4 KiB at least, and events wait in the sinks.
    return dumps({
        "id": _digest(f"{cause}|{stage}"), "ref": _digest(cause), "type": type_ or ev[TYPE], "chain_id": chain_id,
        "token": token,
        "final": stage == FINAL, "block_number": ev[BLOCK], "block_hash": ev[HASH], "log_index": ev[INDEX],
        "tx_hash": ev[TX], "block_timestamp": ev[TS], "data": ev[DATA] if data is None else data,
    }, option=orjson.OPT_SORT_KEYS)


def retraction_json(chain_id: int, token: str, alert: Pending) -> bytes:
    """`alert_retracted` for a provisional alert whose cause left the chain."""
    d = alert[DATA]
    retracts = event_id(alert[TYPE], chain_id, token, alert[HASH], alert[INDEX], alert[EXTRA], PROVISIONAL)
    return event_json(chain_id, token, alert, RETRACTED, "alert_retracted",
                      {"rule_id": d["rule_id"], "owner": d["owner"], "retracts": retracts})


def is_alert_event(payload: bytes) -> bool:
    """Cheap test on the canonical JSON, for sinks that pass only alerts on."""
    return b'"type":"alert' in payload
