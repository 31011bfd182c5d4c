"""Which logs the bridge forwards: the factory's CurveCreated logs and the Trade/Graduated logs
of curves that factory created. Impostors and unknown topics are not forwarded."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bridge.registry import CurveRegistry
from pads_stream.decode.abi import CURVE_CREATED_TOPIC, GRADUATED_TOPIC, TRADE_TOPIC

FACTORY = "0x" + "fa" * 20
TOKEN = "0x" + "a1" * 20
CURVE = "0x" + "c3" * 20
CREATOR = "0x" + "d4" * 20
IMPOSTOR = "0x" + "66" * 20
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def topic(address: str) -> str:
    return "0x" + "00" * 12 + address[2:]


def lg(address: str, *topics: str) -> dict[str, Any]:
    return {"address": address, "topics": list(topics), "data": "0x", "blockNumber": "0x1", "logIndex": "0x0"}


def created(curve: str = CURVE, address: str = FACTORY) -> dict[str, Any]:
    return lg(address, CURVE_CREATED_TOPIC, topic(TOKEN), topic(curve), topic(CREATOR))


def test_factory_curve_created_registers_the_curve() -> None:
    reg = CurveRegistry(FACTORY.upper().replace("0X", "0x"))
    log = created()
    assert reg.learn([log]) == [log]
    assert reg.curves == {CURVE}
    assert reg.accept(lg(CURVE, TRADE_TOPIC, topic(TOKEN), topic(CREATOR)))
    assert reg.accept(lg(CURVE.upper().replace("0X", "0x"), GRADUATED_TOPIC, topic(TOKEN)))


def test_curve_created_from_another_contract_is_ignored() -> None:
    reg = CurveRegistry(FACTORY)
    assert reg.learn([created(address=IMPOSTOR), created(curve=IMPOSTOR, address=IMPOSTOR)]) == []
    assert reg.curves == set()


@pytest.mark.parametrize(
    "log",
    [
        lg(FACTORY, TRADE_TOPIC, topic(TOKEN), topic(CREATOR)),           # right address, wrong event
        lg(FACTORY),                                                      # no topics
        lg(FACTORY, CURVE_CREATED_TOPIC, topic(TOKEN)),                   # too few topics
        lg(FACTORY, CURVE_CREATED_TOPIC, topic(TOKEN), "0x" + "ff" * 32, topic(CREATOR)),  # not an address
    ],
)
def test_malformed_factory_logs_are_skipped(log: dict[str, Any]) -> None:
    reg = CurveRegistry(FACTORY)
    assert reg.learn([log, created()]) == [created()]
    assert reg.curves == {CURVE}


def test_impostor_emitting_trade_topic_is_not_accepted() -> None:
    reg = CurveRegistry(FACTORY)
    reg.learn([created()])
    assert not reg.accept(lg(IMPOSTOR, TRADE_TOPIC, topic(TOKEN), topic(CREATOR)))
    assert not reg.accept(lg(IMPOSTOR, GRADUATED_TOPIC, topic(TOKEN)))
    # the factory itself emitting Trade is not a curve either
    assert not reg.accept(lg(FACTORY, TRADE_TOPIC, topic(TOKEN), topic(CREATOR)))


@pytest.mark.parametrize("t0", [TRANSFER_TOPIC, CURVE_CREATED_TOPIC, "0x" + "00" * 32])
def test_known_curve_with_unknown_topic_is_not_accepted(t0: str) -> None:
    reg = CurveRegistry(FACTORY, {CURVE})
    assert not reg.accept(lg(CURVE, t0, topic(TOKEN)))
    assert not reg.accept(lg(CURVE))


def test_curves_from_checkpoint_are_known_before_any_factory_log() -> None:
    reg = CurveRegistry(FACTORY, {CURVE})
    assert reg.accept(lg(CURVE, TRADE_TOPIC, topic(TOKEN), topic(CREATOR)))
    assert not reg.accept(lg(IMPOSTOR, TRADE_TOPIC, topic(TOKEN), topic(CREATOR)))


def test_learn_keeps_order_and_accumulates() -> None:
    reg = CurveRegistry(FACTORY)
    second = "0x" + "c4" * 20
    logs = [created(), created(second), created()]
    assert reg.learn(logs) == logs
    assert reg.curves == {CURVE, second}


def test_a_malformed_curve_created_is_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    reg = CurveRegistry(FACTORY)
    bad = {"address": FACTORY, "topics": [CURVE_CREATED_TOPIC, "0x" + "00" * 32], "blockNumber": "0x7",
           "logIndex": "0x1", "transactionHash": "0x" + "ab" * 32}
    with caplog.at_level(logging.WARNING, logger="bridge.registry"):
        assert reg.learn([bad]) == []
    assert reg.curves == set()
    assert "malformed CurveCreated" in caplog.text and "block 0x7" in caplog.text
