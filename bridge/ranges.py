"""Block-range planning for eth_getLogs (pure): fixed-size steps that shrink on provider
limits and grow back after successes."""

from __future__ import annotations

from dataclasses import dataclass


def plan_ranges(start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Inclusive ranges covering start..end in steps of at most `size` blocks."""
    if size < 1:
        raise ValueError("size must be >= 1")
    return [(a, min(a + size - 1, end)) for a in range(start, end + 1, size)]


@dataclass
class AdaptiveStep:
    """Halve on 'range too large', double back toward `maximum` after `grow_after` successes."""

    maximum: int
    current: int = 0
    grow_after: int = 3
    _ok: int = 0

    def __post_init__(self) -> None:
        self.current = self.current or self.maximum

    def next_range(self, start: int, end: int) -> tuple[int, int]:
        return start, min(end, start + self.current - 1)

    def shrink(self) -> bool:
        """False when already at one block: the error is not about the range."""
        if self.current == 1:
            return False
        self.current = max(1, self.current // 2)
        self._ok = 0
        return True

    def success(self) -> None:
        self._ok += 1
        if self._ok >= self.grow_after and self.current < self.maximum:
            self.current = min(self.maximum, self.current * 2)
            self._ok = 0


def backoff(attempt: int, base: float = 0.2, cap: float = 30.0) -> float:
    """Capped exponential backoff; jitter is added by the caller."""
    return float(min(cap, base * (2 ** min(attempt, 30))))
