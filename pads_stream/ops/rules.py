"""`python -m pads_stream rules add | list | delete`: alert rules from the command line, through the
same validation (parse_rule) and the same RuleStore as the API."""

from __future__ import annotations

import argparse
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from aiokafka.errors import KafkaError

from ..alerts import RuleError
from ..alerts.rules import new_rule_id, parse_rule
from ..alerts.store import RuleStore
from ..settings import WorkerSettings
from ..topics import ensure_rule_topics
from . import OpsError


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    r = sub.add_parser("rules", help="add, list or delete alert rules (ALERT_RULES_TOPIC and the raw-log topic)",
                       description="Alert rules as the API's /v1/alert-rules manages them. Exit 2 on a rule that "
                                   "is not valid (the message names the field), 1 when the rule is not found.")
    rs = r.add_subparsers(dest="rules_command", required=True)
    a = rs.add_parser("add", help="validate and publish a rule; prints it (secret as ***)")
    a.add_argument("--owner", required=True, help="the user the rule belongs to (as X-Pads-User)")
    a.add_argument("--json", required=True, dest="body", help='the rule, e.g. \'{"type":"graduated"}\'')
    ls = rs.add_parser("list", help="the owner's rules, one JSON line each (secret as ***)")
    ls.add_argument("--owner", required=True)
    d = rs.add_parser("delete", help="delete one of the owner's rules")
    d.add_argument("--owner", required=True)
    d.add_argument("rule_id", metavar="ID")


@asynccontextmanager
async def rule_store(s: WorkerSettings) -> AsyncIterator[RuleStore]:
    try:
        await ensure_rule_topics(s.kafka_bootstrap_servers, s.kafka_security, s.raw_log_topic, s.alert_rules_topic,
                                 s.topic_partitions, s.topic_replication)
    except KafkaError as exc:
        raise OpsError(f"KAFKA_BOOTSTRAP_SERVERS: cannot reach {s.kafka_bootstrap_servers}: {exc!r}") from None
    async with RuleStore(s.kafka_bootstrap_servers, s.kafka_security, s.alert_rules_topic,
                         raw_log_topic=s.raw_log_topic, chain_id=s.chain_id) as store:
        await store.wait_caught_up()
        yield store


async def run_rules(args: argparse.Namespace, s: WorkerSettings) -> int:
    if args.rules_command == "add":
        try:
            body = orjson.loads(args.body)
        except orjson.JSONDecodeError as exc:
            raise RuleError(f"--json: not JSON ({exc})", "json") from None
        if not isinstance(body, dict):
            raise RuleError("--json: expected a JSON object (the rule)", "json")
        # Checked before Kafka is asked anything.
        rule = parse_rule(body, owner=args.owner, rule_id=new_rule_id(), created_at=int(time.time()),
                          windows=s.market_windows)
    async with rule_store(s) as store:
        if args.rules_command == "add":
            await store.put(rule)
            print(orjson.dumps(rule.public(secret_hidden=True)).decode())
        elif args.rules_command == "list":
            for r in store.by_owner(args.owner):
                print(orjson.dumps(r.public(secret_hidden=True)).decode())
        else:
            found = store.get(args.rule_id)
            if found is None or found.owner != args.owner:
                raise OpsError(f"no rule {args.rule_id!r} of {args.owner}")
            await store.delete(args.rule_id)
            print(f"deleted {args.rule_id}")
    return 0
