"""Where the notifier finds a rule's webhook: the `RuleLookup` protocol, and `TopicRules`, a
minimal reader of the compacted `pads.alert-rules` topic (key = rule id, value = the rule JSON
with `"webhook": {"url", "secret"}`, null = deleted).

`TopicRules` is the only code that knows the topic; `alerts.store.RuleStore` can replace it
behind the same protocol (its `get` returns a Rule: wrap it with `webhook_of`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from aiokafka import AIOKafkaConsumer

from ..errors import ConfigError
from ..kafka_security import KafkaSecurity

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Webhook:
    url: str
    secret: str = ""

    def __repr__(self) -> str:  # never print the secret
        return f"Webhook(url={self.url!r}, secret='***')"


class RuleLookup(Protocol):
    def get(self, rule_id: str) -> Webhook | None:
        """The rule's webhook; None when the rule has none, or is not known (deleted)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...

    async def wait_caught_up(self) -> None:
        """Returns once every rule record written before the call has been read."""


def webhook_of(rule: Any) -> Webhook | None:
    """A rule's webhook, from the topic's JSON (a dict) or an object with `.webhook`."""
    hook = rule.get("webhook") if isinstance(rule, dict) else getattr(rule, "webhook", None)
    if hook is None:
        return None
    url = hook.get("url") if isinstance(hook, dict) else getattr(hook, "url", None)
    secret = hook.get("secret") if isinstance(hook, dict) else getattr(hook, "secret", None)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    return Webhook(url, secret if isinstance(secret, str) else "")


class TopicRules:
    """Reads the whole compacted topic, without a group, and follows it."""

    def __init__(self, bootstrap: str, security: KafkaSecurity, topic: str) -> None:
        self.topic = topic
        self._hooks: dict[str, Webhook] = {}
        self._consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, enable_auto_commit=False,
                                          auto_offset_reset="earliest", **security.aiokafka_kwargs())
        self._task: asyncio.Task[None] | None = None
        self._moved = asyncio.Event()

    def get(self, rule_id: str) -> Webhook | None:
        return self._hooks.get(rule_id)

    async def start(self) -> None:
        await self._consumer.start()
        # Subscribed without a group, the consumer is assigned every partition of the topic.
        for _ in range(300):
            if self._consumer.assignment():
                break
            await asyncio.sleep(0.1)
        else:
            raise ConfigError(f"ALERT_RULES_TOPIC: no partition of {self.topic} assigned in 30 s")
        self._task = asyncio.create_task(self._follow(), name="alert-rules reader")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()

    async def wait_caught_up(self) -> None:
        tps = list(self._consumer.assignment())
        if not tps:
            return
        end = await self._consumer.end_offsets(tps)
        while [tp for tp in tps if await self._consumer.position(tp) < end[tp]]:
            self._moved.clear()
            await self._moved.wait()

    async def _follow(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=500)
            for msgs in batch.values():
                for m in msgs:
                    self._apply(m.key, m.value)
            self._moved.set()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        rule_id = key.decode("utf-8", "replace")
        if value is None:
            self._hooks.pop(rule_id, None)
            return
        try:
            hook = webhook_of(orjson.loads(value))
        except orjson.JSONDecodeError:
            log.warning("alert-rules: rule %s is not JSON; ignored", rule_id)
            return
        if hook is None:
            self._hooks.pop(rule_id, None)
        else:
            self._hooks[rule_id] = hook
