"""`replay`: rebuild the table, the changelog and Redis from the raw-log topic.

Steps, each printed as it is done: refuse while the consumer group has members; reset the
group's raw-log offsets to the beginning; delete and recreate the compacted changelog;
delete the local table state; delete the Redis namespace; run one worker until it has
caught up with the raw-log end offsets taken at start; print the checksum.
"""

from __future__ import annotations

import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from ..mirror.keys import epoch_key
from ..redact import redact
from ..settings import WorkerSettings
from ..topics import ensure_topics
from . import OpsError, kafka
from .checksum import SCAN_COUNT
from .rebuild import rebuild

UNLINK_BATCH = 500
# The notifier's delivery state (pads_stream/notify/state.py): which alerts went out. A replay
# regenerates the same alert events with the same ids, and only these keys stop them from
# being sent to their webhooks a second time.
KEPT = "notify"


def replay_deletes(key: bytes, prefix: str) -> bool:
    """Whether `replay` deletes `key` of namespace `prefix` (pure)."""
    return key.startswith(f"{prefix}:".encode()) and not key.startswith(f"{prefix}:{KEPT}:".encode())


@dataclass
class Plan:
    s: WorkerSettings
    group: str
    changelog: str
    raw: list[TopicPartition]
    begin: dict[TopicPartition, int]
    end: dict[TopicPartition, int]

    @property
    def total(self) -> int:
        return sum(self.end[tp] - self.begin[tp] for tp in self.raw)

    def describe(self) -> str:
        s = self.s
        return "\n".join([
            f"replay of consumer group {self.group} on {s.kafka_bootstrap_servers} will:",
            f"  1. reset its offsets: {s.raw_log_topic} to the beginning ({self.total} messages to replay)",
            f"  2. delete and recreate topic {self.changelog} ({s.topic_partitions} partitions, compacted)",
            f"  3. delete the local table state in {', '.join(map(str, local_state_dirs(s.data_dir))) or s.data_dir}",
            f"  4. delete every Redis key {s.redis_prefix}:* on {redact(s.redis_url)}, except the notifier's "
            f"{s.redis_prefix}:{KEPT}:*",
            "  5. run one worker until it has caught up, then print the checksum",
            "Readers of that namespace see it empty, then filling up, until step 5 is done.",
        ])


def local_state_dirs(data_dir: str) -> list[Path]:
    """Faust keeps everything under `{datadir}/v{version}`; only those are removed, so a
    DATA_DIR pointing at a shared directory never loses anything else."""
    root = Path(data_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name[:1] == "v" and p.name[1:].isdigit())


async def inspect(s: WorkerSettings) -> Plan:
    group = kafka.group_id(s.app_id)
    async with kafka.admin(s.kafka_bootstrap_servers, s.kafka_security) as client:
        await refuse_if_active(client, group)
        raw = await kafka.partitions_of(client, [s.raw_log_topic])
    async with kafka.consumer(s.kafka_bootstrap_servers, s.kafka_security) as c:
        begin, end = await kafka.offsets(c, raw)
    return Plan(s, group, f"{group}-token-state-changelog", raw, begin, end)


async def refuse_if_active(client: AIOKafkaAdminClient, group: str) -> None:
    members = await kafka.group_members(client, group)
    if members:
        raise OpsError(f"consumer group {group} has {len(members)} active member(s); stop the workers first:\n  "
                       + "\n  ".join(members))


async def reset_offsets(p: Plan) -> None:
    async with kafka.admin(p.s.kafka_bootstrap_servers, p.s.kafka_security) as client:
        await refuse_if_active(client, p.group)  # again: a worker may have started since the prompt
        before = await kafka.committed(client, p.group, p.raw)
    target = {tp: p.begin[tp] for tp in p.raw}
    await kafka.commit(p.s.kafka_bootstrap_servers, p.s.kafka_security, p.group, target)
    was = sum(max(before[tp], 0) for tp in p.raw)
    print(f"offsets reset: {p.s.raw_log_topic} to its beginning ({len(p.raw)} partitions, "
          f"sum of offsets {was} -> {sum(target.values())})")


async def recreate_changelog(p: Plan) -> None:
    s = p.s
    async with kafka.admin(s.kafka_bootstrap_servers, s.kafka_security) as client:
        existed = await kafka.delete_topic(client, p.changelog, timeout_s=60)
    await ensure_topics(s.kafka_bootstrap_servers, s.kafka_security, [p.changelog], s.topic_partitions, s.topic_replication,
                        compacted=(p.changelog,))
    async with kafka.consumer(s.kafka_bootstrap_servers, s.kafka_security) as c:
        tps = [TopicPartition(p.changelog, i) for i in range(s.topic_partitions)]
        left = sum((await c.end_offsets(tps)).values())
    if left:
        raise OpsError(f"recreated {p.changelog} still holds {left} messages")
    print(f"topic {'deleted and recreated' if existed else 'created'}: {p.changelog} "
          f"({s.topic_partitions} partitions, cleanup.policy=compact, empty)")


def delete_local_state(data_dir: str) -> None:
    dirs = local_state_dirs(data_dir)
    for d in dirs:
        shutil.rmtree(d)
    print(f"local table state deleted: {', '.join(map(str, dirs))}" if dirs
          else f"local table state: nothing under {data_dir}")


async def delete_namespace(url: str, prefix: str) -> int:
    r = aioredis.from_url(url, decode_responses=False)
    deleted = 0
    try:
        batch: list[bytes] = []
        async for key in r.scan_iter(match=f"{prefix}:*", count=SCAN_COUNT):
            if not replay_deletes(key, prefix):
                continue
            batch.append(key)
            if len(batch) >= UNLINK_BATCH:
                deleted += await r.unlink(*batch)
                batch = []
        if batch:
            deleted += await r.unlink(*batch)
        # A new epoch: the rebuilding worker finds the namespace empty on purpose, with nothing
        # for its self-repair to do (it rebuilds everything anyway).
        await r.set(epoch_key(prefix), uuid.uuid4().hex)
    finally:
        await r.aclose()
    print(f"redis: {deleted} keys deleted under {prefix}:* (kept {prefix}:{KEPT}:*)")
    return deleted


def lost_history(p: Plan) -> list[str]:
    """Partitions whose first logs Kafka's retention deleted: a replay cannot rebuild them."""
    return [f"{tp.topic}[{tp.partition}] starts at offset {p.begin[tp]}" for tp in p.raw if p.begin[tp] > 0]


def confirm(p: Plan, yes: bool) -> None:
    print(p.describe())
    if yes:
        return
    if not sys.stdin.isatty():
        raise OpsError("stdin is not a terminal: pass --yes to confirm the replay")
    if input("Type 'yes' to go on: ").strip().lower() != "yes":
        raise OpsError("replay cancelled; nothing was changed")


async def run_replay(s: WorkerSettings, yes: bool, timeout_s: float, env: dict[str, str],
                     partial: bool = False) -> None:
    p = await inspect(s)
    lost = lost_history(p)
    if lost and not partial:
        raise OpsError("the raw-log topic no longer holds its first logs (" + "; ".join(lost) + "): deleted by "
                       "Kafka's retention, so a replay would rebuild a partial history and drop what Redis has "
                       "of the rest. Nothing was changed. Pass --partial to replay what is left anyway.")
    if lost:
        print("WARNING: replaying a partial history: " + "; ".join(lost), file=sys.stderr)
    confirm(p, yes)
    await reset_offsets(p)
    await recreate_changelog(p)
    delete_local_state(s.data_dir)
    await delete_namespace(s.redis_url, s.redis_prefix)
    await rebuild(s, p.group, p.raw, p.begin, p.end, timeout_s, env)
