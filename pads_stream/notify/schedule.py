"""When a failed delivery is tried again: capped exponential backoff with full jitter.

Attempt n (0 = the first one, sent as soon as the event is recorded) failed: the next one waits
a uniform random time in [0, min(cap, base * 2**n)]: full jitter spreads the retries of many deliveries that failed
together (an endpoint that was down) instead of bringing them back in waves. A delivery whose
first attempt is `retry_for` old is given up (dead-lettered); the last retry is moved to that
moment so the give-up happens when it says, not up to `cap` later.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    base: float = 1.0
    cap: float = 600.0
    retry_for: float = 86400.0
    # Injected so tests are deterministic; a seeded random.Random.
    rng: random.Random = field(default_factory=random.Random)

    def ceiling(self, attempt: int) -> float:
        """The longest wait after failed attempt `attempt`."""
        # Past 2**60 every wait is the cap anyway; bounding n keeps the float finite.
        return min(self.cap, self.base * 2.0 ** min(attempt, 60))

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(0, self.ceiling(attempt))

    def expired(self, first: float, now: float) -> bool:
        """Give up: the first attempt is `retry_for` old."""
        return now - first >= self.retry_for

    def next_due(self, first: float, attempt: int, now: float) -> float | None:
        """When to try again after failed attempt `attempt` at `now`; None = give up."""
        if self.expired(first, now):
            return None
        return min(now + self.delay(attempt), first + self.retry_for)
