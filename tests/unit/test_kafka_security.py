"""The Kafka security settings: validation naming the setting, no password in any error or repr,
and the kwargs handed to aiokafka and to Faust for each protocol."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path

import faust
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from bridge.settings import BridgeSettings
from pads_stream.engine.credentials import app_kwargs, broker_credentials
from pads_stream.errors import ConfigError
from pads_stream.kafka_security import PLAINTEXT, KafkaSecurity, refusal
from pads_stream.settings import WorkerSettings, kafka_security_of, worker_settings
from stack.process import free_port
from stack.tls import make_tls_files

SECRET = "hunter2-Kafka-Pw"
SASL = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "pads-worker", "KAFKA_SASL_PASSWORD": SECRET}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    import os

    for name in list(os.environ):
        if name.startswith("KAFKA_"):
            monkeypatch.delenv(name)
    worker_settings.cache_clear()
    yield
    worker_settings.cache_clear()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_tls_files(tmp_path_factory.mktemp("tls"), clients=("pads",))


def error_of(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> str:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    worker_settings.cache_clear()
    with pytest.raises(ConfigError) as exc:
        worker_settings()
    return str(exc.value)


def test_plaintext_is_the_default_and_gives_aiokafka_nothing_more() -> None:
    s = worker_settings()
    assert s.kafka_security == PLAINTEXT
    assert s.kafka_security.aiokafka_kwargs() == {"security_protocol": "PLAINTEXT"}
    assert app_kwargs(s.kafka_security) == {}


def test_sasl_ssl_scram_builds_every_client_the_same_way(monkeypatch: pytest.MonkeyPatch, tls: dict[str, Path]) -> None:
    for k, v in {**SASL, "KAFKA_SSL_CAFILE": str(tls["ca"]), "KAFKA_SASL_MECHANISM": "scram-sha-512"}.items():
        monkeypatch.setenv(k, v)
    sec = worker_settings().kafka_security
    kw = sec.aiokafka_kwargs()
    assert isinstance(kw.pop("ssl_context"), ssl.SSLContext)
    assert kw == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                  "sasl_plain_username": "pads-worker", "sasl_plain_password": SECRET}
    assert sec.ssl_context is not None and sec.ssl_context.check_hostname
    assert sec.ssl_context.verify_mode == ssl.CERT_REQUIRED
    # Faust maps its credentials onto the same aiokafka kwargs, for its consumer and producer.
    creds = app_kwargs(sec)["broker_credentials"]
    assert isinstance(creds, faust.SASLCredentials)
    assert credentials_to_aiokafka_auth(creds) == {**kw, "ssl_context": sec.ssl_context}
    # The bridge reads the same settings.
    bridge = BridgeSettings(BLOCKCHAIN_WS_URL="ws://127.0.0.1:8545",  # type: ignore[call-arg]
                            BONDING_CURVE_FACTORY_ADDRESS="0x" + "ab" * 20)
    assert bridge.kafka_security.aiokafka_kwargs().keys() == sec.aiokafka_kwargs().keys()
    # Nothing prints the password.
    for text in (repr(worker_settings()), repr(sec), str(sec), repr(creds), sec.describe()):
        assert SECRET not in text


def test_sasl_plaintext_and_ssl_and_mtls(tls: dict[str, Path]) -> None:
    plain = kafka_security_of({**SASL, "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"})
    assert plain.aiokafka_kwargs()["security_protocol"] == "SASL_PLAINTEXT" and plain.ssl_context is None
    creds = broker_credentials(plain)
    assert credentials_to_aiokafka_auth(creds)["security_protocol"] == "SASL_PLAINTEXT"
    assert credentials_to_aiokafka_auth(creds)["sasl_mechanism"] == "SCRAM-SHA-512"

    mtls = kafka_security_of({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": str(tls["ca"]),
                              "KAFKA_SSL_CERTFILE": str(tls["pads-cert"]), "KAFKA_SSL_KEYFILE": str(tls["pads-key"]),
                              "KAFKA_SSL_CHECK_HOSTNAME": "false"})
    kw = mtls.aiokafka_kwargs()
    assert kw["security_protocol"] == "SSL" and "sasl_mechanism" not in kw
    assert not kw["ssl_context"].check_hostname and kw["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    creds = broker_credentials(mtls)
    assert isinstance(creds, faust.SSLCredentials)
    assert credentials_to_aiokafka_auth(creds) == {"security_protocol": "SSL", "ssl_context": mtls.ssl_context}
    assert "client certificate" in mtls.describe()


@pytest.mark.parametrize(("env", "message"), [
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
     "KAFKA_SASL_MECHANISM: required with KAFKA_SECURITY_PROTOCOL=SASL_SSL"),
    ({**SASL, "KAFKA_SASL_USERNAME": ""}, "KAFKA_SASL_USERNAME: required with KAFKA_SECURITY_PROTOCOL=SASL_SSL"),
    ({**SASL, "KAFKA_SASL_PASSWORD": ""}, "KAFKA_SASL_PASSWORD: required with KAFKA_SECURITY_PROTOCOL=SASL_SSL"),
    ({"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": SECRET},
     "KAFKA_SASL_USERNAME: set, but KAFKA_SECURITY_PROTOCOL=PLAINTEXT sends no SASL credentials"),
    ({**SASL, "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "PLAIN"},
     "PLAIN over SASL_PLAINTEXT sends the password in the clear"),
    ({"KAFKA_SSL_CAFILE": "/etc/ca.pem"}, "KAFKA_SSL_CAFILE: set, but KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use TLS"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": "/nonexistent/ca.pem"},
     "KAFKA_SSL_CAFILE: no such file '/nonexistent/ca.pem'"),
    ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL: Input should be 'PLAINTEXT', 'SSL'"),
    ({**SASL, "KAFKA_SASL_MECHANISM": "OAUTHBEARER"}, "KAFKA_SASL_MECHANISM: Input should be 'PLAIN'"),
])
def test_bad_combinations_name_the_setting_and_never_the_password(monkeypatch: pytest.MonkeyPatch,
                                                                   env: dict[str, str], message: str) -> None:
    text = error_of(monkeypatch, env)
    assert text.startswith("invalid configuration: ") and message in text, text
    assert SECRET not in text


def test_tls_files_that_do_not_load_name_the_setting(tmp_path: Path, tls: dict[str, Path]) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="^KAFKA_SSL_CAFILE: cannot load"):
        KafkaSecurity("SSL", ssl_cafile=str(junk)).checked()
    with pytest.raises(ConfigError, match="^KAFKA_SSL_CERTFILE/KAFKA_SSL_KEYFILE: cannot load"):
        KafkaSecurity("SSL", ssl_cafile=str(tls["ca"]), ssl_certfile=str(tls["pads-cert"]),
                      ssl_keyfile=str(tls["key"])).checked()  # another certificate's key
    with pytest.raises(ConfigError, match="KAFKA_SSL_KEYFILE: set without KAFKA_SSL_CERTFILE"):
        KafkaSecurity("SSL", ssl_keyfile=str(tls["pads-key"])).checked()


def test_tls_needs_the_loaded_context() -> None:
    with pytest.raises(ConfigError, match=r"\.checked\(\)"):
        KafkaSecurity("SSL").aiokafka_kwargs()


def test_the_worker_settings_error_for_the_password_field_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    # Even a field-level error on the password shows "***", not the value.
    from pydantic import ValidationError

    from pads_stream.settings import format_validation_error

    try:
        WorkerSettings.model_validate({"KAFKA_SASL_PASSWORD": ["not", SECRET]})
    except ValidationError as exc:
        text = format_validation_error(exc)
    assert "KAFKA_SASL_PASSWORD" in text and "(got ***)" in text and SECRET not in text


def test_refusal_is_none_when_nothing_answers() -> None:
    sec = kafka_security_of({**SASL, "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"})
    assert asyncio.run(refusal(f"127.0.0.1:{free_port()}", sec, timeout_s=2)) is None
    assert asyncio.run(refusal("127.0.0.1:9", PLAINTEXT)) is None
