"""A carriage-return progress bar with rate and ETA (pure formatting + a small rate meter)."""

from __future__ import annotations

import sys
import time
from collections import deque
from typing import TextIO


def format_duration(seconds: float | None) -> str:
    """0:07, 12:34, 1:02:03; '--:--' when unknown."""
    if seconds is None or seconds != seconds or seconds < 0 or seconds == float("inf"):
        return "--:--"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_count(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}" if n == int(n) else f"{n:.1f}"


def format_bar(done: int, total: int, rate: float | None, eta: float | None, width: int = 30,
               label: str = "", unit: str = "msg") -> str:
    """`label [#####.....]  50.0% 500/1.0k msg  120 msg/s  ETA 0:04`. An empty total is complete."""
    frac = 1.0 if total <= 0 else min(max(done / total, 0.0), 1.0)
    filled = int(frac * width)
    bar = "#" * filled + "." * (width - filled)
    speed = "--" if rate is None else format_count(rate)
    head = f"{label} " if label else ""
    return (f"{head}[{bar}] {frac * 100:5.1f}% {format_count(done)}/{format_count(total)} {unit}  "
            f"{speed} {unit}/s  ETA {format_duration(eta)}")


class RateMeter:
    """Rate over the last `window` seconds of samples, so a stall shows within seconds."""

    def __init__(self, window: float = 10.0) -> None:
        self.window = window
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, done: int) -> None:
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[0][0] > self.window:
            self.samples.popleft()

    @property
    def rate(self) -> float | None:
        if len(self.samples) < 2:
            return None
        (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else None

    def eta(self, done: int, total: int) -> float | None:
        r = self.rate
        if done >= total:
            return 0.0
        return (total - done) / r if r else None


class Bar:
    """Draws on a terminal with \\r; elsewhere (a log file) prints a full line every `every` s."""

    def __init__(self, total: int, label: str = "", unit: str = "msg", out: TextIO | None = None,
                 every: float = 5.0) -> None:
        self.total, self.label, self.unit = total, label, unit
        self.out = out or sys.stderr
        self.tty = self.out.isatty()
        self.every = 0.2 if self.tty else every
        self.meter = RateMeter()
        self._last = float("-inf")
        self._drawn = False

    def update(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        self.meter.add(now, done)
        if not (force or now - self._last >= self.every):
            return
        self._last = now
        line = format_bar(done, self.total, self.meter.rate, self.meter.eta(done, self.total),
                          label=self.label, unit=self.unit)
        self.out.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
        self.out.flush()
        self._drawn = True

    def close(self, done: int) -> None:
        self.update(done, force=True)
        if self.tty and self._drawn:
            self.out.write("\n")
            self.out.flush()
