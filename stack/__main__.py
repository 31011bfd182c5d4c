"""`python -m stack demo`: start Kafka, Redis, anvil and the Node backend as local processes,
deploy the launchpad, then run bridge + worker + API + webhook notifier + trade simulator until
Ctrl-C.

`python -m stack versions` prints the versions of the services the stack runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import kafka, node, redis
from .process import ROOT, Service, free_port, spawn


def write_env(path: Path, env: dict[str, str]) -> None:
    path.write_text("".join(f"{k}={v}\n" for k, v in sorted(env.items())))


def demo(workdir: Path, curves: int) -> int:
    # Every demo starts a fresh chain, so state from an earlier run would not match it.
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    services: list[Service] = []
    started = time.monotonic()
    try:
        services.append(kafka.start(workdir / "kafka"))
        services.append(redis.start(workdir / "redis"))
        services.append(node.start_anvil(workdir))
        services.append(node.start_backend(workdir, token="demo-token"))
        env: dict[str, str] = {}
        for s in services:
            env.update(s.urls)
        from simulator.chain import Launchpad

        env["BONDING_CURVE_FACTORY_ADDRESS"] = Launchpad(env["BLOCKCHAIN_HTTP_URL"]).deploy()
        env.update(START_BLOCK="0", BRIDGE_STATE_FILE=str(workdir / "bridge-checkpoint.json"),
                   DATA_DIR=str(workdir / "worker-data"), APP_ID="pads-demo", WEB_PORT=str(free_port()),
                   BRIDGE_WEB_PORT=str(free_port()), NOTIFY_PORT=str(free_port()),
                   PROCESSING_INTERVAL_MS="100", LOG_LEVEL="INFO", API_PORT=str(free_port()),
                   API_PUSH_URL=env["BACKEND_SOCKET_URL"])
        write_env(workdir / "env", env)
        penv = dict(os.environ, **env)
        py = sys.executable
        services.append(spawn("bridge", [py, "-m", "bridge"], workdir / "bridge.log", cwd=ROOT, env=penv))
        services.append(spawn("worker", [py, "-m", "faust", "-A", "pads_stream", "worker", "-l", "info"],
                              workdir / "worker.log", cwd=ROOT, env=penv))
        services.append(spawn("api", [py, "-m", "pads_stream", "api"], workdir / "api.log", cwd=ROOT, env=penv))
        services.append(spawn("notify", [py, "-m", "pads_stream", "notify"], workdir / "notify.log", cwd=ROOT,
                              env=penv))
        services.append(spawn("simulator", [py, "-m", "simulator", "--curves", str(curves)],
                              workdir / "simulator.log", cwd=ROOT, env=penv))
        chain = env["CHAIN_ID"]
        print(f"""
pads-stream demo is up in {time.monotonic() - started:.1f}s. Environment: {workdir / 'env'}

  chart       http://127.0.0.1:{env['API_PORT']}/   API docs: http://127.0.0.1:{env['API_PORT']}/docs

  Kafka       {env['KAFKA_BOOTSTRAP_SERVERS']}   topics pads.chain-logs, pads.dead-letters, pads.alert-rules,
              pads.market-events
  Redis       {env['REDIS_URL']}   try: redis-cli -u {env['REDIS_URL']} --scan --pattern 'pads:{chain}:*'
  anvil       {env['BLOCKCHAIN_HTTP_URL']}   factory {env['BONDING_CURVE_FACTORY_ADDRESS']}
  backend     {env['BACKEND_SOCKET_URL']}/stats
  worker      http://127.0.0.1:{env['WEB_PORT']}/health   /ready   /metrics
  bridge      http://127.0.0.1:{env['BRIDGE_WEB_PORT']}/health   /ready   /metrics
  notify      http://127.0.0.1:{env['NOTIFY_PORT']}/health   /metrics   (alert rules: /v1/alert-rules on the API)
  logs        {workdir}/*.log

Ctrl-C stops everything.""", flush=True)
        while all(s.proc.poll() is None for s in services):
            time.sleep(1)
        dead = [s for s in services if s.proc.poll() is not None]
        for s in dead:
            print(f"{s.name} exited ({s.proc.returncode}); last lines of {s.log_path}:\n{s.log_tail()}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for s in reversed(services):
            s.stop()


def versions() -> None:
    print(f"kafka {kafka.version()}\nredis {redis.version()}\nanvil {node.anvil_version()}")


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m stack", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="run the whole system on a local stack")
    d.add_argument("--dir", type=Path, default=ROOT / ".stack")
    d.add_argument("--curves", type=int, default=3)
    sub.add_parser("versions", help="print service versions")
    sub.add_parser("install", help="install Kafka jars, Redis, npm packages and compile contracts")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    if args.cmd == "demo":
        return demo(args.dir, args.curves)
    if args.cmd == "versions":
        versions()
        return 0
    kafka.install()
    redis.install()
    node.install()
    subprocess.run(["node", str(ROOT / "contracts" / "compile.js")], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
