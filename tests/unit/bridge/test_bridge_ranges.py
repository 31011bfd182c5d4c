"""eth_getLogs range planning: fixed steps, adaptive shrinking/growing, capped backoff."""

from __future__ import annotations

import pytest

from bridge.ranges import AdaptiveStep, backoff, plan_ranges


@pytest.mark.parametrize(
    ("start", "end", "size", "expected"),
    [
        (0, 9, 5, [(0, 4), (5, 9)]),
        (0, 10, 5, [(0, 4), (5, 9), (10, 10)]),
        (7, 7, 100, [(7, 7)]),
        (5, 4, 10, []),
        (1, 3, 1, [(1, 1), (2, 2), (3, 3)]),
        (100, 2099, 2000, [(100, 2099)]),
        (100, 2100, 2000, [(100, 2099), (2100, 2100)]),
    ],
)
def test_plan_ranges(start: int, end: int, size: int, expected: list[tuple[int, int]]) -> None:
    assert plan_ranges(start, end, size) == expected


@pytest.mark.parametrize(("start", "end", "size"), [(0, 0, 1), (3, 1000, 7), (12_345, 99_999, 2000), (0, 64, 64)])
def test_plan_ranges_cover_exactly_once(start: int, end: int, size: int) -> None:
    ranges = plan_ranges(start, end, size)
    covered = [b for a, z in ranges for b in range(a, z + 1)]
    assert covered == list(range(start, end + 1))
    assert all(z - a + 1 <= size for a, z in ranges)


@pytest.mark.parametrize("size", [0, -1])
def test_plan_ranges_rejects_bad_size(size: int) -> None:
    with pytest.raises(ValueError, match="size must be >= 1"):
        plan_ranges(0, 10, size)


def test_adaptive_step_defaults_to_maximum() -> None:
    step = AdaptiveStep(2000)
    assert step.current == 2000
    assert step.next_range(100, 10_000) == (100, 2099)
    assert step.next_range(100, 500) == (100, 500)
    assert AdaptiveStep(2000, current=10).current == 10


def test_adaptive_step_shrinks_to_one_then_refuses() -> None:
    step = AdaptiveStep(10)
    sizes = []
    while step.shrink():
        sizes.append(step.current)
    assert sizes == [5, 2, 1]
    assert step.current == 1 and step.shrink() is False
    assert step.next_range(50, 60) == (50, 50)


def test_adaptive_step_grows_back_after_successes() -> None:
    step = AdaptiveStep(16, grow_after=3)
    for _ in range(4):
        step.shrink()
    assert step.current == 1
    history = []
    for _ in range(15):
        step.success()
        history.append(step.current)
    assert history == [1, 1, 2, 2, 2, 4, 4, 4, 8, 8, 8, 16, 16, 16, 16]


def test_shrink_resets_the_success_streak() -> None:
    step = AdaptiveStep(8, grow_after=3)
    step.shrink()  # 4
    step.success()
    step.success()
    step.shrink()  # 2, streak reset
    step.success()
    step.success()
    assert step.current == 2
    step.success()
    assert step.current == 4


def test_growth_is_capped_at_maximum() -> None:
    step = AdaptiveStep(10, current=6, grow_after=1)
    step.success()
    assert step.current == 10
    step.success()
    assert step.current == 10


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(0, 0.2), (1, 0.4), (2, 0.8), (5, 6.4), (7, 25.6), (8, 30.0), (30, 30.0), (31, 30.0), (10_000, 30.0)],
)
def test_backoff(attempt: int, expected: float) -> None:
    assert backoff(attempt) == pytest.approx(expected)
    assert isinstance(backoff(attempt), float)


def test_backoff_custom_base_and_cap() -> None:
    assert backoff(3, base=1.0, cap=5.0) == 5.0
    assert backoff(2, base=1.0, cap=5.0) == 4.0
    assert [backoff(i) for i in range(12)] == sorted(backoff(i) for i in range(12))
