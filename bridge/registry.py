"""Which contracts' logs are launchpad data (pure): the factory's CurveCreated logs, and the
Trade/Graduated logs of curves that factory created. Anything else is ignored."""

from __future__ import annotations

from pads_stream.chain.topics import CURVE_CREATED_TOPIC, GRADUATED_TOPIC, TRADE_TOPIC, topic_address
from pads_stream.errors import DecodeError

CURVE_TOPICS = (TRADE_TOPIC, GRADUATED_TOPIC)


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
            except (DecodeError, IndexError):
                continue
            kept.append(log)
        return kept

    def accept(self, log: dict[str, object]) -> bool:
        topics = log["topics"]
        return (str(log["address"]).lower() in self.curves and bool(topics)
                and topics[0] in CURVE_TOPICS)  # type: ignore[index]
