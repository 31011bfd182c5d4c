"""The rebuild step of `replay`: one worker subprocess, watched through the group's
committed offsets until it has caught up.

Done means: the raw-log topic's committed offsets reached the end offsets taken at start.
The candle agent acks a log only after Redis has what it changed, so that means the last
candle is in Redis.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import TopicPartition

from ..settings import WorkerSettings
from . import OpsError, kafka
from .checksum import redis_checksum
from .progress import Bar

POLL_S = 0.5
STOP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_worker(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    fd, name = tempfile.mkstemp(prefix="pads-replay-worker-", suffix=".log")
    cmd = [sys.executable, "-m", "faust", "-A", "pads_stream", "worker", "-l", "warn"]
    # Own session: a Ctrl-C on replay reaches only replay, which then stops the worker itself.
    proc = subprocess.Popen(cmd, env={**env, "WEB_PORT": str(free_port())}, stdout=fd, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    os.close(fd)
    print(f"worker started: pid {proc.pid}, log {name}")
    return proc, Path(name)


def stop_worker(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


async def wait_caught_up(s: WorkerSettings, group: str, raw: list[TopicPartition], begin: dict[TopicPartition, int],
                         end: dict[TopicPartition, int], deadline: float, proc: subprocess.Popen[bytes],
                         log: Path) -> None:
    total = sum(end[tp] - begin[tp] for tp in raw)
    async with kafka.admin(s.kafka_bootstrap_servers, s.kafka_security) as client:
        with Bar(total, label="rebuild") as bar:  # stopped before any error is printed
            while True:
                if proc.poll() is not None:
                    raise OpsError(f"the worker exited with code {proc.returncode}:\n{tail(log)}")
                committed = await kafka.committed(client, group, raw)
                done = sum(min(max(committed[tp], begin[tp]), end[tp]) - begin[tp] for tp in raw)
                bar.update(done)
                if all(committed[tp] >= end[tp] for tp in raw):
                    return
                if time.monotonic() > deadline:
                    raise OpsError(f"timed out: {done}/{total} raw-log messages committed; "
                                   f"the rebuild is incomplete, run replay again (worker log: {log})")
                await asyncio.sleep(POLL_S)


async def rebuild(s: WorkerSettings, group: str, raw: list[TopicPartition], begin: dict[TopicPartition, int],
                  end: dict[TopicPartition, int], timeout_s: float, env: dict[str, str]) -> None:
    deadline = time.monotonic() + timeout_s
    proc, log = start_worker(env)
    try:
        await wait_caught_up(s, group, raw, begin, end, deadline, proc, log)
    finally:
        code = stop_worker(proc)
    print(f"worker stopped (exit code {code})")
    log.unlink(missing_ok=True)  # kept, and its tail shown, only when the rebuild failed
    digest = await redis_checksum(s.redis_url, s.redis_prefix)
    print(digest.line())
    print(f"replay complete: the normal workers of group {group} can be started again. A worker with another "
          f"DATA_DIR than {s.data_dir} must start with that directory emptied: its table state predates the replay.")
