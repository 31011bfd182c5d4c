"""Bridge configuration from the environment or `.env`."""

from __future__ import annotations

from pydantic import Field, ValidationError, field_validator

from pads_stream.settings import ADDRESS_PATTERN, CommonSettings, format_validation_error

from .errors import ConfigError


class BridgeSettings(CommonSettings):
    blockchain_ws_url: str = Field(alias="BLOCKCHAIN_WS_URL", pattern=r"^wss?://")
    blockchain_http_url: str | None = Field(None, alias="BLOCKCHAIN_HTTP_URL")
    bonding_curve_factory_address: str = Field(alias="BONDING_CURVE_FACTORY_ADDRESS", pattern=ADDRESS_PATTERN)
    start_block: int = Field(0, alias="START_BLOCK", ge=0)
    batch_size: int = Field(2000, alias="BATCH_SIZE", ge=1, le=1_000_000)
    state_file: str = Field("./.state/bridge-checkpoint.json", alias="BRIDGE_STATE_FILE")
    # The most the head watchdog waits; it waits three observed block intervals when shorter.
    # Also the node socket's keepalive: a ping this often, to be answered within as long.
    head_timeout_s: float = Field(30.0, alias="BRIDGE_HEAD_TIMEOUT_S", gt=0)
    web_port: int = Field(6068, alias="BRIDGE_WEB_PORT", ge=0, le=65535)  # 0: no /health, /ready, /metrics
    web_host: str = Field("127.0.0.1", alias="BRIDGE_WEB_HOST")
    ready_max_lag: int = Field(10, alias="BRIDGE_READY_MAX_LAG", ge=0)  # blocks behind the head
    max_backoff_s: float = Field(30.0, alias="BRIDGE_MAX_BACKOFF_S", gt=0)
    # Blocks below head - FINALITY_DEPTH are treated as final: the bridge keeps the hashes and
    # logs of the last FINALITY_DEPTH + 1 published blocks to undo a reorg, and a deeper reorg
    # needs a replay. Per chain: Ethereum ~65, Polygon ~200, OP-stack L2s (Base, Optimism) 30.
    finality_depth: int = Field(30, alias="FINALITY_DEPTH", ge=1)

    @field_validator("bonding_curve_factory_address")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.lower()


def load() -> BridgeSettings:
    try:
        return BridgeSettings()  # type: ignore[call-arg]
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
