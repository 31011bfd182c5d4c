"""The replay/check progress: rich's live bar on a terminal, plain throttled lines elsewhere."""

from __future__ import annotations

import io

import pytest

from pads_stream.ops.progress import Bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The result must not depend on the environment the tests run in (CI often sets FORCE_COLOR)."""
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)


def test_without_a_terminal_plain_lines_every_few_seconds() -> None:
    out = io.StringIO()
    with Bar(10_000, label="reading", out=out, every=3600) as bar:
        bar.update(1000)  # printed: the first update
        bar.update(2000)  # throttled
        bar.update(10_000)  # throttled; printed by the close
    text = out.getvalue()
    lines = text.splitlines()
    assert len(lines) == 2
    assert "\x1b" not in text and "\r" not in text  # no escape codes, no redraws, despite FORCE_COLOR
    assert lines[0].split()[:3] == ["reading", "10%", "1000/10000"]
    assert lines[1].split()[:3] == ["reading", "100%", "10000/10000"]
    assert "msg/s" in lines[1] and "ETA" in lines[1]


def test_rate_and_eta_in_the_plain_line(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    out = io.StringIO()
    bar = Bar(100, label="rebuild", out=out, every=0)
    monkeypatch.setattr(bar.progress, "get_time", lambda: now[0])
    bar.update(10)
    now[0] = 2.0
    bar.update(60)  # 50 more messages in 2 s: 25 msg/s, 40 left
    line = out.getvalue().splitlines()[-1]
    assert line.split() == ["rebuild", "60%", "60/100", "25", "msg/s", "ETA", "0:00:02"]


def test_rate_unknown_before_two_samples() -> None:
    out = io.StringIO()
    Bar(5, out=out).close(0)
    assert "-- msg/s" in out.getvalue() and "ETA -:--:--" in out.getvalue()


def test_close_is_idempotent_and_keeps_the_last_count() -> None:
    out = io.StringIO()
    bar = Bar(4, out=out, every=3600)
    bar.update(1)  # printed
    bar.update(3)  # throttled
    bar.close()  # prints 3/4
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "3/4" in lines[-1]


def test_the_last_line_is_not_repeated() -> None:
    out = io.StringIO()
    with Bar(4, out=out, every=0) as bar:
        bar.update(4)
    assert len(out.getvalue().splitlines()) == 1


def test_nothing_to_do_is_complete() -> None:
    out = io.StringIO()
    Bar(0, out=out).close(0)
    assert "0/0" in out.getvalue() and "ETA 0:00:00" in out.getvalue()


def test_a_terminal_gets_richs_live_bar() -> None:
    out = Terminal()
    with Bar(10, label="rebuild", out=out) as bar:
        bar.update(5)
    text = out.getvalue()
    assert "\x1b[?25l" in text  # rich hides the cursor while it redraws in place ...
    assert "\x1b[?25h" in text  # ... and shows it again when stopped
    assert "━" in text  # the bar
    last = text.rsplit("\r", 1)[-1]  # the final frame
    assert "rebuild" in last and "5/10" in last and "msg/s" in last


def test_a_dumb_terminal_gets_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    out = Terminal()
    with Bar(10, out=out, every=3600) as bar:
        bar.update(5)
    lines = out.getvalue().splitlines()
    assert "\x1b" not in out.getvalue() and len(lines) == 1 and "5/10" in lines[0]
