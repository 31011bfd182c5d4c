"""The retry schedule: full-jitter bounds per attempt, the cap, and the give-up."""

from __future__ import annotations

import random

import pytest

from pads_stream.notify.schedule import Backoff


@pytest.mark.parametrize("attempt, ceiling", [
    (0, 1), (1, 2), (2, 4), (3, 8), (9, 512), (10, 600), (11, 600), (100, 600), (10_000, 600),
])
def test_ceiling_doubles_up_to_the_cap(attempt: int, ceiling: float) -> None:
    assert Backoff(base=1, cap=600).ceiling(attempt) == ceiling


@pytest.mark.parametrize("attempt", [0, 1, 2, 5, 9, 10, 30])
def test_delays_stay_within_zero_and_the_ceiling_and_spread_over_it(attempt: int) -> None:
    b = Backoff(base=1, cap=600, rng=random.Random(7))
    delays = [b.delay(attempt) for _ in range(2000)]
    top = b.ceiling(attempt)
    assert all(0 <= d <= top for d in delays)
    # Full jitter: the whole range is used, not only its upper half.
    assert min(delays) < top * 0.05 and max(delays) > top * 0.95


def test_the_same_seed_gives_the_same_schedule() -> None:
    a = Backoff(rng=random.Random(42))
    b = Backoff(rng=random.Random(42))
    assert [a.delay(n) for n in range(20)] == [b.delay(n) for n in range(20)]


@pytest.mark.parametrize("first, now, expired", [
    (0, 0, False), (0, 86_399.9, False), (0, 86_400, True), (100, 86_499, False), (100, 86_500, True),
])
def test_give_up_when_the_first_attempt_is_retry_for_old(first: float, now: float, expired: bool) -> None:
    b = Backoff(retry_for=86_400, rng=random.Random(1))
    assert b.expired(first, now) is expired
    assert (b.next_due(first, 3, now) is None) is expired


def test_next_due_is_now_plus_the_delay_but_never_past_the_give_up() -> None:
    rng = random.Random(3)
    b = Backoff(base=1, cap=600, retry_for=100, rng=random.Random(3))
    expected = 10 + rng.uniform(0, 4)
    assert b.next_due(first=0, attempt=2, now=10) == expected
    # A wait that would go past first + retry_for is cut there: the give-up happens on time.
    late = Backoff(base=1, cap=600, retry_for=100, rng=random.Random(3))
    assert late.next_due(first=0, attempt=20, now=99) == min(99 + random.Random(3).uniform(0, 600), 100)
    assert late.next_due(first=0, attempt=20, now=99) is not None


def test_a_whole_schedule_ends_in_a_give_up_at_retry_for() -> None:
    b = Backoff(base=1, cap=600, retry_for=3600, rng=random.Random(11))
    now, attempt, waits = 0.0, 0, []
    while (due := b.next_due(0, attempt, now)) is not None:
        waits.append(due - now)
        now, attempt = due, attempt + 1
    assert now == 3600
    assert all(w <= min(600, 2**n) for n, w in enumerate(waits))
    assert 5 < attempt < 100
