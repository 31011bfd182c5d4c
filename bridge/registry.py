"""Which contracts' logs are launchpad data (pure): the factory's CurveCreated logs, and the
Trade/Graduated logs of curves that factory created. Anything else is ignored."""

from __future__ import annotations

import logging

from pads_stream.chain.topics import CURVE_CREATED_TOPIC, GRADUATED_TOPIC, TRADE_TOPIC, topic_address
from pads_stream.errors import DecodeError

logger = logging.getLogger(__name__)

CURVE_TOPICS = (TRADE_TOPIC, GRADUATED_TOPIC)


def log_field(log: dict[str, object], name: str) -> object:
    value = log.get(name)
    return value.hex() if isinstance(value, bytes) else value


class CurveRegistry:
    def __init__(self, factory: str, curves: set[str] | None = None) -> None:
        self.factory = factory.lower()
        self.curves: set[str] = set(curves or ())

    def learn(self, factory_logs: list[dict[str, object]]) -> list[dict[str, object]]:
        """Register curves from the factory's CurveCreated logs; returns the logs to forward."""
        kept = []
        for log in factory_logs:
            topics = log["topics"]
            if str(log["address"]).lower() != self.factory or not topics or topics[0] != CURVE_CREATED_TOPIC:  # type: ignore[index]
                continue
            try:
                self.curves.add(topic_address(topics[2]))  # type: ignore[index]
            except (DecodeError, IndexError) as exc:
                # The factory emitted it, so it is not noise: say so, the curve's logs will be ignored.
                logger.warning("skipping a malformed CurveCreated of the factory at block %s, log %s (tx %s): %s",
                            log_field(log, "blockNumber"), log_field(log, "logIndex"),
                            log_field(log, "transactionHash"), exc or "no curve topic")
                continue
            kept.append(log)
        return kept

    def accept(self, log: dict[str, object]) -> bool:
        topics = log["topics"]
        return (str(log["address"]).lower() in self.curves and bool(topics)
                and topics[0] in CURVE_TOPICS)  # type: ignore[index]
