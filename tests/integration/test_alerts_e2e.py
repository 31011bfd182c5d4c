"""Alerts and domain events end to end on the real stack (docs/alerts-design.md): anvil -> bridge
-> Kafka -> worker (MARKET_DATA=1, events on) -> `pads.market-events` -> the notifier -> an HTTP
receiver in this test, with rules made through the HTTP API.

One stack for the module, the tests in file order: rules fire on chain trades, signed, and an
`on: final` rule only once the trade is final; duplicate raw logs leave one event per id; a
reorg retracts a provisional alert and keeps a final rule quiet; kill -9 of the worker and a
replay deliver nothing twice and regenerate the same event ids.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from pads_stream.alerts.fields import eth_text
from stack.process import ROOT, Service

from . import oracle
from .api_stack import Api, start_api
from .conftest import Deployment, checkpoint_block, new_deployment, wait_for
from .test_alert_rules import call, records
from .test_notify import Notifier, Receiver
from .test_pipeline import assert_exact

OWNER = "alice"
DOMAIN = ("token_created", "graduated", "curve_milestone", "new_ath", "large_trade")
Event = dict[str, Any]


@dataclass
class Stack:
    d: Deployment
    api: Api
    notifier: Notifier
    hook: Receiver
    worker: Service
    secrets: dict[str, str]  # rule id -> its webhook secret

    @property
    def topic(self) -> str:
        return self.d.env["MARKET_EVENTS_TOPIC"]

    def rule(self, body: dict[str, Any]) -> str:
        """A rule made through the API, with a webhook to the receiver and a secret of its own."""
        secret = f"whsec-e2e-{len(self.secrets):02d}-" + "s" * 16
        status, made = call(self.api, "POST", "/v1/alert-rules", OWNER,
                            {**body, "webhook": {"url": self.hook.url, "secret": secret}})
        assert status == 201, made
        self.secrets[made["id"]] = secret
        return str(made["id"])

    def deliveries(self, rule_id: str | None = None) -> list[tuple[float, dict[str, str], Event]]:
        """What the receiver accepted (optionally for one rule), each checked: the signature by
        our own HMAC with the rule's secret, the id header against the body's id."""
        out = []
        for at, headers, raw in self.hook.accepted():
            body = json.loads(raw)
            rid = body["data"]["rule_id"]
            assert headers["Content-Type"] == "application/json"
            assert headers["X-Pads-Event-Id"] == body["id"], (headers, body)
            assert signature_ok(headers["X-Pads-Signature"], raw, self.secrets[rid]), headers
            if rule_id is None or rid == rule_id:
                out.append((at, headers, body))
        return out

    def events(self) -> list[tuple[int, Event]]:
        """The events topic from the beginning: (partition, event), in order per partition."""
        return [(p, json.loads(v)) for p, _, v in records(self.d, self.topic) if v is not None]


def signature_ok(header: str, body: bytes, secret: str) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(parts["v1"], expected) and abs(time.time() - int(parts["t"])) < 300


def documented_ids(type_: str, chain_id: int, token: str, block_hash: str, log_index: int, extra: str,
                   stage: str) -> tuple[str, str]:
    """(id, ref) as docs/alerts-design.md defines them, computed here independently."""
    cause = f"{type_}|{chain_id}|{token}|{block_hash}|{log_index}|{extra}"
    return (hashlib.sha256(f"{cause}|{stage}".encode()).hexdigest()[:32],
            hashlib.sha256(cause.encode()).hexdigest()[:32])


def block_hash(d: Deployment, number: int) -> str:
    h = d.pad.w3.eth.get_block(number)["hash"].hex()
    return h if h.startswith("0x") else "0x" + h


def trades_of(d: Deployment, token: str) -> list[oracle.ChainTrade]:
    return [t for t in oracle.chain_trades(d.pad.w3, d.env["BONDING_CURVE_FACTORY_ADDRESS"]) if t.token == token]


def mine(d: Deployment, blocks: int) -> None:
    for _ in range(blocks):
        d.pad.mine()


def bridged(d: Deployment) -> None:
    """Wait until the bridge's checkpoint has the chain's head, then for the worker to fold it."""
    head = d.pad.head()
    wait_for(lambda: checkpoint_block(Path(d.env["BRIDGE_STATE_FILE"])) >= head, 30, f"the bridge to reach {head}")
    time.sleep(2.0)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, kafka: str, redis_server: str, backend: Service) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("alerts-e2e")
    with new_deployment("alerts-e2e", work, kafka, redis_server, backend) as d:
        d.env.update(MARKET_DATA="1", MARKET_EVENTS_TOPIC=f"{d.name}.market-events",
                     ALERT_RULES_TOPIC=f"{d.name}.alert-rules", DATA_DIR=str(work / "worker-data"))
        hook = Receiver().start()
        try:
            d.start_bridge()
            worker = d.start_worker()
            api = start_api(d)
            notifier = Notifier({
                "KAFKA_BOOTSTRAP_SERVERS": kafka, "REDIS_URL": redis_server, "CHAIN_ID": str(d.chain_id),
                "MARKET_EVENTS_TOPIC": d.env["MARKET_EVENTS_TOPIC"], "ALERT_RULES_TOPIC": d.env["ALERT_RULES_TOPIC"],
                "DEAD_LETTER_TOPIC": f"{d.name}.notify-dead-letters", "NOTIFY_GROUP": f"{d.name}-notify",
                "TOPIC_PARTITIONS": d.env["TOPIC_PARTITIONS"], "WEBHOOK_TIMEOUT_MS": "2000",
                "WEBHOOK_RETRY_BASE_MS": "100", "WEBHOOK_RETRY_CAP_MS": "500", "LOG_LEVEL": "INFO",
                "KAFKA_SESSION_TIMEOUT_S": "8"}, work)
            d.procs.append(notifier.start())
            yield Stack(d, api, notifier, hook, worker, {})
        finally:
            hook.stop()


def test_rules_made_through_the_api_fire_on_chain_trades_signed(stack: Stack) -> None:
    s, d = stack, stack.d
    traders = d.pad.accounts[1:4]
    curve = d.pad.create_curve("Alpha", "ALP")
    d.pad.buy(curve, traders[0], 10**17)
    (first,) = trades_of(d, curve.token)
    # A level between the first trade's price and the next buy's (2 ETH moves the price ~7 %).
    level = oracle.fmt(Fraction(first.eth_amount, first.token_amount) * Fraction(101, 100))
    large = s.rule({"type": "large_trade", "token": curve.token, "value": "1"})
    above = s.rule({"type": "price_above", "token": curve.token, "value": level})
    final = s.rule({"type": "large_trade", "token": curve.token, "value": "1", "on": "final"})
    d.pad.buy(curve, traders[1], 2 * 10**18)
    second = trades_of(d, curve.token)[-1]
    price = Fraction(second.eth_amount, second.token_amount)
    assert price >= Fraction(level), "the second trade must cross the level"
    where: dict[str, Any] = {"token": curve.token, "block_number": second.block, "log_index": second.log_index,
             "block_hash": block_hash(d, second.block), "block_timestamp": second.ts, "chain_id": d.chain_id}

    wait_for(lambda: s.deliveries(large) and s.deliveries(above), 60, "the provisional alerts at the receiver")
    for rule_id, rule_type, value, observed in ((large, "large_trade", "1", eth_text(second.eth_amount)),
                                                (above, "price_above", level, oracle.fmt(price))):
        ((_, _, alert),) = s.deliveries(rule_id)
        assert alert["type"] == "alert" and alert["final"] is False
        assert {k: alert[k] for k in where} == where
        assert alert["data"]["rule_id"] == rule_id and alert["data"]["owner"] == OWNER
        assert alert["data"]["rule_type"] == rule_type and alert["data"]["value"] == value
        assert alert["data"]["observed"] == observed
        assert (alert["id"], alert["ref"]) == documented_ids("alert", d.chain_id, curve.token, where["block_hash"],
                                                            second.log_index, rule_id, "p")

    # The final rule: nothing while the trade is 4 blocks deep, its alert once it is FINALITY_DEPTH deep.
    depth = int(d.env["FINALITY_DEPTH"])
    mine(d, depth - 1)
    bridged(d)
    assert s.deliveries(final) == []
    assert not [e for _, e in s.events() if e["final"] and e["block_number"] == second.block]
    mined = time.time()
    mine(d, 1)
    wait_for(lambda: s.deliveries(final), 30, "the final rule's alert")
    ((at, _, alert),) = s.deliveries(final)
    assert at >= mined and alert["final"] is True and alert["type"] == "alert"
    assert {k: alert[k] for k in where} == where and alert["data"]["observed"] == eth_text(second.eth_amount)
    assert alert["id"] == documented_ids("alert", d.chain_id, curve.token, where["block_hash"], second.log_index,
                                         final, "f")[0]
    assert len(s.deliveries(large)) == len(s.deliveries(above)) == 1  # a provisional alert is not sent again


def test_duplicate_raw_logs_leave_one_event_per_id_with_the_documented_fields(stack: Stack) -> None:
    s, d = stack, stack.d
    # A second bridge with its own (empty) checkpoint re-publishes the whole history.
    second = d.dir / "second-checkpoint.json"
    again = d.start_bridge("bridge-again", BRIDGE_STATE_FILE=str(second))
    head = d.pad.head()
    wait_for(lambda: checkpoint_block(second) >= head, 60, "the second bridge to republish everything")
    again.stop()
    time.sleep(3)
    events = [e for _, e in s.events()]
    twice = {i: n for i, n in Counter(e["id"] for e in events).items() if n > 1}
    assert not twice, f"ids on the topic more than once: {twice}"

    curve_created = d.pad.w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "topics": [oracle.CREATED]})[0]
    token = "0x" + curve_created["topics"][1].hex()[-40:]
    curve = "0x" + curve_created["topics"][2].hex()[-40:]
    created = [e for e in events if e["type"] == "token_created" and e["token"] == token]
    assert sorted(e["final"] for e in created) == [False, True]
    for e in created:
        assert e["data"] == {"name": "Alpha", "symbol": "ALP", "creator": d.pad.deployer.lower(), "curve": curve}
        assert e["block_number"] == curve_created["blockNumber"] and e["log_index"] == curve_created["logIndex"]
        assert (e["id"], e["ref"]) == documented_ids("token_created", d.chain_id, token, e["block_hash"],
                                                    e["log_index"], "", "f" if e["final"] else "p")
    big = [t for t in trades_of(d, token) if t.eth_amount >= 10**18]  # LARGE_TRADE_ETH is 1 by default
    assert len(big) == 1
    (t,) = big
    large = [e for e in events if e["type"] == "large_trade" and e["token"] == token]
    assert sorted(e["final"] for e in large) == [False, True] and large[0]["ref"] == large[1]["ref"]
    for e in large:
        assert e["data"] == {"eth_amount": str(t.eth_amount), "token_amount": str(t.token_amount), "is_buy": True,
                             "trader": t.trader, "price": oracle.fmt(Fraction(t.eth_amount, t.token_amount))}
        assert (e["block_number"], e["log_index"], e["block_timestamp"]) == (t.block, t.log_index, t.ts)
        assert e["tx_hash"].startswith("0x") and len(e["tx_hash"]) == 66
        assert (e["id"], e["ref"]) == documented_ids("large_trade", d.chain_id, token, block_hash(d, t.block),
                                                    t.log_index, "", "f" if e["final"] else "p")


def test_a_reorg_retracts_a_provisional_alert_and_a_final_rule_stays_quiet(stack: Stack) -> None:
    s, d = stack, stack.d
    traders = d.pad.accounts[4:8]
    curve = d.pad.create_curve("Beta", "BET")
    d.pad.buy(curve, traders[0], 10**16)
    provisional = s.rule({"type": "large_trade", "token": curve.token, "value": "1"})
    final = s.rule({"type": "large_trade", "token": curve.token, "value": "1", "on": "final"})
    d.pad.buy(curve, traders[1], 15 * 10**17)
    orphan = trades_of(d, curve.token)[-1]
    orphan_hash = block_hash(d, orphan.block)
    wait_for(lambda: s.deliveries(provisional), 60, "the provisional alert")
    ((_, _, alert),) = s.deliveries(provisional)
    assert alert["block_hash"] == orphan_hash and alert["final"] is False

    # The block with the trade is replaced by one where another trader buys 1.2 ETH.
    tx = {"from": traders[2], "to": d.pad.w3.to_checksum_address(curve.curve), "value": hex(12 * 10**17),
          "data": d.pad.curve(curve.curve).encode_abi("buy", [0]), "gas": hex(300_000)}
    d.pad.rpc("anvil_reorg", [1, [[tx, 0]]])
    replacement = trades_of(d, curve.token)[-1]
    new_hash = block_hash(d, replacement.block)
    assert replacement.block == orphan.block and new_hash != orphan_hash and replacement.trader == traders[2].lower()

    def retracted() -> list[Event]:
        return [b for _, _, b in s.deliveries(provisional) if b["type"] == "alert_retracted"]

    wait_for(retracted, 60, "the retraction")
    (retraction,) = retracted()
    assert retraction["data"]["retracts"] == alert["id"] and retraction["data"]["rule_id"] == provisional
    assert retraction["block_hash"] == orphan_hash and retraction["ref"] == alert["ref"]
    wait_for(lambda: len(s.deliveries(provisional)) == 3, 30, "the alert of the replacing trade")
    kinds = [(b["type"], b["block_hash"]) for _, _, b in s.deliveries(provisional)]
    assert kinds == [("alert", orphan_hash), ("alert_retracted", orphan_hash), ("alert", new_hash)]

    mine(d, int(d.env["FINALITY_DEPTH"]))
    wait_for(lambda: s.deliveries(final), 30, "the final rule's alert of the replacing trade")
    bridged(d)
    ((_, _, alert),) = s.deliveries(final)  # one, for the trade that stayed
    assert alert["final"] is True and alert["block_hash"] == new_hash
    assert alert["data"]["observed"] == eth_text(replacement.eth_amount)
    events = [e for _, e in s.events() if e["token"] == curve.token]
    assert not [e for e in events if e["block_hash"] == orphan_hash and e["final"]]
    (correction,) = [e for e in events if e["type"] == "reorg_correction"]
    assert correction["data"] == {"removed_block": orphan.block, "removed_block_hash": orphan_hash}


def test_kill_minus_nine_and_a_replay_deliver_each_alert_once_and_regenerate_the_ids(stack: Stack) -> None:
    s, d = stack, stack.d
    every = s.rule({"type": "large_trade", "value": "0.25"})  # every token
    curves = [d.pad.create_curve(f"K{i}", f"K{i}") for i in range(3)]
    traders = d.pad.accounts[8:14]
    made: list[int] = []

    def trade() -> None:  # one buy a block, paced so the kill lands while trades still come
        for i in range(30):
            d.pad.buy(curves[i % 3], traders[i % len(traders)], (3 if i % 4 == 1 else 1) * 10**17)
            made.append(i)
            time.sleep(0.15)

    flow = threading.Thread(target=trade)
    flow.start()
    wait_for(lambda: s.deliveries(every), 30, "the first alert of the stream")
    os.killpg(s.worker.proc.pid, signal.SIGKILL)  # kill -9, mid-stream
    s.worker.proc.wait(30)
    assert flow.is_alive() and len(made) < 30, f"the flow ended ({len(made)} trades) before the kill"
    s.worker = d.start_worker("worker-after-kill")
    flow.join(120)
    mine(d, int(d.env["FINALITY_DEPTH"]) + 1)
    mine_tokens = {c.token for c in curves}
    big = [t for t in oracle.chain_trades(d.pad.w3, d.env["BONDING_CURVE_FACTORY_ADDRESS"])
           if t.token in mine_tokens and t.eth_amount >= 25 * 10**16]
    assert len(big) == 8 and len({t.token for t in big}) == 3
    wait_for(lambda: len(s.deliveries(every)) >= len(big), 60, "an alert for each large trade")
    assert_exact(d, timeout=60)

    def settled() -> list[Event]:
        """Every provisional domain event on the chain has its final form on the topic."""
        events = [e for _, e in s.events()]
        finals = {e["ref"] for e in events if e["final"]}
        return [] if [e for e in events if e["type"] in DOMAIN and e["ref"] not in finals
                      and e["block_hash"] == block_hash(d, e["block_number"])] else events

    before = wait_for(settled, 60, "every domain event to be final on the topic")
    s.worker.stop()
    env = {**os.environ, **d.env}
    out = subprocess.run([sys.executable, "-m", "pads_stream", "replay", "--yes", "--timeout", "240"], env=env,
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    after = [e for _, e in s.events()]
    print(f"events before the replay: {len(before)} ({len(ids_before := {e['id'] for e in before})} ids), "
          f"after: {len(after)}; alerts delivered: {len(s.hook.accepted())}")
    # The replay appended every id of the live run again, and no other.
    replayed = Counter(e["id"] for e in after) - Counter(e["id"] for e in before)
    assert set(replayed) == ids_before, (f"ids only before: {len(ids_before - set(replayed))}, "
                                          f"only after: {len(set(replayed) - ids_before)}")

    # The notifier read the replayed alerts and sent none of them again.
    alerts = [e for e in after if e["type"] in ("alert", "alert_retracted")]
    wait_for(lambda: s.notifier.count("fired") + s.notifier.count("retracted") == len(alerts), 60,
             "the notifier to read every alert event")
    time.sleep(1.5)
    sent = Counter(h["X-Pads-Event-Id"] for _, h, _ in s.deliveries())
    assert max(sent.values()) == 1, {i: n for i, n in sent.items() if n > 1}
    assert set(sent) == {e["id"] for e in alerts}
    assert {b["id"] for _, _, b in s.deliveries(every)} == {
        documented_ids("alert", d.chain_id, t.token, block_hash(d, t.block), t.log_index, every, "p")[0] for t in big}
