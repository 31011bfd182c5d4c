"""The replay/check progress bar: formatting, rate and ETA."""

from __future__ import annotations

import io

import pytest

from pads_stream.ops.progress import Bar, RateMeter, format_bar, format_count, format_duration


@pytest.mark.parametrize("seconds,text", [(0, "0:00"), (7.4, "0:07"), (754, "12:34"), (3723, "1:02:03"),
                                          (None, "--:--"), (float("inf"), "--:--"), (-1, "--:--")])
def test_durations(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_counts() -> None:
    assert [format_count(n) for n in (0, 999, 1000, 12_345, 2_500_000, 3e9, 12.5)] == \
        ["0", "999", "1.0k", "12.3k", "2.5M", "3.0G", "12.5"]


def test_bar_half_way() -> None:
    assert format_bar(500, 1000, 120.0, 4.2, width=10, label="rebuild") == \
        "rebuild [#####.....]  50.0% 500/1.0k msg  120 msg/s  ETA 0:04"


def test_bar_edges() -> None:
    assert format_bar(0, 1000, None, None, width=4) == "[....]   0.0% 0/1.0k msg  -- msg/s  ETA --:--"
    assert format_bar(0, 0, None, 0, width=4).startswith("[####] 100.0% 0/0 msg")  # nothing to replay
    assert format_bar(1200, 1000, 1.0, 0, width=4).startswith("[####] 100.0%")  # never past the end
    assert format_bar(1, 2, 1.0, 1, width=4).endswith("ETA 0:01")


def test_rate_and_eta() -> None:
    m = RateMeter(window=10)
    assert m.rate is None and m.eta(0, 100) is None
    m.add(0.0, 0)
    m.add(2.0, 50)
    assert m.rate == 25.0 and m.eta(50, 100) == 2.0
    assert m.eta(100, 100) == 0.0


def test_rate_forgets_old_samples() -> None:
    m = RateMeter(window=10)
    m.add(0.0, 0)
    m.add(1.0, 1000)  # a fast start ...
    for t in range(2, 30):
        m.add(float(t), 1000)  # ... then a stall
    assert m.rate == 0.0 and m.eta(1000, 2000) is None


def test_bar_without_a_terminal_writes_whole_lines() -> None:
    out = io.StringIO()
    bar = Bar(10, label="x", out=out, every=3600)
    bar.update(1)  # drawn: first update
    bar.update(2)  # throttled
    bar.close(10)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in out.getvalue()
    assert lines[-1].startswith("x [" + "#" * 30 + "] 100.0% 10/10 msg")
