"""Kafka plumbing for the operator commands: offsets, reading a topic whole, the consumer
group's members and committed offsets, and recreating a topic.

Topic metadata is always read for *all* topics: a metadata request naming a topic makes a
broker with auto.create.topics.enable create it, which must not happen to a changelog that
was just deleted or to a mistyped RAW_LOG_TOPIC.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from ..kafka_security import KafkaSecurity, refusal
from . import OpsError

UNKNOWN_TOPIC = 3


def group_id(app_id: str) -> str:
    """The consumer group and changelog prefix Faust derives from the app id: the id itself
    for App(version=1), the default and what the worker uses (faust Settings._prepare_id)."""
    from faust.types.settings import Settings

    return str(Settings(app_id).id)


@asynccontextmanager
async def admin(bootstrap: str, security: KafkaSecurity) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000, **security.aiokafka_kwargs())
    try:
        await client.start()
    except KafkaError as exc:
        # A refused login looks like a broker that is away; say which it is.
        raise (await refusal(bootstrap, security)
               or OpsError(f"KAFKA_BOOTSTRAP_SERVERS: cannot reach {bootstrap}: {exc!r}")) from None
    try:
        yield client
    finally:
        await client.close()


@asynccontextmanager
async def consumer(bootstrap: str, security: KafkaSecurity, group: str | None = None) -> AsyncIterator[AIOKafkaConsumer]:
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                         auto_offset_reset="earliest", **security.aiokafka_kwargs())
    try:
        try:
            await c.start()  # inside: a start that fails (Kafka away) closes the client too
        except KafkaError:
            refused = await refusal(bootstrap, security)
            if refused is not None:
                raise refused from None
            raise
        yield c
    finally:
        await c.stop()


async def topic_partitions(client: AIOKafkaAdminClient) -> dict[str, int]:
    return {t["topic"]: len(t["partitions"]) for t in await client.describe_topics(None)
            if t["error_code"] != UNKNOWN_TOPIC}


async def partitions_of(client: AIOKafkaAdminClient, topics: list[str]) -> list[TopicPartition]:
    known = await topic_partitions(client)
    missing = [t for t in topics if t not in known]
    if missing:
        raise OpsError(f"topics {missing} do not exist on the broker (check RAW_LOG_TOPIC "
                       "and KAFKA_BOOTSTRAP_SERVERS)")
    return [TopicPartition(t, p) for t in topics for p in range(known[t])]


async def offsets(c: AIOKafkaConsumer, tps: list[TopicPartition]) -> tuple[dict[TopicPartition, int],
                                                                             dict[TopicPartition, int]]:
    """(beginning, end) offsets."""
    return await c.beginning_offsets(tps), await c.end_offsets(tps)


async def read_all(c: AIOKafkaConsumer, tps: list[TopicPartition],
                   end: dict[TopicPartition, int]) -> AsyncIterator[tuple[TopicPartition, bytes]]:
    """Every message from the beginning up to `end` (exclusive), partition order preserved."""
    c.assign(tps)
    await c.seek_to_beginning(*tps)
    todo = {tp for tp in tps if await c.position(tp) < end[tp]}
    c.pause(*(set(tps) - todo))
    while todo:
        batches = await c.getmany(*todo, timeout_ms=1000, max_records=5000)
        for tp, records in batches.items():
            for rec in records:
                if rec.offset < end[tp] and rec.value is not None:
                    yield tp, rec.value
        for tp in list(todo):
            if await c.position(tp) >= end[tp]:
                todo.discard(tp)
                c.pause(tp)


async def group_members(client: AIOKafkaAdminClient, group: str) -> list[str]:
    """'client_id@host (member_id)' for each active member of the group."""
    out = []
    for response in await client.describe_consumer_groups([group]):
        for g in response.groups:
            _error, name, _state, _ptype, _proto, members = g[:6]
            if name == group:
                out += [f"{m[1]}@{m[2].lstrip('/')} ({m[0]})" for m in members]
    return out


async def committed(client: AIOKafkaAdminClient, group: str,
                    tps: list[TopicPartition]) -> dict[TopicPartition, int]:
    """The group's committed offsets; -1 where it has none."""
    got = await client.list_consumer_group_offsets(group, partitions=tps)
    return {tp: (got[tp].offset if tp in got else -1) for tp in tps}


async def commit(bootstrap: str, security: KafkaSecurity, group: str, offsets: dict[TopicPartition, int]) -> None:
    # assign() never joins the group, so this commits as a "simple" consumer: the broker
    # accepts it only while the group has no members, which is what replay wants.
    async with consumer(bootstrap, security, group) as c:
        c.assign(list(offsets))
        await c.commit(offsets)


async def delete_topic(client: AIOKafkaAdminClient, name: str, timeout_s: float) -> bool:
    """Delete a topic and wait until the broker no longer lists it; False if it did not exist."""
    if name not in await topic_partitions(client):
        return False
    await client.delete_topics([name])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while name in await topic_partitions(client):
        if loop.time() > deadline:
            raise OpsError(f"topic {name} still exists {timeout_s:.0f}s after deleting it")
        await asyncio.sleep(0.2)
    return True
