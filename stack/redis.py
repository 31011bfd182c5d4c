"""Redis from Debian's package, one server per session on a free port."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .process import Service, StackError, free_port, port_open, run, spawn, wait_until


def install() -> str:
    path = shutil.which("redis-server")
    if path:
        return path
    run(["apt-get", "update", "-qq"])
    run(["apt-get", "install", "-y", "-qq", "redis-server"])
    path = shutil.which("redis-server")
    if path is None:
        raise StackError("redis-server still missing after apt-get install")
    return path


def start(workdir: Path, port: int | None = None, persist: bool = False) -> Service:
    binary = install()
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
            "--daemonize", "no", "--protected-mode", "no"]
    args += ["--appendonly", "yes"] if persist else ["--save", "", "--appendonly", "no"]
    svc = spawn("redis", args, workdir / "redis.log")
    wait_until(svc, lambda: port_open(port), 20)
    svc.urls["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    return svc


def version() -> str:
    out = subprocess.run([install(), "--version"], capture_output=True, text=True).stdout
    return out.split("v=")[1].split()[0] if "v=" in out else out.strip()
