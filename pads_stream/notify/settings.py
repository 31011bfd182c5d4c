"""Settings of `python -m pads_stream notify`, from the environment or `.env`.

CHAIN_ID, REDIS_URL, REDIS_NAMESPACE, DEAD_LETTER_TOPIC and the KAFKA_* settings mean what they
mean for the worker; MARKET_EVENTS_TOPIC and ALERT_RULES_TOPIC are CommonSettings' (the worker
produces the one, the API writes the other); the NOTIFY_* and WEBHOOK_* settings are the
notifier's own.
"""

from __future__ import annotations

from pydantic import Field, ValidationError, field_validator

from ..candles.intervals import parse_duration
from ..errors import ConfigError
from ..settings import CommonSettings, format_validation_error


class NotifySettings(CommonSettings):
    redis_url: str = Field("redis://127.0.0.1:6379/0", alias="REDIS_URL", pattern=r"^rediss?://")
    redis_namespace: str = Field("pads", alias="REDIS_NAMESPACE", pattern=r"^[A-Za-z0-9_.-]+$")
    dead_letter_topic: str = Field("pads.dead-letters", alias="DEAD_LETTER_TOPIC", min_length=1)
    notify_group: str = Field("pads-notify", alias="NOTIFY_GROUP", min_length=1)
    notify_host: str = Field("127.0.0.1", alias="NOTIFY_HOST", min_length=1)
    notify_port: int = Field(6069, alias="NOTIFY_PORT", ge=0, le=65535)
    webhook_timeout_ms: int = Field(3000, alias="WEBHOOK_TIMEOUT_MS", ge=1, le=600_000)
    # "24h", "90s": a duration like CANDLE_RETENTION's.
    webhook_retry_for: int = Field(86400, alias="WEBHOOK_RETRY_FOR")
    webhook_retry_base_ms: int = Field(1000, alias="WEBHOOK_RETRY_BASE_MS", ge=1)
    webhook_retry_cap_ms: int = Field(600_000, alias="WEBHOOK_RETRY_CAP_MS", ge=1)
    # Per endpoint (URL host): requests at once, and deliveries waiting for one of them. A slow
    # endpoint fills its own queue only; what does not fit waits in Redis, not in memory.
    webhook_concurrency: int = Field(4, alias="WEBHOOK_CONCURRENCY", ge=1, le=256)
    webhook_queue: int = Field(100, alias="WEBHOOK_QUEUE", ge=1, le=100_000)

    @field_validator("webhook_retry_for", mode="before")
    @classmethod
    def _duration(cls, v: object) -> int:
        if isinstance(v, str):
            try:
                return parse_duration(v)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return int(v)  # type: ignore[call-overload]

    @property
    def redis_prefix(self) -> str:
        return f"{self.redis_namespace}:{self.chain_id}"

    @property
    def notify_prefix(self) -> str:
        """Where the delivery state lives; `replay` leaves it alone (ops/replay.py)."""
        return f"{self.redis_prefix}:notify"


def notify_settings() -> NotifySettings:
    try:
        return NotifySettings()  # type: ignore[call-arg]
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
