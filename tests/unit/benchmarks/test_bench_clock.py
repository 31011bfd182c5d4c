"""The benchmark's steady rate: commit to commit while busy, the final commit left out."""

from __future__ import annotations

import pytest

from benchmarks.run import Progress, steady_rate


def progress(commits: list[tuple[float, int]], timed: int = 1000) -> Progress:
    return Progress(first=commits[0][0] if commits else 1.0, done=99.0, stats={}, commits=commits, timed=timed)


@pytest.mark.parametrize(("commits", "trades", "expected"), [
    # 280 logs per 2.8 s commit interval, then an idle tail of 2 s before the final commit:
    # 100 logs/s, never the 85 logs/s that counting the tail would give.
    ([(10.0, 0), (12.8, 280), (15.6, 560), (17.6, 760)], 1000, 100.0),
    # Half of the timed logs are trades: trades/s is half the logs/s.
    ([(0.0, 100), (2.0, 300), (4.0, 500), (9.0, 600)], 500, 50.0),
    ([(0.0, 0), (2.8, 280)], 1000, None),  # two commits: no interval of busy commits
    ([], 1000, None),
])
def test_steady_rate(commits: list[tuple[float, int]], trades: int, expected: float | None) -> None:
    got = steady_rate(progress(commits), trades)
    assert got == pytest.approx(expected) if expected is not None else got is None


def test_nothing_timed_has_no_rate() -> None:
    assert steady_rate(progress([(0.0, 0), (1.0, 1), (2.0, 2)], timed=0), 10) is None
