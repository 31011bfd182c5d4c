"""Event ids and refs as docs/alerts-design.md defines them, so a consumer can compute them:
id = sha256 of "type|chain|token|block_hash|log_index|extra|stage", ref the same without the
stage, each its first 128 bits."""

from __future__ import annotations

from hashlib import sha256

import orjson

from pads_stream.alerts.events import FINAL, PROVISIONAL, event_id, event_json, event_ref, pending, retraction_json

TOKEN = "0x" + "ab" * 20
HASH = "0x" + "11" * 32


def doc(text: str) -> str:
    return sha256(text.encode()).hexdigest()[:32]


def test_ids_and_refs_follow_the_documented_formula() -> None:
    alert = pending("alert", 7, HASH, 3, "0x" + "22" * 32, 1_732_442_523, "r_x",
                    {"rule_id": "r_x", "owner": "alice"}, "provisional")
    cause = f"alert|31337|{TOKEN}|{HASH}|3|r_x"
    for stage in (PROVISIONAL, FINAL):
        ev = orjson.loads(event_json(31337, TOKEN, alert, stage))
        assert ev["id"] == doc(f"{cause}|{stage}") == event_id("alert", 31337, TOKEN, HASH, 3, "r_x", stage)
        assert ev["ref"] == doc(cause) == event_ref("alert", 31337, TOKEN, HASH, 3, "r_x")
    retraction = orjson.loads(retraction_json(31337, TOKEN, alert))
    assert retraction["id"] == doc(f"{cause}|r") and retraction["ref"] == doc(cause)
    assert retraction["data"]["retracts"] == doc(f"{cause}|p")
