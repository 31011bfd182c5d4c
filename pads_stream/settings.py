"""Configuration from the environment or `.env`, validated at start-up.

Names are the ones operators already use (BLOCKCHAIN_WS_URL, REDIS_URL, ...). An invalid
value stops the process with a message naming the setting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Annotated

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .candles.events import EventParams
from .candles.intervals import parse_duration, parse_interval, parse_intervals
from .candles.market import MarketParams
from .errors import ConfigError
from .kafka_security import SECRET_SETTINGS, KafkaSecurity, Mechanism, Protocol
from .redact import redact

ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"


def coerce_intervals(v: object) -> tuple[int, ...]:
    """OHLCV_INTERVALS as labels (`1m,5m`) or, from code, as seconds."""
    if isinstance(v, str):
        return parse_intervals(v)
    return tuple(int(x) for x in v)  # type: ignore[attr-defined]


# MARKET_WINDOWS' default: the worker's windows, and the ones the API validates alert rules against.
DEFAULT_WINDOWS: tuple[int, ...] = (300, 3600, 21600, 86400)
DEFAULT_INTERVALS = "1s,15s,30s,1m,5m,15m,1h,4h,1d"
# The sub-minute charts are for recent trades: a token keeps a day of 1-second candles.
DEFAULT_RETENTION = "1s=1d,15s=3d,30s=7d,1m=30d,5m=90d"


def coerce_windows(v: object) -> tuple[int, ...]:
    """MARKET_WINDOWS as labels (`5m,1h,24h`) or, from code, as seconds."""
    if not isinstance(v, str):
        return tuple(int(x) for x in v)  # type: ignore[attr-defined]
    out = set()
    for item in (p.strip() for p in v.split(",") if p.strip()):
        m = re.fullmatch(r"([0-9]+)([mhd])", item)
        if m is None or int(m[1]) <= 0:
            raise ValueError(f"{item!r} is not a whole number of minutes, hours or days (5m, 1h, 24h)")
        out.add(int(m[1]) * {"m": 60, "h": 3600, "d": 86400}[m[2]])
    if not out:
        raise ValueError("empty")
    return tuple(sorted(out))


def retention(text: str) -> dict[int, int]:
    """CANDLE_RETENTION's `interval=duration` list as seconds; empty keeps every bucket."""
    out: dict[int, int] = {}
    for item in (p.strip() for p in text.split(",") if p.strip()):
        interval, sep, keep = item.partition("=")
        if not sep:
            raise ValueError(f"{item!r} is not interval=duration (1s=1d)")
        try:
            out[parse_interval(interval)] = parse_duration(keep)
        except ConfigError as exc:
            raise ValueError(f"{item!r}: {exc}") from None
    return out


class CommonSettings(BaseSettings):
    """Settings shared by the bridge and the worker."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    chain_id: int = Field(31337, alias="CHAIN_ID", gt=0)
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", alias="KAFKA_BOOTSTRAP_SERVERS", min_length=1)
    topic_partitions: int = Field(8, alias="TOPIC_PARTITIONS", ge=1, le=1024)
    topic_replication: int = Field(1, alias="TOPIC_REPLICATION", ge=1)
    raw_log_topic: str = Field("pads.chain-logs", alias="RAW_LOG_TOPIC", min_length=1)
    # Alert rules with their webhooks (compacted; docs/alerts-design.md): the API and `rules` write
    # it, the API and the notifier read it.
    alert_rules_topic: str = Field("pads.alert-rules", alias="ALERT_RULES_TOPIC", min_length=1)
    # Domain events, alerts among them (docs/alerts-design.md): the worker produces them, the
    # notifier reads them.
    market_events_topic: str = Field("pads.market-events", alias="MARKET_EVENTS_TOPIC", min_length=1)
    log_level: str = Field("INFO", alias="LOG_LEVEL")
    log_file: str | None = Field(None, alias="LOG_FILE")
    # How every Kafka client logs in (see pads_stream.kafka_security and README, Security).
    kafka_security_protocol: Protocol = Field("PLAINTEXT", alias="KAFKA_SECURITY_PROTOCOL")
    kafka_sasl_mechanism: Mechanism | None = Field(None, alias="KAFKA_SASL_MECHANISM")
    kafka_sasl_username: str | None = Field(None, alias="KAFKA_SASL_USERNAME")
    kafka_sasl_password: SecretStr | None = Field(None, alias="KAFKA_SASL_PASSWORD")
    kafka_ssl_cafile: str | None = Field(None, alias="KAFKA_SSL_CAFILE")
    kafka_ssl_certfile: str | None = Field(None, alias="KAFKA_SSL_CERTFILE")
    kafka_ssl_keyfile: str | None = Field(None, alias="KAFKA_SSL_KEYFILE")
    kafka_ssl_check_hostname: bool = Field(True, alias="KAFKA_SSL_CHECK_HOSTNAME")
    _kafka: KafkaSecurity = PrivateAttr(default_factory=KafkaSecurity)

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.upper()
        if v not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return v

    @field_validator("log_file")
    @classmethod
    def _empty_is_none(cls, v: str | None) -> str | None:
        return v or None

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return (v.strip().upper() or None) if isinstance(v, str) else v

    @field_validator("kafka_sasl_username", "kafka_sasl_password", "kafka_ssl_cafile", "kafka_ssl_certfile",
                     "kafka_ssl_keyfile", mode="before")
    @classmethod
    def _unset_if_empty(cls, v: object) -> object:
        return None if v == "" else v

    @model_validator(mode="after")
    def _kafka_security(self) -> CommonSettings:
        try:  # validated, and the TLS files loaded, here: once, before any event loop runs
            self._kafka = KafkaSecurity(
                self.kafka_security_protocol, self.kafka_sasl_mechanism, self.kafka_sasl_username,
                self.kafka_sasl_password, self.kafka_ssl_cafile, self.kafka_ssl_certfile, self.kafka_ssl_keyfile,
                self.kafka_ssl_check_hostname).checked()
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def kafka_security(self) -> KafkaSecurity:
        """How the Kafka clients log in: `.aiokafka_kwargs()` for any aiokafka client."""
        return self._kafka


class WorkerSettings(CommonSettings):
    """Settings of the Faust worker (`faust -A pads_stream worker`)."""

    app_id: str = Field("pads-stream", alias="APP_ID", min_length=1)
    data_dir: str = Field("./.state/worker", alias="DATA_DIR")
    store: str = Field("rocksdb://", alias="TABLE_STORE")
    redis_url: str = Field("redis://127.0.0.1:6379/0", alias="REDIS_URL", pattern=r"^rediss?://")
    redis_namespace: str = Field("pads", alias="REDIS_NAMESPACE", pattern=r"^[A-Za-z0-9_.-]+$")
    backend_socket_url: str | None = Field(None, alias="BACKEND_SOCKET_URL")
    backend_socket_token: str = Field("", alias="BACKEND_SOCKET_TOKEN")
    backend_namespace: str = Field("/listener", alias="BACKEND_SOCKET_NAMESPACE")
    processing_interval_ms: int = Field(100, alias="PROCESSING_INTERVAL_MS", ge=1, le=60_000)
    fold_batch_size: int = Field(4000, alias="FOLD_BATCH_SIZE", ge=1, le=100_000)
    fold_batch_tokens: int = Field(1000, alias="FOLD_BATCH_TOKENS", ge=1, le=100_000)
    # Tokens not in the state cache per batch: each is read and decoded, and with 100,000 tokens
    # (nearly all cold) peak RSS was about 490 MB at 1,000 of them, 310-330 at 100 and 278-298
    # at 50, for 15 % fewer trades/s than 100 there; hot tokens do not count (benchmarks/README.md).
    fold_batch_cold_tokens: int = Field(50, alias="FOLD_BATCH_COLD_TOKENS", ge=1, le=100_000)
    state_cache_size: int = Field(2_000, alias="STATE_CACHE_SIZE", ge=0, le=10_000_000)
    # Faust commits offsets every 2.8 s: flushing more often only encoded hot states more often
    # (at 1,000 tokens 3000 took full market data from 4,486 to 5,093 trades/s; benchmarks/README.md).
    table_flush_ms: int = Field(3000, alias="TABLE_FLUSH_MS", ge=0, le=60_000)
    push_buffer_max: int = Field(100_000, alias="PUSH_BUFFER_MAX", ge=100)
    ohlcv_intervals: Annotated[tuple[int, ...], NoDecode] = Field(
        default=parse_intervals(DEFAULT_INTERVALS), alias="OHLCV_INTERVALS")
    # Rolling windows, market cap, curve progress, ATH and rankings (off: the market hash holds
    # the token's own fields, for a worker that only makes candles).
    market_data: bool = Field(True, alias="MARKET_DATA")
    market_windows: Annotated[tuple[int, ...], NoDecode] = Field(default=DEFAULT_WINDOWS, alias="MARKET_WINDOWS")
    token_total_supply: int = Field(10**27, alias="TOKEN_TOTAL_SUPPLY", gt=0)
    curve_initial_virtual_eth: int = Field(30 * 10**18, alias="CURVE_INITIAL_VIRTUAL_ETH", ge=0)
    curve_graduation_eth: int = Field(85 * 10**18, alias="CURVE_GRADUATION_ETH", gt=0)
    candle_retention: Annotated[dict[int, int], NoDecode] = Field(
        default_factory=lambda: retention(DEFAULT_RETENTION), alias="CANDLE_RETENTION")
    # Domain events and alerts on MARKET_EVENTS_TOPIC (docs/alerts-design.md); they need MARKET_DATA.
    market_events: bool | None = Field(None, alias="MARKET_EVENTS")
    large_trade_eth: Decimal = Field(Decimal(1), alias="LARGE_TRADE_ETH", gt=0)
    dead_letter_topic: str = Field("pads.dead-letters", alias="DEAD_LETTER_TOPIC")
    web_port: int = Field(6066, alias="WEB_PORT", ge=0, le=65535)
    # 0.0.0.0 lets a container's probes and Prometheus reach /health, /ready and /metrics.
    web_host: str = Field("127.0.0.1", alias="WEB_HOST", min_length=1)
    # /debug/tasks walks every object on the event loop: off unless asked for.
    debug_endpoints: bool = Field(False, alias="DEBUG_ENDPOINTS")
    # /ready answers 200 only with at most this many raw-log messages left to apply.
    ready_max_lag: int = Field(1000, alias="READY_MAX_LAG", ge=0)
    # How long a worker that died without leaving (kill -9, lost host) keeps its partitions.
    session_timeout_s: float = Field(30.0, alias="KAFKA_SESSION_TIMEOUT_S", ge=6, le=300)
    # How long the broker may hold a fetch for partitions with nothing new (Faust fixes 1,500).
    fetch_max_wait_ms: int = Field(20, alias="KAFKA_FETCH_MAX_WAIT_MS", ge=1, le=1500)
    # Most bytes a fetch returns per partition (a larger record still comes whole). The fetched
    # records wait in memory for the agent: Faust's 1 MiB held 35 MB of them with 100,000 tokens.
    # 512 KiB took 1,000 tokens from 3,352 to 3,770 trades/s (means of five and four long runs;
    # batches stayed near 2,000 logs) and peaked at 298 MB with 100,000 tokens, as 256 KiB
    # did (benchmarks/README.md).
    fetch_partition_bytes: int = Field(512 * 1024, alias="KAFKA_FETCH_PARTITION_BYTES", ge=16 * 1024,
                                       le=64 * 1024 * 1024)

    @field_validator("ohlcv_intervals", mode="before")
    @classmethod
    def _intervals(cls, v: object) -> tuple[int, ...]:
        return coerce_intervals(v)

    @field_validator("market_windows", mode="before")
    @classmethod
    def _windows(cls, v: object) -> tuple[int, ...]:
        return coerce_windows(v)

    @field_validator("candle_retention", mode="before")
    @classmethod
    def _retention(cls, v: object) -> dict[int, int]:
        if not isinstance(v, str):
            return {int(k): int(x) for k, x in v.items()}  # type: ignore[attr-defined]
        return retention(v)

    @field_validator("backend_socket_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if not v:
            return None
        if not v.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError("must be an http(s):// or ws(s):// URL")
        return v

    @property
    def market_params(self) -> MarketParams | None:
        """None unless MARKET_DATA: the market hash then holds the token's own fields only."""
        if not self.market_data:
            return None
        return MarketParams(self.market_windows, self.token_total_supply, self.curve_initial_virtual_eth,
                            self.curve_graduation_eth)

    @property
    def events_on(self) -> bool:
        """MARKET_EVENTS, by default on with MARKET_DATA (progress and the ATH come from it)."""
        return self.market_data if self.market_events is None else self.market_events

    @property
    def event_params(self) -> EventParams | None:
        params = self.market_params
        if not self.events_on or params is None:
            return None
        return EventParams(int(self.large_trade_eth.scaleb(18)), params)

    @property
    def redis_prefix(self) -> str:
        return f"{self.redis_namespace}:{self.chain_id}"


def format_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"])
        if not name:
            # A check across settings (the Kafka security ones): its message names them, and its
            # input is every setting, passwords included, so it is not shown.
            parts.append(str(err["msg"]).removeprefix("Value error, "))
            continue
        # The value, redacted: a URL setting's error must not print its password or API key.
        shown = "***" if name in SECRET_SETTINGS else redact(repr(err.get("input")))
        parts.append(f"{name}: {err['msg']} (got {shown})")
    return "invalid configuration: " + "; ".join(parts)


def kafka_security_of(env: Mapping[str, str]) -> KafkaSecurity:
    """The Kafka security in an environment mapping, alone (for tools that hold the environment
    they give to workers: the benchmarks, the tests); the process environment is not read."""
    try:
        return CommonSettings.model_validate({k: v for k, v in env.items() if k.startswith("KAFKA_")}).kafka_security
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None


@lru_cache(maxsize=1)
def worker_settings() -> WorkerSettings:
    try:
        return WorkerSettings()  # type: ignore[call-arg]
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
