"""What the candle agent did lately, logged every STATS_EVERY_S: batch sizes say whether
per-batch or per-log costs rule, and the longest flush bounds latency (a flush stalls the
stream)."""

from __future__ import annotations

import logging

log = logging.getLogger("pads_stream.agents.candles")
STATS_EVERY_S = 30.0
COUNTS = ("logs", "batches", "updates", "writes", "flushes")
STAGES = ("fold", "deliver", "flush", "flush_max")


class AgentStats:
    def __init__(self) -> None:
        self.counts = dict.fromkeys(COUNTS, 0)
        self.spent = dict.fromkeys(STAGES, 0.0)  # seconds per stage; flush_max: the longest flush

    def add(self, **counts: int) -> None:
        for k, n in counts.items():
            self.counts[k] += n

    def report(self, every_s: float = STATS_EVERY_S) -> None:
        """Log and reset."""
        c, s = self.counts, self.spent
        if c["batches"]:
            log.info("candles: %d logs in %d batches (%.1f per batch), %d updates delivered, %d table writes "
                     "in %d flushes in the last %.0f s", c["logs"], c["batches"], c["logs"] / c["batches"],
                     c["updates"], c["writes"], c["flushes"], every_s)
            log.info("candles: %.0f ms folding, %.0f ms delivering to the sinks, %.0f ms flushing "
                     "(longest flush %.0f ms)", *(1000 * s[k] for k in STAGES))
        self.counts = dict.fromkeys(COUNTS, 0)
        self.spent = dict.fromkeys(STAGES, 0.0)
