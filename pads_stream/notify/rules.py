"""Where the notifier finds a rule's webhook: the `RuleLookup` protocol, and `StoreRules`, the
notifier's read-only view of `alerts.store.RuleStore` (the one reader of the compacted
`pads.alert-rules` topic: key = rule id, value = the rule JSON with `"webhook": {"url",
"secret"}`, null = deleted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..alerts.rules import Rule
from ..alerts.store import RuleStore
from ..kafka_security import KafkaSecurity


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


def webhook_of(rule: Rule | Mapping[str, Any]) -> Webhook | None:
    """A rule's webhook, from a `Rule` or from the topic's JSON (a dict); None without an
    http(s) URL."""
    if isinstance(rule, Rule):
        url: object = rule.webhook_url
        secret: object = rule.webhook_secret
    else:
        hook = rule.get("webhook")
        if not isinstance(hook, Mapping):
            return None
        url, secret = hook.get("url"), hook.get("secret")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    return Webhook(url, secret if isinstance(secret, str) else "")


class StoreRules:
    """A RuleStore without a raw-log topic (it never starts a producer, so the notifier needs no
    write access to the rules), each rule reduced to its webhook."""

    def __init__(self, store: RuleStore) -> None:
        self.store = store

    @classmethod
    def reading(cls, bootstrap: str, security: KafkaSecurity, topic: str) -> StoreRules:
        return cls(RuleStore(bootstrap, security, topic))

    def get(self, rule_id: str) -> Webhook | None:
        rule = self.store.get(rule_id)
        return None if rule is None else webhook_of(rule)

    async def start(self) -> None:
        await self.store.start()

    async def stop(self) -> None:
        await self.store.stop()

    async def wait_caught_up(self) -> None:
        await self.store.wait_caught_up()
