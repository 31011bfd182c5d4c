"""Where the integration tests get their real services from, in this order: an explicit
KAFKA_BOOTSTRAP_SERVERS / REDIS_URL, testcontainers when a Docker engine answers, else local
processes started by `stack/` (Kafka from Maven jars, Debian's redis-server)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stack import kafka as local_kafka
from stack import redis as local_redis


def docker_engine_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextmanager
def kafka_bootstrap(workdir: Path) -> Iterator[str]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    elif docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("confluentinc/cp-kafka:7.6.1").with_kraft() as k:
            yield k.get_bootstrap_server()
    else:
        svc = local_kafka.start(workdir / "kafka")
        try:
            yield svc.urls["KAFKA_BOOTSTRAP_SERVERS"]
        finally:
            svc.stop()


@contextmanager
def redis_url(workdir: Path) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
    elif docker_engine_answers():
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7-alpine") as r:
            yield f"redis://{r.get_container_host_ip()}:{r.get_exposed_port(6379)}/0"
    else:
        svc = local_redis.start(workdir / "redis")
        try:
            yield svc.urls["REDIS_URL"]
        finally:
            svc.stop()
