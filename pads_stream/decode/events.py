"""Raw log -> launchpad record (pure): Trade, CurveCreated or Graduated.

The candle agent decodes each log where it folds it: the bridge keys launchpad logs by
token, so no decoded-record topic is needed between them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..chain.rawlog import RawLog
from ..errors import DecodeError
from .abi import (
    CURVE_CREATED_TOPIC,
    GRADUATED_TOPIC,
    NAME_MAX,
    SYMBOL_MAX,
    TRADE_TOPIC,
    data_bytes,
    display_text,
    dynamic_string,
    topic_address,
    word_bool,
    words,
)


@dataclass(frozen=True, slots=True)
class LogRef:
    """Where a record came from on the chain."""

    chain_id: int
    contract: str
    block_number: int
    block_hash: str
    block_timestamp: int
    tx_hash: str
    log_index: int
    removed: bool

    @classmethod
    def of(cls, log: RawLog) -> LogRef:
        return cls(log.chain_id, log.address, log.block_number, log.block_hash, log.block_timestamp,
                   log.transaction_hash, log.log_index, log.removed)

    @property
    def cursor(self) -> tuple[int, int]:
        return (self.block_number, self.log_index)


@dataclass(frozen=True, slots=True)
class TradeEvent:
    token: str
    trader: str
    is_buy: bool
    token_amount: int
    eth_amount: int
    virtual_eth: int
    virtual_token: int
    ref: LogRef
    kind: str = "trade"


@dataclass(frozen=True, slots=True)
class CurveCreatedEvent:
    token: str
    curve: str
    creator: str
    name: str
    symbol: str
    ref: LogRef
    kind: str = "curve_created"


@dataclass(frozen=True, slots=True)
class GraduatedEvent:
    token: str
    eth_reserves: int
    token_reserves: int
    ref: LogRef
    kind: str = "graduated"


Record = TradeEvent | CurveCreatedEvent | GraduatedEvent


def decode_log(log: RawLog) -> Record:
    """Decode one launchpad log; anything else raises DecodeError with the reason."""
    t0 = log.topics[0]
    ref = LogRef.of(log)
    if t0 == TRADE_TOPIC:
        _topics(log, 3)
        is_buy, tok, eth, veth, vtok = words(data_bytes(log.data), 5)
        if tok == 0:
            raise DecodeError("trade with zero token amount has no price")
        return TradeEvent(topic_address(log.topics[1]), topic_address(log.topics[2]), word_bool(is_buy),
                          tok, eth, veth, vtok, ref)
    if t0 == CURVE_CREATED_TOPIC:
        _topics(log, 4)
        data = data_bytes(log.data)
        name_off, symbol_off = words(data, 2)
        return CurveCreatedEvent(topic_address(log.topics[1]), topic_address(log.topics[2]),
                                 topic_address(log.topics[3]), display_text(dynamic_string(data, name_off), NAME_MAX),
                                 display_text(dynamic_string(data, symbol_off), SYMBOL_MAX), ref)
    if t0 == GRADUATED_TOPIC:
        _topics(log, 2)
        eth, tok = words(data_bytes(log.data), 2)
        return GraduatedEvent(topic_address(log.topics[1]), eth, tok, ref)
    raise DecodeError(f"unknown event topic {t0}")


def _topics(log: RawLog, n: int) -> None:
    if len(log.topics) != n:
        raise DecodeError(f"expected {n} topics for {log.topics[0]}, got {len(log.topics)}")
