"""Worker settings from the environment: invalid values stop start-up naming the setting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pads_stream.errors import ConfigError
from pads_stream.settings import worker_settings

MANAGED = ("OHLCV_INTERVALS", "REDIS_URL", "CHAIN_ID", "TOPIC_PARTITIONS", "LOG_LEVEL", "LOG_FILE",
           "BACKEND_SOCKET_URL", "PUSH_BUFFER_MAX", "KAFKA_BOOTSTRAP_SERVERS", "WEB_PORT", "MARKET_DATA",
           "MARKET_EVENTS", "CANDLE_RETENTION")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)  # no stray .env in the working directory
    for name in MANAGED:
        monkeypatch.delenv(name, raising=False)
    worker_settings.cache_clear()
    yield
    worker_settings.cache_clear()


def test_defaults() -> None:
    s = worker_settings()
    assert s.ohlcv_intervals == (1, 15, 30, 60, 300, 900, 3600, 14400, 86400)
    day = 86400
    assert s.candle_retention == {1: day, 15: 3 * day, 30: 7 * day, 60: 30 * day, 300: 90 * day}
    assert s.market_data and s.event_params is not None and s.market_params is not None
    assert s.chain_id == 31337 and s.redis_prefix == "pads:31337"
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert s.backend_socket_url is None and s.log_file is None
    assert worker_settings() is s  # cached


@pytest.mark.parametrize(
    ("name", "value", "attr", "expected"),
    [
        ("OHLCV_INTERVALS", "1d,1m", "ohlcv_intervals", (60, 86400)),
        ("OHLCV_INTERVALS", "4h", "ohlcv_intervals", (14400,)),
        ("REDIS_URL", "rediss://cache:6380/2", "redis_url", "rediss://cache:6380/2"),
        ("CHAIN_ID", "8453", "chain_id", 8453),
        ("LOG_LEVEL", "debug", "log_level", "DEBUG"),
        ("LOG_FILE", "", "log_file", None),
        ("BACKEND_SOCKET_URL", "", "backend_socket_url", None),
        ("BACKEND_SOCKET_URL", "wss://backend/", "backend_socket_url", "wss://backend/"),
    ],
)
def test_valid_values(monkeypatch: pytest.MonkeyPatch, name: str, value: str, attr: str, expected: object) -> None:
    monkeypatch.setenv(name, value)
    assert getattr(worker_settings(), attr) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OHLCV_INTERVALS", "1m,7m"),
        ("OHLCV_INTERVALS", "abc"),
        ("OHLCV_INTERVALS", ","),
        ("OHLCV_INTERVALS", "0m"),
        ("REDIS_URL", "http://x"),
        ("REDIS_URL", "localhost:6379"),
        ("CHAIN_ID", "0"),
        ("CHAIN_ID", "-1"),
        ("CHAIN_ID", "mainnet"),
        ("TOPIC_PARTITIONS", "0"),
        ("TOPIC_PARTITIONS", "2000"),
        ("LOG_LEVEL", "chatty"),
        ("BACKEND_SOCKET_URL", "ftp://backend"),
        ("PUSH_BUFFER_MAX", "10"),
        ("KAFKA_BOOTSTRAP_SERVERS", ""),
        ("WEB_PORT", "70000"),
    ],
)
def test_invalid_value_names_the_setting(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as exc_info:
        worker_settings()
    assert name in str(exc_info.value)


def test_error_is_not_cached_past_cache_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OHLCV_INTERVALS", "1m,7m")
    with pytest.raises(ConfigError, match="OHLCV_INTERVALS"):
        worker_settings()
    monkeypatch.setenv("OHLCV_INTERVALS", "1m,5m")
    worker_settings.cache_clear()
    assert worker_settings().ohlcv_intervals == (60, 300)


def test_dotenv_in_working_directory_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CHAIN_ID=0\n")
    with pytest.raises(ConfigError, match="CHAIN_ID"):
        worker_settings()


def test_environment_overrides_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("OHLCV_INTERVALS=1m,7m\nCHAIN_ID=5\n")
    monkeypatch.setenv("OHLCV_INTERVALS", "1h")
    s = worker_settings()
    assert s.ohlcv_intervals == (3600,) and s.chain_id == 5

