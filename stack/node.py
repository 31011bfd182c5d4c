"""npm-installed tools: anvil (local EVM chain), solc (contracts), the reference backend."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path

from .process import ROOT, Service, StackError, free_port, need_binary, port_open, run, spawn, wait_until

NODE_MODULES = ROOT / "node_modules"


def install() -> None:
    """`npm install` from the lock file; skipped when node_modules already matches it."""
    need_binary("npm", "install Node.js >= 18 and npm")
    check_node()
    stamp = NODE_MODULES / ".pads-lock"
    lock = (ROOT / "package-lock.json").read_text()
    if stamp.exists() and stamp.read_text() == lock:
        return
    run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT)
    stamp.write_text(lock)


def anvil_binary() -> str:
    install()
    path = NODE_MODULES / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    if path.exists():
        return str(path)
    return str(NODE_MODULES / ".bin" / "anvil")


def _rpc(url: str, method: str, params: list[object] | None = None) -> object:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=2) as resp:
        return json.loads(resp.read())["result"]


def start_anvil(workdir: Path, port: int | None = None, chain_id: int = 31337,
                block_time: float | None = None, state_file: Path | None = None) -> Service:
    port = port or free_port()
    args = [anvil_binary(), "--port", str(port), "--host", "127.0.0.1", "--chain-id", str(chain_id),
            "--accounts", "20", "--balance", "1000000", "--silent"]
    if block_time:
        args += ["--block-time", str(block_time)]
    if state_file is not None:
        args += ["--state", str(state_file)]
    svc = spawn("anvil", args, workdir / "anvil.log")
    http = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if not port_open(port):
            return False
        try:
            return _rpc(http, "eth_chainId") is not None
        except OSError:
            return False

    wait_until(svc, ready, 30)
    svc.urls.update(BLOCKCHAIN_HTTP_URL=http, BLOCKCHAIN_WS_URL=f"ws://127.0.0.1:{port}",
                    CHAIN_ID=str(chain_id))
    return svc


def start_backend(workdir: Path, token: str, port: int | None = None, test_endpoints: bool = False,
                  alert_room_secret: str = "") -> Service:
    """The reference Node.js socket.io backend (backend/server.js); `test_endpoints` enables
    its /received and /reset (tests and benchmarks only); `alert_room_secret` opens the
    `alerts:<owner>` rooms to browsers that hold HMAC(secret, owner)."""
    install()
    port = port or free_port()
    env = dict(os.environ, PORT=str(port), BACKEND_SOCKET_TOKEN=token, HOST="127.0.0.1",
               BACKEND_TEST_ENDPOINTS="1" if test_endpoints else "0", ALERT_ROOM_SECRET=alert_room_secret)
    svc = spawn("backend", ["node", str(ROOT / "backend" / "server.js")], workdir / "backend.log",
                cwd=ROOT, env=env)

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    wait_until(svc, ready, 30)
    svc.urls.update(BACKEND_SOCKET_URL=f"http://127.0.0.1:{port}", BACKEND_SOCKET_TOKEN=token)
    return svc


def anvil_version() -> str:
    out = subprocess.run([anvil_binary(), "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0].replace("anvil Version: ", "") if out else "unknown"


def check_node() -> None:
    out = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    if not out.startswith("v") or int(out[1:].split(".")[0]) < 18:
        raise StackError(f"Node.js >= 18 needed, found {out or 'none'}")
