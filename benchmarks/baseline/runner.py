"""Runs the Quix Streams baseline on the topic our workers just consumed and compares candles.

The baseline lives in its own virtualenv so that its dependencies (confluent-kafka, rocksdict,
its pydantic pins) never touch the product's; it is created on first use from the pinned
requirements next to this file.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import orjson
import redis

from pads_stream.mirror.redis_mirror import candle_member
from stack.process import ROOT

HERE = Path(__file__).resolve().parent
VENV = ROOT / ".venv-quix"
PYTHON = VENV / "bin" / "python"
REQUIREMENTS = HERE / "requirements.txt"


def ensure_venv() -> Path:
    """The baseline's interpreter, installing it (a minute, once) when missing or outdated."""
    stamp = VENV / ".requirements"
    wanted = REQUIREMENTS.read_text()
    if PYTHON.exists() and stamp.exists() and stamp.read_text() == wanted:
        return PYTHON
    print(f"installing the Quix Streams baseline into {VENV} ...", file=sys.stderr, flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(wanted)
    return PYTHON


def quix_env(env: dict[str, str], workdir: Path) -> dict[str, str]:
    """The same topic and Redis; its own consumer group, state directory and namespace."""
    return {**env, "APP_ID": env["APP_ID"] + "-quix", "REDIS_NAMESPACE": env["REDIS_NAMESPACE"] + "-quix",
            "STATE_DIR": str(workdir / "quix-state"), "PYTHONPATH": str(ROOT)}


def start(env: dict[str, str], workdir: Path) -> subprocess.Popen[bytes]:
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / "quix.log", "wb") as log:
        return subprocess.Popen([str(ensure_venv()), str(HERE / "quix_app.py")], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)


def _strip(member: bytes) -> tuple[int, bytes]:
    """A candle member without our finality flag, which the baseline has no notion of."""
    c = orjson.loads(member)
    c.pop("final", None)
    return c["t"], candle_member(c)


def _candles(r: redis.Redis, namespace: str) -> dict[str, dict[int, bytes]]:
    out: dict[str, dict[int, bytes]] = {}
    for key in r.scan_iter(match=f"{namespace}:*:candles:*", count=1000):
        tail = key.decode()[len(namespace):]
        out[tail] = dict(_strip(m) for m in r.zrange(key, 0, -1))
    return out


def compare(redis_url: str, ours: str, theirs: str) -> str:
    """'N candles equal' or the number that differ, with the first few."""
    r = redis.Redis.from_url(redis_url)
    try:
        a, b = _candles(r, ours), _candles(r, theirs)
    finally:
        r.close()
    diffs = [f"{key} t={t}" for key in sorted(a.keys() | b.keys())
             for t in sorted(a.get(key, {}).keys() | b.get(key, {}).keys())
             if a.get(key, {}).get(t) != b.get(key, {}).get(t)]
    total = sum(len(v) for v in a.values())
    if not diffs:
        return f"{total} candles equal"
    return f"{len(diffs)} of {total} candles differ (first: {', '.join(diffs[:3])})"

