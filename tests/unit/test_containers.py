"""The container files, checked without a Docker engine.

`make compose-check` (part of `make lint`) checks the compose schema (docker-compose config) and
lints the Dockerfile (hadolint); these tests check what the project relies on: a multi-stage
build whose images run as non-root users, the one Python image with the files the chart page
serves, a worker that `docker compose up --scale worker=N` can start N times, and every variable
the compose file passes being a setting its service reads, with a value that validates.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from bridge.settings import BridgeSettings
from pads_stream.__main__ import _parser
from pads_stream.api import page
from pads_stream.api.settings import ApiSettings
from pads_stream.notify.settings import NotifySettings
from pads_stream.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[2]
PYTHON_SERVICES = {"bridge": BridgeSettings, "worker": WorkerSettings, "api": ApiSettings, "notify": NotifySettings}
SERVICES = {"kafka", "redis", "bridge", "worker", "api", "notify", "backend", "prometheus"}
# Passed to a service before it reads them (none now: WEB_HOST is a worker setting).
PENDING_SETTINGS: dict[str, set[str]] = {}
# What a user must give (`${VAR:?...}`), with values that validate.
REQUIRED = {"BONDING_CURVE_FACTORY_ADDRESS": "0x5fbdb2315678afecb367f032d93f642f64180aa3",
            "BACKEND_SOCKET_TOKEN": "secret"}


# --- Dockerfile ----------------------------------------------------------------------------------

class Stage:
    def __init__(self, base: str, name: str | None) -> None:
        self.base, self.name = base, name
        self.instructions: list[tuple[str, str]] = []

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def dockerfile_stages(text: str) -> list[Stage]:
    """FROM-separated stages of (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends in a line continuation"
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), " ".join(args.split())
        if keyword == "FROM":
            m = re.fullmatch(r"(?:--platform=\S+ )?(\S+)(?: AS (\S+))?", args, re.IGNORECASE)
            assert m, f"unreadable FROM {args!r}"
            stages.append(Stage(m[1], m[2]))
        elif stages:
            stages[-1].instructions.append((keyword, args))
    return stages


def env_keys(stage: Stage) -> set[str]:
    return {m[1] for args in stage.all("ENV") for m in re.finditer(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=", args)}


def copies(stage: Stage) -> list[tuple[str | None, list[str], str]]:
    """(--from stage or None for the build context, sources, absolute destination)."""
    out = []
    workdir = "/"
    for keyword, args in stage.instructions:
        if keyword == "WORKDIR":
            workdir = args if args.startswith("/") else f"{workdir.rstrip('/')}/{args}"
        elif keyword == "COPY":
            words = args.split()
            flags = {w.split("=", 1)[0]: w.split("=", 1)[-1] for w in words if w.startswith("--")}
            paths = [w for w in words if not w.startswith("--")]
            dest = paths[-1]
            if not dest.startswith("/"):
                dest = f"{workdir.rstrip('/')}/{dest.removeprefix('./')}"
            out.append((flags.get("--from"), paths[:-1], dest))
    return out


def copied_files(stage: Stage) -> set[str]:
    files = set()
    for _, sources, dest in copies(stage):
        for src in sources:
            files.add(dest + Path(src).name if dest.endswith("/") else dest)
    return files


@pytest.fixture(scope="module")
def stages() -> dict[str, Stage]:
    found = dockerfile_stages((ROOT / "Dockerfile").read_text())
    named = {s.name: s for s in found if s.name}
    assert len(named) == len(found), "every stage is named"
    # The default target (`docker build .`) is the Python runtime.
    assert found[-1].name == "runtime"
    return named


def test_the_build_is_multi_stage(stages: dict[str, Stage]) -> None:
    assert {"node-deps", "backend", "build", "runtime"} <= set(stages)
    runtime = stages["runtime"]
    # The runtime takes the built venv and leaves the compilers behind.
    assert any(frm == "build" and "/opt/venv" in sources for frm, sources, _ in copies(runtime))
    assert not any("build-essential" in args for args in runtime.all("RUN"))
    assert runtime.base == stages["build"].base, "the venv runs on the Python it was built with"


@pytest.mark.parametrize("target", ["runtime", "backend"])
def test_images_run_as_a_numeric_non_root_user(stages: dict[str, Stage], target: str) -> None:
    users = stages[target].all("USER")
    assert users, f"{target} sets no USER: it would run as root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) != 0, users[-1]
    assert not group or (group.isdigit() and int(group) != 0), users[-1]
    # Nothing after the USER switch needs root again.
    last_user = max(i for i, (kw, _) in enumerate(stages[target].instructions) if kw == "USER")
    assert not [args for kw, args in stages[target].instructions[last_user:] if kw == "RUN"]


def test_the_runtime_has_the_source_and_the_chart_pages_vendor_files(stages: dict[str, Stage]) -> None:
    runtime = stages["runtime"]
    files = copied_files(runtime)
    assert {"/app/pads_stream", "/app/bridge"} <= files
    assert any("PYTHONPATH=/app" in args for args in runtime.all("ENV"))
    # page.py serves them from <project root>/node_modules; in the image the root is /app.
    project_root = Path(page.__file__).resolve().parents[2]
    for path in page.VENDOR.values():
        assert f"/app/{path.relative_to(project_root).as_posix()}" in files, path


def test_the_backend_image_has_the_server_and_socket_io(stages: dict[str, Stage]) -> None:
    files = copied_files(stages["backend"])
    assert "/app/backend/server.js" in files and "/app/node_modules" in files
    assert stages["backend"].all("CMD") == ['["node", "backend/server.js"]']


def test_image_environment_names_settings(stages: dict[str, Stage]) -> None:
    known = set().union(*(aliases(cls) for cls in PYTHON_SERVICES.values()))
    own = {"PATH", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"}
    assert env_keys(stages["runtime"]) - own <= known


def test_dockerignore_lets_in_only_what_the_dockerfile_copies(stages: dict[str, Stage]) -> None:
    lines = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert lines[0] == "*", "an allowlist: .env, .venv, node_modules and .git stay out of the context"
    allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    from_context = {src.removeprefix("./").rstrip("/") for s in stages.values()
                    for frm, sources, _ in copies(s) if frm is None for src in sources}
    assert from_context <= allowed
    assert all((ROOT / name).exists() for name in allowed)


# --- docker-compose.yml --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def interpolate(value: object, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err} and $$."""
    def sub(m: re.Match[str]) -> str:
        if m[0] == "$$":
            return "$"
        name, op, arg = m["name"], m["op"] or "", m["arg"] or ""
        if name in env and (env[name] or not op.startswith(":")):
            return env[name]
        if op.endswith("-"):
            return arg
        if op.endswith("?"):
            raise KeyError(f"{name} is required: {arg}")
        return ""
    return re.sub(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}", sub, str(value))


def environment(service: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, str]:
    raw = service.get("environment") or {}
    assert isinstance(raw, dict), "environment as a mapping"
    return {k: interpolate(v, REQUIRED if env is None else env) for k, v in raw.items()}


def aliases(cls: type) -> set[str]:
    return {f.alias for f in cls.model_fields.values() if f.alias}  # type: ignore[attr-defined]


def test_the_whole_system(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SERVICES


def test_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["worker"]["command"][:4] == ["faust", "-A", "pads_stream", "worker"]
    assert services["bridge"]["command"] == ["python", "-m", "bridge"]
    assert (ROOT / "bridge" / "__main__.py").exists()
    assert services["api"]["command"] == ["python", "-m", "pads_stream", "api"]
    assert _parser().parse_args(["api"]).command == "api"
    assert services["notify"]["command"] == ["python", "-m", "pads_stream", "notify"]
    assert _parser().parse_args(["notify"]).command == "notify"
    for name in PYTHON_SERVICES:
        assert services[name]["build"]["target"] == "runtime"
        assert services[name]["image"] == services["worker"]["image"], "one image for the Python services"
    assert services["backend"]["build"]["target"] == "backend"


def test_the_worker_scales(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker, "a host port can be bound by one replica only"
    # Each replica its own table state: anonymous volumes only (no named volume, no bind mount).
    assert all(":" not in v for v in worker.get("volumes", []))
    assert environment(worker)["DATA_DIR"].startswith(tuple(worker.get("volumes", [])))


@pytest.mark.parametrize("name", sorted(PYTHON_SERVICES))
def test_python_services_get_only_their_settings(compose: dict[str, Any], name: str) -> None:
    env = environment(compose["services"][name])
    unknown = set(env) - aliases(PYTHON_SERVICES[name])
    assert unknown <= PENDING_SETTINGS.get(name, set()), f"{name} does not read {sorted(unknown)}"


@pytest.mark.parametrize("name", sorted(PYTHON_SERVICES))
def test_python_services_settings_validate(compose: dict[str, Any], name: str) -> None:
    env = environment(compose["services"][name])
    PYTHON_SERVICES[name](_env_file=None, **env)  # raises on an invalid value


def test_every_required_variable_is_known(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        try:
            environment(service, {})
        except KeyError as exc:
            assert exc.args[0].split()[0] in REQUIRED, f"{name}: {exc}"
    with pytest.raises(KeyError, match="BONDING_CURVE_FACTORY_ADDRESS"):
        environment(compose["services"]["bridge"], {})


def test_backend_gets_only_what_server_js_reads(compose: dict[str, Any]) -> None:
    reads = set(re.findall(r"process\.env\.([A-Z0-9_]+)", (ROOT / "backend" / "server.js").read_text()))
    env = environment(compose["services"]["backend"])
    assert set(env) <= reads
    assert env["HOST"] == "0.0.0.0"


def test_services_reach_each_other_by_name(compose: dict[str, Any]) -> None:
    services = compose["services"]
    worker = environment(services["worker"])
    for url in (worker["REDIS_URL"], worker["BACKEND_SOCKET_URL"], environment(services["api"])["REDIS_URL"],
                environment(services["notify"])["REDIS_URL"]):
        assert urlsplit(url).hostname in services, url
    backend_url = urlsplit(worker["BACKEND_SOCKET_URL"])
    assert str(backend_url.port) == environment(services["backend"])["PORT"]
    assert worker["BACKEND_SOCKET_TOKEN"] == environment(services["backend"])["BACKEND_SOCKET_TOKEN"]
    for name in ("bridge", "worker", "api", "notify"):
        for server in environment(services[name])["KAFKA_BOOTSTRAP_SERVERS"].split(","):
            assert server.split(":")[0] in services, server
            assert f"//{server}" in services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]


def test_healthchecks_probe_the_configured_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, port_var in (("worker", "WEB_PORT"), ("bridge", "BRIDGE_WEB_PORT"), ("api", "API_PORT"),
                           ("notify", "NOTIFY_PORT"), ("backend", "PORT")):
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{environment(services[name])[port_var]}/health" in probe, name


def test_prometheus_scrapes_the_workers_and_the_bridge_with_the_alerts(compose: dict[str, Any]) -> None:
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose["services"]["prometheus"]["volumes"] if v.startswith("./")}
    config_path = ROOT / mounts["/etc/prometheus/prometheus.yml"]
    assert (ROOT / mounts["/etc/prometheus/alerts.yml"]).resolve() == (ROOT / "stack/prometheus/alerts.yml").resolve()
    config = yaml.safe_load(config_path.read_text())
    assert config["rule_files"] == ["alerts.yml"]  # beside the config file in the container
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    worker_port = int(environment(compose["services"]["worker"])["WEB_PORT"])
    [sd] = jobs["worker"]["dns_sd_configs"]
    assert sd["names"] == ["worker"] and sd["type"] == "A" and sd["port"] == worker_port
    bridge = environment(compose["services"]["bridge"])
    assert bridge["BRIDGE_WEB_HOST"] == "0.0.0.0"
    assert jobs["bridge"]["static_configs"] == [{"targets": [f"bridge:{bridge['BRIDGE_WEB_PORT']}"]}]
    api = environment(compose["services"]["api"])
    assert jobs["api"]["static_configs"] == [{"targets": [f"api:{api['API_PORT']}"]}]
    notify = environment(compose["services"]["notify"])
    assert notify["NOTIFY_HOST"] == "0.0.0.0"
    assert jobs["notify"]["static_configs"] == [{"targets": [f"notify:{notify['NOTIFY_PORT']}"]}]


def test_each_kafka_client_logs_in_as_its_own_user(compose: dict[str, Any]) -> None:
    services = compose["services"]
    users = {name: services[name]["environment"]["KAFKA_SASL_USERNAME"] for name in ("bridge", "worker", "api", "notify")}
    assert len(set(users.values())) == len(users), users  # one ${X_KAFKA_USERNAME} each (README, Security)
