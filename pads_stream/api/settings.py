"""Settings of `pads-stream api`, from the environment or `.env`, validated at start-up.

CHAIN_ID, REDIS_URL, REDIS_NAMESPACE and OHLCV_INTERVALS mean what they mean for the worker;
the API_* settings are its own. API keys never appear in a repr, a log or an error message.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import NoDecode

from ..errors import ConfigError
from ..settings import DEFAULT_WINDOWS, CommonSettings, WorkerSettings, coerce_intervals, coerce_windows

# The worker's default, so that an API and a worker started without OHLCV_INTERVALS agree.
DEFAULT_INTERVALS: tuple[int, ...] = WorkerSettings.model_fields["ohlcv_intervals"].default


def _csv(v: object) -> tuple[str, ...]:
    if isinstance(v, str):
        return tuple(p.strip() for p in v.split(",") if p.strip())
    return tuple(str(x) for x in v)  # type: ignore[attr-defined]


class ApiSettings(CommonSettings):
    api_host: str = Field("127.0.0.1", alias="API_HOST", min_length=1)
    api_port: int = Field(8000, alias="API_PORT", ge=0, le=65535)
    api_cors_origins: Annotated[tuple[str, ...], NoDecode] = Field((), alias="API_CORS_ORIGINS")
    api_keys: Annotated[tuple[str, ...], NoDecode] = Field((), alias="API_KEYS", repr=False)
    api_max_bars: int = Field(1500, alias="API_MAX_BARS", ge=1, le=100_000)
    # Where browsers reach the Node backend's socket.io (the chart page's live updates).
    api_push_url: str | None = Field(None, alias="API_PUSH_URL")
    backend_socket_url: str | None = Field(None, alias="BACKEND_SOCKET_URL")
    redis_url: str = Field("redis://127.0.0.1:6379/0", alias="REDIS_URL", pattern=r"^rediss?://")
    redis_namespace: str = Field("pads", alias="REDIS_NAMESPACE", pattern=r"^[A-Za-z0-9_.-]+$")
    ohlcv_intervals: Annotated[tuple[int, ...], NoDecode] = Field(default=DEFAULT_INTERVALS, alias="OHLCV_INTERVALS")
    # Only the alert-rule endpoints use Kafka: unset (unlike the worker, no default broker), they
    # answer 503 and the rest of the API serves Redis as before.
    kafka_bootstrap_servers: str = Field("", alias="KAFKA_BOOTSTRAP_SERVERS")
    # The windows alert rules of type change and volume may name: the worker's MARKET_WINDOWS.
    market_windows: Annotated[tuple[int, ...], NoDecode] = Field(default=DEFAULT_WINDOWS, alias="MARKET_WINDOWS")

    @field_validator("api_cors_origins", "api_keys", mode="before")
    @classmethod
    def _list(cls, v: object) -> tuple[str, ...]:
        return _csv(v)

    @field_validator("ohlcv_intervals", mode="before")
    @classmethod
    def _intervals(cls, v: object) -> tuple[int, ...]:
        return coerce_intervals(v)

    @field_validator("market_windows", mode="before")
    @classmethod
    def _windows(cls, v: object) -> tuple[int, ...]:
        return coerce_windows(v)

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap(cls, v: str) -> str:
        return v.strip()

    @property
    def rules_enabled(self) -> bool:
        return bool(self.kafka_bootstrap_servers)

    @property
    def redis_prefix(self) -> str:
        return f"{self.redis_namespace}:{self.chain_id}"

    @property
    def push_url(self) -> str | None:
        return self.api_push_url or self.backend_socket_url or None


def format_error(exc: ValidationError) -> str:
    """Like the worker's message, but never echoes an API key."""
    parts = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]) or "settings"
        got = "***" if name == "API_KEYS" else repr(err.get("input"))
        parts.append(f"{name}: {err['msg']} (got {got})")
    return "invalid configuration: " + "; ".join(parts)


def load(**overrides: object) -> ApiSettings:
    try:
        return ApiSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(format_error(exc)) from None


@lru_cache(maxsize=1)
def api_settings() -> ApiSettings:
    return load()
