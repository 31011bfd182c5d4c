"""Shared plumbing for services started as local processes: ports, readiness, shutdown."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class StackError(RuntimeError):
    """A local service could not be installed or started."""


ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    """Run an install step; its output is shown only when it fails."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise StackError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


@dataclass
class Service:
    """A running local process with the log file it writes to."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    urls: dict[str, str] = field(default_factory=dict)

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc.poll() is not None:
            return
        # Each service leads its own process group so children (npm -> node) die with it.
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def spawn(name: str, cmd: list[str], log_path: Path, cwd: Path | None = None,
          env: dict[str, str] | None = None) -> Service:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    return Service(name, proc, log_path)


def wait_until(service: Service, ready: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.proc.poll() is not None:
            raise StackError(f"{service.name} exited with {service.proc.returncode}:\n{service.log_tail()}")
        if ready():
            return
        time.sleep(0.1)
    service.stop()
    raise StackError(f"{service.name} not ready after {timeout:.0f}s:\n{service.log_tail()}")


def need_binary(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StackError(f"{name} not found: {hint}")
    return path
