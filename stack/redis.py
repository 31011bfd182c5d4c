"""Redis from Debian's package, one server per session on a free port."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .process import Service, StackError, free_port, port_open, run, spawn, wait_until
from .tls import make_tls_files


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


def start_tls(workdir: Path, user: str, password: str) -> Service:
    """Redis over TLS only, with the default user off and one ACL user. REDIS_URL verifies the
    server against the CA (redis-py reads `ssl_ca_certs` and `ssl_cert_reqs` from the URL)."""
    binary = install()
    port = free_port()
    files = make_tls_files(workdir / "tls")
    conf = workdir / "redis.conf"  # ACL lines hold spaces: a file, not arguments
    conf.write_text(f"user default off\nuser {user} on >{password} ~* &* +@all\n")
    args = [binary, str(conf), "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
            "--daemonize", "no", "--protected-mode", "no", "--save", "", "--appendonly", "no",
            "--tls-cert-file", str(files["cert"]), "--tls-key-file", str(files["key"]),
            "--tls-ca-cert-file", str(files["ca"]), "--tls-auth-clients", "no"]
    svc = spawn("redis-tls", args, workdir / "redis.log")
    wait_until(svc, lambda: port_open(port), 20)
    svc.urls["REDIS_URL"] = (f"rediss://{user}:{password}@127.0.0.1:{port}/0"
                             f"?ssl_ca_certs={files['ca']}&ssl_cert_reqs=required")
    svc.urls["REDIS_TLS_CA"] = str(files["ca"])
    return svc


def version() -> str:
    out = subprocess.run([install(), "--version"], capture_output=True, text=True).stdout
    return out.split("v=")[1].split()[0] if "v=" in out else out.strip()
