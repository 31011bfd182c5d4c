"""The head watchdog's clock, sized to the chain (pure).

The newHeads subscription only wakes the bridge; when it goes quiet (seen after an
`anvil_reorg`, and with providers that drop subscriptions silently) the bridge polls the
head after a timeout. A fixed 30 s made a 2-s chain's final flags 30 s late; the timeout is
instead a few observed block intervals: QUIET_BLOCKS times the median interval between the
last heads seen, within [MIN_S, the configured BRIDGE_HEAD_TIMEOUT_S]. A poll that finds
the head moved while the subscription said nothing, twice in a row, means the subscription
is dead: subscribe again.
"""

from __future__ import annotations

from collections import deque
from statistics import median

QUIET_BLOCKS = 3
MIN_S = 1.0
KEPT = 20
DEAD_AFTER = 2  # quiet polls in a row that found new blocks


class HeadWatch:
    def __init__(self, max_timeout_s: float) -> None:
        self.max_timeout_s = max_timeout_s
        self.intervals: deque[float] = deque(maxlen=KEPT)  # seconds per block
        self.head: int | None = None
        self.seen_at: float | None = None  # when `head` was first seen
        self.quiet_moves = 0

    def observe(self, head: int, now: float) -> bool:
        """A head read from the node at `now`; whether it moved."""
        if self.head is not None and head <= self.head:
            return False
        if self.head is not None and self.seen_at is not None:
            self.intervals.append((now - self.seen_at) / (head - self.head))
        self.head, self.seen_at = head, now
        return True

    def timeout(self) -> float:
        if not self.intervals:
            return self.max_timeout_s
        return min(max(QUIET_BLOCKS * median(self.intervals), MIN_S), self.max_timeout_s)

    def after_poll(self, woken: bool, moved: bool) -> bool:
        """After a wait that ended woken by the subscription or by the timeout, and a head read
        that `moved` or not: whether the subscription looks dead (subscribe again)."""
        if woken or not moved:
            self.quiet_moves = 0
            return False
        self.quiet_moves += 1
        if self.quiet_moves >= DEAD_AFTER:
            self.quiet_moves = 0
            return True
        return False

    def age(self, now: float) -> float | None:
        """Seconds since the head last moved."""
        return None if self.seen_at is None else now - self.seen_at
