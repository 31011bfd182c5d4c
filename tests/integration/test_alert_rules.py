"""Alert rules on the real stack: POST through the HTTP API lands the rule (with its secret) on the
compacted rules topic and its control record (without the webhook) on every raw-log partition;
DELETE leaves a tombstone and a null record on each. Owners are kept apart; the CLI shares it all."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from pads_stream.alerts.rules import RULE_KEY
from stack.process import ROOT

from .api_stack import Api, start_api
from .conftest import Deployment, wait_for

PARTITIONS = 4  # the deployment's TOPIC_PARTITIONS
HOOK = {"url": "https://hooks.example.com/pads", "secret": "integration-webhook-secret"}


def call(api: Api, method: str, path: str, user: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(api.url + path, data=data, method=method,
                                 headers={"X-Pads-User": user, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


async def _records(bootstrap: str, topic: str) -> list[tuple[int, bytes | None, bytes | None]]:
    """Every record of every partition: (partition, key, value)."""
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await c.start()
    try:
        # topics() fetches a fresh cluster view without keeping it; partitions_for_topic reads the kept one.
        cluster = await c._client.fetch_all_metadata()
        tps = [TopicPartition(topic, p) for p in sorted(cluster.partitions_for_topic(topic) or ())]
        c.assign(tps)
        await c.seek_to_beginning(*tps)
        end = await c.end_offsets(tps)
        out = []
        while [tp for tp in tps if await c.position(tp) < end[tp]]:
            for tp, msgs in (await c.getmany(timeout_ms=1000)).items():
                out += [(tp.partition, m.key, m.value) for m in msgs]
        return out
    finally:
        await c.stop()


def records(d: Deployment, topic: str) -> list[tuple[int, bytes | None, bytes | None]]:
    return asyncio.run(_records(d.env["KAFKA_BOOTSTRAP_SERVERS"], topic))


def test_rules_through_the_api_reach_both_topics(deployment: Deployment) -> None:
    d = deployment
    rules_topic = f"{d.name}.alert-rules"
    api = start_api(d, ALERT_RULES_TOPIC=rules_topic, MARKET_WINDOWS="5m,1h")
    token = "0x" + "ab" * 20
    body = {"type": "volume", "token": token, "value": "1.5", "window": "5m", "recurrence": "once", "webhook": HOOK}

    status, created = call(api, "POST", "/v1/alert-rules", "alice", body)
    assert status == 201, created
    rid = created["id"]
    assert created["webhook"] == {"url": HOOK["url"], "secret": "***"}
    assert call(api, "GET", f"/v1/alert-rules/{rid}", "alice") == (200, created)
    assert call(api, "GET", "/v1/alert-rules", "alice") == (200, {"rules": [created]})

    # The compacted topic has the full rule, secret included.
    stored = [(k, v) for _, k, v in records(d, rules_topic)]
    assert stored == [(rid.encode(), orjson.dumps({**created, "webhook": HOOK}))]
    # Every raw-log partition has the control record, without the webhook.
    raw = records(d, d.env["RAW_LOG_TOPIC"])
    assert sorted(p for p, _, _ in raw) == list(range(PARTITIONS))
    for _, key, value in raw:
        assert key == RULE_KEY and value is not None and b"webhook" not in value and HOOK["secret"].encode() not in value
        assert orjson.loads(value) == {"kind": "rule", "chain_id": d.chain_id, "id": rid, "rule": {
            "owner": "alice", "type": "volume", "token": token, "value": "1.5", "window": "5m",
            "recurrence": "once", "on": "provisional"}}

    # A bad rule: 400 naming the field, nothing written.
    status, err = call(api, "POST", "/v1/alert-rules", "alice", {**body, "window": "24h"})
    assert status == 400 and err["param"] == "window" and "5m, 1h" in err["error"]
    # Another owner neither sees nor deletes it.
    assert call(api, "GET", f"/v1/alert-rules/{rid}", "bob")[0] == 404
    assert call(api, "GET", "/v1/alert-rules", "bob") == (200, {"rules": []})
    assert call(api, "DELETE", f"/v1/alert-rules/{rid}", "bob")[0] == 404
    assert len(records(d, rules_topic)) == 1 and len(records(d, d.env["RAW_LOG_TOPIC"])) == PARTITIONS

    assert call(api, "DELETE", f"/v1/alert-rules/{rid}", "alice") == (204, None)
    assert call(api, "GET", f"/v1/alert-rules/{rid}", "alice")[0] == 404
    assert [(k, v) for _, k, v in records(d, rules_topic)][1:] == [(rid.encode(), None)]  # the tombstone
    raw = records(d, d.env["RAW_LOG_TOPIC"])
    nulls = [(p, orjson.loads(v)) for p, k, v in raw if k == RULE_KEY and v and orjson.loads(v)["rule"] is None]
    assert sorted(p for p, _ in nulls) == list(range(PARTITIONS))
    assert all(v == {"kind": "rule", "chain_id": d.chain_id, "id": rid, "rule": None} for _, v in nulls)


def cli(d: Deployment, rules_topic: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **d.env, "ALERT_RULES_TOPIC": rules_topic}
    return subprocess.run([sys.executable, "-m", "pads_stream", "rules", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_the_cli_and_the_api_share_the_rules(deployment: Deployment) -> None:
    d = deployment
    rules_topic = f"{d.name}.alert-rules"
    bad = cli(d, rules_topic, "add", "--owner", "carol", "--json", '{"type":"progress","value":"101"}')
    assert bad.returncode == 2 and "value:" in bad.stderr, bad.stderr
    added = cli(d, rules_topic, "add", "--owner", "carol", "--json",
                json.dumps({"type": "progress", "value": "75", "webhook": HOOK}))
    assert added.returncode == 0, added.stderr
    rule = json.loads(added.stdout)
    assert rule["webhook"]["secret"] == "***" and rule["value"] == "75"

    api = start_api(d, ALERT_RULES_TOPIC=rules_topic)
    assert call(api, "GET", "/v1/alert-rules", "carol") == (200, {"rules": [rule]})
    status, made = call(api, "POST", "/v1/alert-rules", "carol", {"type": "graduated"})
    assert status == 201
    listed = cli(d, rules_topic, "list", "--owner", "carol")
    assert sorted(json.loads(line)["id"] for line in listed.stdout.splitlines()) == sorted([rule["id"], made["id"]])
    assert cli(d, rules_topic, "delete", "--owner", "dave", rule["id"]).returncode == 1
    assert cli(d, rules_topic, "delete", "--owner", "carol", rule["id"]).returncode == 0
    # The API's reader tails the topic: it sees another process's delete shortly.
    wait_for(lambda: call(api, "GET", "/v1/alert-rules", "carol") == (200, {"rules": [made]}), 30,
             "the API to see the CLI's delete")
