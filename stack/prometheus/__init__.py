"""Prometheus from Debian's package: one server per test on a free port, scraping given
targets every second, with the project's alerting rules loaded (`alerts.yml`)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..process import Service, StackError, free_port, port_open, run, spawn, wait_until

RULES = Path(__file__).with_name("alerts.yml")


def install() -> str:
    path = shutil.which("prometheus")
    if path:
        return path
    run(["apt-get", "update", "-qq"])
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"])
    path = shutil.which("prometheus")
    if path is None:
        raise StackError("prometheus still missing after apt-get install")
    return path


def config(targets: dict[str, list[str]], rules: Path = RULES) -> str:
    """A scrape config: job name -> host:port targets, each scraped at /metrics every second."""
    jobs = "".join(f"  - job_name: {job}\n    static_configs:\n      - targets: [{', '.join(repr(t) for t in ts)}]\n"
                   for job, ts in sorted(targets.items()))
    return (f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {rules}\n"
            f"scrape_configs:\n{jobs}")


def start(workdir: Path, targets: dict[str, list[str]]) -> Service:
    binary = install()
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "prometheus.yml").write_text(config(targets))
    svc = spawn("prometheus", [binary, f"--config.file={workdir / 'prometheus.yml'}",
                               f"--web.listen-address=127.0.0.1:{port}", f"--storage.tsdb.path={workdir / 'data'}"],
                workdir / "prometheus.log")
    wait_until(svc, lambda: port_open(port), 30)
    svc.urls["PROMETHEUS_URL"] = f"http://127.0.0.1:{port}"
    return svc
