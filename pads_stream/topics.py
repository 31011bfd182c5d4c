"""Topic provisioning shared by the bridge and the worker.

Source topics, repartitioned topics and table changelogs must have the same partition count,
or a token's state and its logs land on different partitions. Topics are created before any
consumer subscribes (a topic created during the first rebalance is ignored by it), and an
existing topic with another count stops start-up with the fix in the message.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from .errors import ConfigError
from .kafka_security import KafkaSecurity, refusal

log = logging.getLogger(__name__)

# A hot token's table value holds its non-final trades; Kafka's default limit of 1 MB is
# reached at about 5,000 of them (seen at 1,000 trades/s over 100 tokens, FINALITY_DEPTH 30).
MAX_STATE_BYTES = 16 << 20


# The raw-log topic is the source of truth `replay` and `check` rebuild from: it keeps every log.
# Apache Kafka's default deletes them after 7 days, after which a replay rebuilds a partial
# history without knowing it.
FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}


def retention_problems(name: str, configs: dict[str, str]) -> list[str]:
    """What makes `name` lose logs, as the fix to apply (pure)."""
    out = []
    ms, size = configs.get("retention.ms", "-1"), configs.get("retention.bytes", "-1")
    if ms != "-1":
        days = int(ms) / 86_400_000 if ms.lstrip("-").isdigit() else float("nan")
        out.append(f"topic {name} deletes logs after {days:g} days (retention.ms={ms}): a replay or check after "
                   f"that rebuilds a partial history; keep them with `kafka-configs.sh --alter --entity-type "
                   f"topics --entity-name {name} --add-config retention.ms=-1`")
    if size != "-1":
        out.append(f"topic {name} deletes logs past {size} bytes per partition (retention.bytes={size}): set "
                   "retention.bytes=-1")
    return out


def partition_problems(existing: dict[str, int], wanted: int) -> list[str]:
    return [f"topic {name} has {count} partitions, TOPIC_PARTITIONS is {wanted}"
            for name, count in sorted(existing.items()) if count != wanted]


# Every record of the raw-log and dead-letter topics fits: an EVM log's data is bounded by the
# block gas limit (about 4 MB at 30 M gas), and a dead letter carries at most DEAD_LETTER_VALUE_MAX
# of the original. Kafka's default of 1 MB refused a 2-MB log: the bridge retried it forever,
# and a worker dead-lettering one failed on the dead letter, again on every redelivery.
LARGE = {"max.message.bytes": str(MAX_STATE_BYTES)}


async def ensure_topics(bootstrap: str, security: KafkaSecurity, names: list[str], partitions: int, replication: int,
                        timeout_s: float = 30.0, compacted: tuple[str, ...] = (),
                        forever: tuple[str, ...] = (), large: tuple[str, ...] = ()) -> list[str]:
    """Create what is missing (`compacted` ones compacted, `forever` ones keeping every record,
    `large` ones taking records up to MAX_STATE_BYTES); returns the problems of existing
    `forever` topics that delete records (also logged)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000),
                                **security.aiokafka_kwargs())
    try:
        await admin.start()
    except KafkaError:
        # Refused credentials look like a broker that is away; waiting will not change them.
        refused = await refusal(bootstrap, security)
        if refused is not None:
            raise refused from None
        raise
    try:
        present = set(await admin.list_topics())
        missing = [n for n in names if n not in present]
        for name in missing:
            try:
                configs = ({"cleanup.policy": "compact", **LARGE} if name in compacted
                           else dict(FOREVER) if name in forever else {})
                if name in large:
                    configs.update(LARGE)
                await admin.create_topics([NewTopic(name, partitions, replication, topic_configs=configs)])
                log.info("created topic %s with %d partitions", name, partitions)
            except TopicAlreadyExistsError:
                pass
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            described = await admin.describe_topics(names)
            counts = {d["topic"]: len(d["partitions"]) for d in described if not d["error_code"]}
            if len(counts) == len(names) or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.1)
        retention = []
        for name in forever:
            if name in counts:
                retention += retention_problems(name, await topic_configs(admin, name))
    finally:
        await admin.close()
    for problem in retention:
        log.error("%s", problem)
    absent = sorted(set(names) - set(counts))
    if absent:
        raise ConfigError(f"KAFKA_BOOTSTRAP_SERVERS: topics {absent} still missing after {timeout_s:.0f}s")
    problems = partition_problems(counts, partitions)
    if problems:
        raise ConfigError("; ".join(problems) + ": partition counts must match (recreate the topics or "
                          "set TOPIC_PARTITIONS to the existing count)")
    return retention


async def topic_configs(admin: AIOKafkaAdminClient, name: str) -> dict[str, str]:
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    out: dict[str, str] = {}
    for response in responses:
        for resource in response.resources:
            if resource[3] == name and not resource[0]:
                out.update((entry[0], entry[1]) for entry in resource[4])
    return out


def ensure_topics_blocking(*args: object, **kwargs: object) -> list[str]:
    """For start-up hooks that run before the worker's event loop: run in a private loop."""
    error: list[BaseException] = []
    result: list[str] = []

    def target() -> None:
        try:
            result.extend(asyncio.run(ensure_topics(*args, **kwargs)))  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            error.append(exc)

    t = threading.Thread(target=target, name="ensure-topics")
    t.start()
    t.join()
    if error:
        raise error[0]
    return result


async def ensure_rule_topics(bootstrap: str, security: KafkaSecurity, raw_log_topic: str, rules_topic: str,
                             partitions: int, replication: int) -> None:
    """What writing an alert rule needs: the raw-log topic as the bridge creates it (every record
    kept, large ones taken) and the compacted rules topic (one value per rule id)."""
    await ensure_topics(bootstrap, security, [raw_log_topic, rules_topic], partitions, replication,
                        compacted=(rules_topic,), forever=(raw_log_topic,), large=(raw_log_topic,))
