"""Kafka over SASL_SSL with SCRAM-SHA-512 and ACLs (one secured broker for the module): the whole
pipeline and an ops command run as their own principals, a wrong password stops the worker,
the bridge and the ops commands at start-up naming the settings, a principal without the
write ACL cannot forge raw logs, and a broker outage prints no password anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka.errors import TopicAuthorizationFailedError

from pads_stream.settings import kafka_security_of
from stack import kafka as local_kafka
from stack.process import ROOT, Service
from stack.tls import make_tls_files

from .conftest import Deployment, get_json, wait_for
from .driver import produce
from .test_pipeline import assert_exact
from .test_secrets import body

USERS = {"bridge": "bridge-Pw-4411x", "worker": "worker-Pw-5522x", "ops": "ops-Pw-6633x",
         "intruder": "intruder-Pw-7744x"}
RAW, APP, EVENTS = "secure.chain-logs", "pads-secure", "secure.market-events"
DEAD_LETTERS = f"{APP}-dead-letters"
# What README (Security) recommends, on this module's names.
ACLS = [
    # Only the bridge writes the raw-log topic (idempotent producer), and may create it.
    local_kafka.Acl("bridge", ("Write", "Describe", "Create", "DescribeConfigs"), topics=(RAW,)),
    local_kafka.Acl("bridge", ("IdempotentWrite",), cluster=True),
    # The worker reads it, and owns every topic and group named after its APP_ID: the changelog,
    # Faust's assignor topic, the dead letters (DEAD_LETTER_TOPIC={APP_ID}-dead-letters), its group.
    local_kafka.Acl("worker", ("Read", "Describe", "DescribeConfigs", "Create"), topics=(RAW,)),
    local_kafka.Acl("worker", ("All",), topics=(APP,), groups=(APP,), prefixed=True),
    # It writes the domain events and alerts (market data and events are on by default), and creates the topic.
    local_kafka.Acl("worker", ("Write", "Describe", "Create"), topics=(EVENTS,)),
    # `check` reads the raw-log topic without a group.
    local_kafka.Acl("ops", ("Read", "Describe"), topics=(RAW,)),
]
WRONG = "not-the-Pw-9090x"


@dataclass
class SecureKafka:
    svc: Service
    secure: local_kafka.Secure
    dir: Path

    @property
    def env(self) -> dict[str, str]:
        return {k: v for k, v in self.svc.urls.items() if k != "KAFKA_ADMIN_PROPERTIES"}

    def restart(self) -> None:
        self.svc.log_path.rename(self.svc.log_path.with_suffix(".log.1"))  # start() waits for a fresh "started"
        port = int(self.svc.urls["KAFKA_BOOTSTRAP_SERVERS"].rsplit(":", 1)[1])
        self.svc = local_kafka.start(self.dir, port=port, secure=self.secure)


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureKafka]:
    workdir = tmp_path_factory.mktemp("secure-kafka")
    secure = local_kafka.Secure(dict(USERS))
    k = SecureKafka(local_kafka.start(workdir, secure=secure), secure, workdir)
    try:
        local_kafka.add_acls(k.svc, ACLS)
        yield k
    finally:
        k.svc.stop()


def as_user(name: str, password: str | None = None) -> dict[str, str]:
    return {"KAFKA_SASL_USERNAME": name, "KAFKA_SASL_PASSWORD": password or USERS[name]}


@pytest.fixture
def secured(deployment: Deployment, secure_kafka: SecureKafka) -> Deployment:
    """The test's deployment on the secured broker, with the module's topic and group names; its
    own commands (check) run as the ops principal."""
    deployment.env.update(secure_kafka.env, RAW_LOG_TOPIC=RAW, APP_ID=APP, DEAD_LETTER_TOPIC=DEAD_LETTERS,
                          MARKET_EVENTS_TOPIC=EVENTS, **as_user("ops"))
    return deployment


def run_ops(d: Deployment, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pads_stream", *args], env={**os.environ, **d.env, **extra},
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def no_secret(where: str, text: str) -> None:
    for user, password in USERS.items():
        assert password not in text, f"{where} shows {user}'s Kafka password"
    assert WRONG not in text, f"{where} shows the wrong password"


def test_the_pipeline_runs_on_sasl_ssl_scram_with_acls_and_an_outage_shows_no_password(
        secured: Deployment, secure_kafka: SecureKafka) -> None:
    d = secured
    assert d.env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL" and d.env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    curve = d.pad.create_curve("Secure", "SEC")
    bridge = d.start_bridge(**as_user("bridge"))
    worker = d.start_worker(**as_user("worker"))
    for i in range(3):
        d.pad.buy(curve, d.pad.accounts[2 + i], 10**17)
    assert_exact(d, timeout=90)
    check = run_ops(d, "check", "--no-progress")  # as the ops principal, which may only read
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]

    # The broker goes away: the bridge says so in /health; nobody prints a password meanwhile.
    secure_kafka.svc.stop()
    d.pad.buy(curve, d.pad.accounts[6], 10**17)
    wait_for(lambda: "Kafka has not acknowledged" in body(bridge.urls["health"])[1], 60,
             "the bridge's /health to say Kafka is away")
    wait_for(lambda: "consumer lag unknown" in body(worker.urls["health"].replace("/health", "/ready"))[1], 60,
             "the worker's /ready to say Kafka is away")
    shown = {
        "bridge log": bridge.log_path.read_text(errors="replace"),
        "worker log": worker.log_path.read_text(errors="replace"),
        "bridge /health": body(bridge.urls["health"])[1],
        "worker /health": body(worker.urls["health"])[1],
        "worker /ready": body(worker.urls["health"].replace("/health", "/ready"))[1],
    }
    away = run_ops(d, "check", "--no-progress")
    assert away.returncode != 0 and "KAFKA_BOOTSTRAP_SERVERS: cannot reach" in away.stderr, away.stderr[-2000:]
    shown["check while away"] = away.stdout + away.stderr
    for where, text in shown.items():
        no_secret(where, json.dumps(text))

    secure_kafka.restart()
    wait_for(lambda: get_json(bridge.urls["health"])[0] == 200, 90, "the bridge's /health to be 200 again")
    assert_exact(d, timeout=90)
    assert bridge.proc.poll() is None and worker.proc.poll() is None
    no_secret("bridge log", bridge.log_path.read_text(errors="replace"))
    no_secret("worker log", worker.log_path.read_text(errors="replace"))


def test_a_wrong_password_stops_the_worker_the_bridge_and_ops_at_start_up(secured: Deployment) -> None:
    d = secured
    refused = "KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD: Kafka refused the SASL credentials"

    check = run_ops(d, "check", "--no-progress", **as_user("ops", WRONG))
    assert check.returncode == 2 and refused in check.stderr, check.stderr[-2000:]
    no_secret("check", check.stdout + check.stderr)

    bad = {**os.environ, **d.env, **as_user("worker", WRONG), "DATA_DIR": str(d.dir / "bad-worker"), "WEB_PORT": "0"}
    worker = subprocess.run([sys.executable, "-m", "faust", "-A", "pads_stream", "worker", "-l", "info"], env=bad,
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=90)
    assert worker.returncode != 0, worker.stdout[-2000:]
    assert refused in worker.stdout and "for user 'worker'" in worker.stdout, worker.stdout[-2000:]
    no_secret("worker", worker.stdout)

    env = {**os.environ, **d.env, **as_user("bridge", WRONG), "BRIDGE_WEB_PORT": "0"}
    bridge = subprocess.run([sys.executable, "-m", "bridge"], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=90)
    assert bridge.returncode == 2 and refused in bridge.stderr, bridge.stderr[-2000:]
    no_secret("bridge", bridge.stdout + bridge.stderr)

    # A CA that did not sign the broker's certificate: named, not retried.
    other_ca = make_tls_files(d.dir / "other-ca")["ca"]
    untrusted = run_ops(d, "check", "--no-progress", KAFKA_SSL_CAFILE=str(other_ca))
    assert untrusted.returncode == 2, untrusted.stderr[-2000:]
    assert "KAFKA_SSL_CAFILE: the certificate of the broker at" in untrusted.stderr, untrusted.stderr[-2000:]

    # A setting missing for the protocol is a settings error, before any connection.
    missing = run_ops(d, "check", KAFKA_SASL_PASSWORD="")
    assert missing.returncode == 2
    assert "KAFKA_SASL_PASSWORD: required with KAFKA_SECURITY_PROTOCOL=SASL_SSL" in missing.stderr, missing.stderr


@pytest.mark.parametrize("user", ["worker", "intruder"])
def test_only_the_bridge_principal_may_write_the_raw_log_topic(secured: Deployment, user: str) -> None:
    d = secured
    bootstrap = d.env["KAFKA_BOOTSTRAP_SERVERS"]
    # The bridge may (and makes sure the topic exists for the others' attempts).
    produce(bootstrap, RAW, [(b"\x00probe", b"from the bridge")], kafka_security_of({**d.env, **as_user("bridge")}))
    with pytest.raises(TopicAuthorizationFailedError):
        produce(bootstrap, RAW, [(b"forged", b'{"forged": true}')], kafka_security_of({**d.env, **as_user(user)}))
