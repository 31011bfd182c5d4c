"""The progress shown on stderr by `check` and `replay`, drawn by `rich.progress`.

On a terminal, rich's live bar redraws in place (description, bar, percentage, done/total,
rate, ETA). Anywhere else (CI, a log file, a pipe) rich's live display stays silent until it
stops, then prints one final frame: a run that hangs would leave nothing in the log. So
off a terminal the same task is printed as one plain line every `every` seconds and once at
the end, by a Console with `force_terminal=False` and no colour: no cursor movement and no
escape codes, whatever FORCE_COLOR or TTY_COMPATIBLE say, and the log keeps a history of
the rate. Rate and ETA are rich's, estimated over the last 10 s of updates.
"""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """`1,234 msg/s`; `-- msg/s` while the last 10 s hold fewer than two updates that moved."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.speed
        return Text(f"{'--' if speed is None else f'{speed:,.0f}'} {self.unit}/s", style="progress.data.speed")


class Bar:
    """One progress task on `out` (stderr by default); use as a context manager, or call close()."""

    def __init__(self, total: int, label: str = "", unit: str = "msg", out: TextIO | None = None,
                 every: float = 5.0) -> None:
        out = out or sys.stderr
        self.every = every
        self.tty = out.isatty() and os.environ.get("TERM", "").lower() not in ("dumb", "unknown")
        self.console = Console(file=out, force_terminal=self.tty, color_system="auto" if self.tty else None)
        columns = [TextColumn("{task.description}"), *([BarColumn()] if self.tty else []), TaskProgressColumn(),
                   MofNCompleteColumn(), RateColumn(unit), TextColumn("ETA"), TimeRemainingColumn()]
        self.progress = Progress(*columns, console=self.console, disable=not self.tty, speed_estimate_period=10.0,
                                 redirect_stdout=False, redirect_stderr=False)
        self.task = self.progress.add_task(label, total=total)
        self._last = float("-inf")
        self._shown: int | None = None  # the count of the last plain line
        self._closed = False
        self.progress.start()  # a no-op off a terminal (disabled)

    def update(self, done: int, force: bool = False) -> None:
        """Off a terminal: a line if `every` s have passed (a stall shows too), or if forced and `done` is new."""
        self.progress.update(self.task, completed=done)
        now = time.monotonic()
        if not self.tty and (done != self._shown if force else now - self._last >= self.every):
            self._last, self._shown = now, done
            self.console.print(self.progress.make_tasks_table(self.progress.tasks))

    def close(self, done: int | None = None) -> None:
        """Shows the last state (`done=None`: the last update's count) unless just shown, and stops. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.update(int(self.progress.tasks[0].completed) if done is None else done, force=True)
        self.progress.stop()

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
