"""Bridge settings: a bad factory address or node URL stops start-up naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge import settings as bridge_settings
from bridge.errors import ConfigError

FACTORY = "0x" + "Ab" * 20


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("BLOCKCHAIN_WS_URL", "BLOCKCHAIN_HTTP_URL", "BONDING_CURVE_FACTORY_ADDRESS", "START_BLOCK",
                 "BATCH_SIZE", "CHAIN_ID", "FINALITY_DEPTH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BLOCKCHAIN_WS_URL", "ws://127.0.0.1:8545")
    monkeypatch.setenv("BONDING_CURVE_FACTORY_ADDRESS", FACTORY)


def test_valid_settings_lower_case_the_factory() -> None:
    s = bridge_settings.load()
    assert s.bonding_curve_factory_address == FACTORY.lower()
    assert s.blockchain_ws_url == "ws://127.0.0.1:8545" and s.start_block == 0
    assert s.finality_depth == 30


@pytest.mark.parametrize("depth", ["1", "65", "200"])
def test_finality_depth_per_chain(monkeypatch: pytest.MonkeyPatch, depth: str) -> None:
    monkeypatch.setenv("FINALITY_DEPTH", depth)
    assert bridge_settings.load().finality_depth == int(depth)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BONDING_CURVE_FACTORY_ADDRESS", "0x123"),
        ("BONDING_CURVE_FACTORY_ADDRESS", "ab" * 20),
        ("BONDING_CURVE_FACTORY_ADDRESS", "0x" + "zz" * 20),
        ("BONDING_CURVE_FACTORY_ADDRESS", "0x" + "ab" * 21),
        ("BLOCKCHAIN_WS_URL", "http://127.0.0.1:8545"),
        ("START_BLOCK", "-1"),
        ("BATCH_SIZE", "0"),
        ("CHAIN_ID", "0"),
        ("FINALITY_DEPTH", "0"),
        ("FINALITY_DEPTH", "deep"),
    ],
)
def test_invalid_value_names_the_setting(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as exc_info:
        bridge_settings.load()
    assert name in str(exc_info.value)


@pytest.mark.parametrize("name", ["BONDING_CURVE_FACTORY_ADDRESS", "BLOCKCHAIN_WS_URL"])
def test_missing_required_setting_is_named(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.delenv(name)
    with pytest.raises(ConfigError, match=name):
        bridge_settings.load()
