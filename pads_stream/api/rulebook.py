"""The API's alert-rule store: started on the first rule request, so the candles, tokens and
UDF endpoints never need Kafka, and an API without KAFKA_BOOTSTRAP_SERVERS answers 503 on the
rule endpoints only."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.errors import KafkaError

from ..alerts.store import RuleStore, RulesUnavailable
from ..errors import ConfigError
from ..topics import ensure_rule_topics
from .errors import Unavailable
from .settings import ApiSettings

log = logging.getLogger(__name__)
NOT_CONFIGURED = ("alert rules need Kafka: KAFKA_BOOTSTRAP_SERVERS is not set on this API (with RAW_LOG_TOPIC, "
                  "ALERT_RULES_TOPIC and TOPIC_PARTITIONS as the worker's)")


class Rulebook:
    def __init__(self, settings: ApiSettings, store: RuleStore | None = None) -> None:
        self.settings = settings
        self._store = store
        self._lock = asyncio.Lock()

    async def store(self) -> RuleStore:
        """The started store, caught up with the rules topic; Unavailable (503) when it cannot be."""
        if self._store is not None:
            return self._store
        s = self.settings
        if not s.rules_enabled:
            raise Unavailable(NOT_CONFIGURED)
        async with self._lock:
            if self._store is None:
                store = RuleStore(s.kafka_bootstrap_servers, s.kafka_security, s.alert_rules_topic,
                                  raw_log_topic=s.raw_log_topic, chain_id=s.chain_id)
                try:
                    await ensure_rule_topics(s.kafka_bootstrap_servers, s.kafka_security, s.raw_log_topic,
                                             s.alert_rules_topic, s.topic_partitions, s.topic_replication)
                    await store.start()
                    await store.wait_caught_up()
                except (ConfigError, RulesUnavailable, KafkaError, OSError) as exc:
                    await store.stop()
                    raise Unavailable(f"alert rules: {exc}") from None
                log.info("alert rules: reading %s (%d rules)", s.alert_rules_topic, len(store))
                self._store = store
            return self._store

    async def close(self) -> None:
        if self._store is not None:
            await self._store.stop()
            self._store = None
