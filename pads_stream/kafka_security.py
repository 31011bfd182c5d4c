"""How every Kafka client of the project authenticates: one value built from the KAFKA_SECURITY_*,
KAFKA_SASL_* and KAFKA_SSL_* settings, shared by the worker, the bridge, the ops commands and the
benchmarks.

    PLAINTEXT        nothing (the default; for a private network only)
    SSL              TLS; the broker verified against KAFKA_SSL_CAFILE (or the system's CAs),
                     and a client certificate when KAFKA_SSL_CERTFILE is set (mTLS)
    SASL_PLAINTEXT   a SASL user and password over plain TCP (for tests and private networks)
    SASL_SSL         a SASL user and password over TLS (Confluent Cloud, MSK, Aiven, ...)

`aiokafka_kwargs()` is what `AIOKafkaProducer/Consumer/AdminClient(...)` take; the Faust app's
credentials are made from the same value in `pads_stream.engine.credentials`. The password is a
`SecretStr`: its repr is masked, and it is read only where a client is built.

A client that cannot log in does not say why: aiokafka logs the SASL error and raises
`KafkaConnectionError("Unable to bootstrap …")`, the same as for a broker that is away (which
callers may wait for). `refusal()` opens one connection to find out, so start-up can stop with
the setting to fix instead.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from aiokafka.conn import create_conn
from aiokafka.errors import (
    AuthenticationFailedError,
    IllegalSaslStateError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.helpers import create_ssl_context
from pydantic import SecretStr

from .errors import ConfigError

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
PROTOCOLS: tuple[str, ...] = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS: tuple[str, ...] = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
# Settings whose values are never printed, not even redacted (settings errors print "***").
SECRET_SETTINGS = frozenset({"KAFKA_SASL_PASSWORD"})
REFUSED = "Kafka refused the SASL credentials"


def _no_key_password() -> bytes:
    # Without a callback OpenSSL would prompt on the terminal for an encrypted key's passphrase.
    raise ValueError("the key is encrypted: give an unencrypted PEM key (openssl pkey -in KEY -out PLAIN)")


@dataclass(frozen=True)
class KafkaSecurity:
    """The client side of a Kafka listener. Build it through `checked()` (the settings do),
    which validates the combination and loads the TLS files once, off any event loop."""

    protocol: Protocol = "PLAINTEXT"
    sasl_mechanism: Mechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_check_hostname: bool = True
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    @property
    def sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def problems(self) -> list[str]:
        """What is wrong with the combination, each naming the setting to fix (pure)."""
        out: list[str] = []
        p = f"KAFKA_SECURITY_PROTOCOL={self.protocol}"
        if self.sasl:
            if not self.sasl_mechanism:
                out.append(f"KAFKA_SASL_MECHANISM: required with {p} (one of {', '.join(MECHANISMS)})")
            if not self.sasl_username:
                out.append(f"KAFKA_SASL_USERNAME: required with {p}")
            if self.sasl_password is None or not self.sasl_password.get_secret_value():
                out.append(f"KAFKA_SASL_PASSWORD: required with {p}")
        else:
            for name, value in (("KAFKA_SASL_MECHANISM", self.sasl_mechanism),
                                ("KAFKA_SASL_USERNAME", self.sasl_username),
                                ("KAFKA_SASL_PASSWORD", self.sasl_password)):
                if value:
                    out.append(f"{name}: set, but {p} sends no SASL credentials (use SASL_SSL or SASL_PLAINTEXT)")
        if not self.tls:
            for name, value in (("KAFKA_SSL_CAFILE", self.ssl_cafile), ("KAFKA_SSL_CERTFILE", self.ssl_certfile),
                                ("KAFKA_SSL_KEYFILE", self.ssl_keyfile)):
                if value:
                    out.append(f"{name}: set, but {p} does not use TLS (use SSL or SASL_SSL)")
        elif self.ssl_keyfile and not self.ssl_certfile:
            out.append("KAFKA_SSL_KEYFILE: set without KAFKA_SSL_CERTFILE (the client certificate it belongs to)")
        if self.protocol == "SASL_PLAINTEXT" and self.sasl_mechanism == "PLAIN":
            out.append("KAFKA_SASL_MECHANISM: PLAIN over SASL_PLAINTEXT sends the password in the clear: "
                       "use SASL_SSL, or SCRAM-SHA-256/512")
        return out

    def checked(self) -> KafkaSecurity:
        """This value validated, with its TLS context loaded; ConfigError naming the setting otherwise."""
        problems = self.problems()
        if problems:
            raise ConfigError("; ".join(problems))
        if not self.tls:
            return self
        for name, path in (("KAFKA_SSL_CAFILE", self.ssl_cafile), ("KAFKA_SSL_CERTFILE", self.ssl_certfile),
                           ("KAFKA_SSL_KEYFILE", self.ssl_keyfile)):
            if path and not Path(path).is_file():
                raise ConfigError(f"{name}: no such file {path!r}")
        try:
            context = create_ssl_context(cafile=self.ssl_cafile)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"KAFKA_SSL_CAFILE: cannot load {self.ssl_cafile!r}: {exc}") from None
        if self.ssl_certfile:
            try:  # what create_ssl_context(certfile=, keyfile=) does, with an error naming the setting
                context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile, _no_key_password)
            except (ssl.SSLError, OSError, ValueError) as exc:
                raise ConfigError(f"KAFKA_SSL_CERTFILE/KAFKA_SSL_KEYFILE: cannot load the client certificate "
                                  f"and key: {exc}") from None
        if not self.ssl_check_hostname:
            context.check_hostname = False  # the certificate chain is still verified
        return replace(self, ssl_context=context)

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """`security_protocol`, `sasl_*` and `ssl_context` for any aiokafka client."""
        out: dict[str, Any] = {"security_protocol": self.protocol}
        if self.tls:
            if self.ssl_context is None:
                raise ConfigError("Kafka TLS settings were not loaded (build KafkaSecurity with .checked())")
            out["ssl_context"] = self.ssl_context
        if self.sasl:
            assert self.sasl_password is not None  # checked()
            out.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                       sasl_plain_password=self.sasl_password.get_secret_value())
        return out

    def describe(self) -> str:
        """For log lines: the protocol, mechanism and user; never the password."""
        if self.sasl:
            return f"{self.protocol} {self.sasl_mechanism} as {self.sasl_username}"
        return self.protocol + (" with a client certificate" if self.ssl_certfile else "")


PLAINTEXT = KafkaSecurity()


async def refusal(bootstrap: str, security: KafkaSecurity, timeout_s: float = 10.0) -> ConfigError | None:
    """Why the brokers refuse this client, as an error naming the settings to fix; None when the
    credentials and certificates were accepted, or no broker answered at all (then the caller's
    own error, "cannot reach …", is the right one). The message never holds the password."""
    if security.protocol == "PLAINTEXT":
        return None
    for server in (s.strip() for s in bootstrap.split(",") if s.strip()):
        host, _, port = server.rpartition(":")
        try:
            conn = await asyncio.wait_for(create_conn(
                host.strip("[]") or server, int(port or 9092), request_timeout_ms=int(timeout_s * 1000),
                **security.aiokafka_kwargs()), timeout_s)
        except (SaslAuthenticationFailed, AuthenticationFailedError, IllegalSaslStateError) as exc:
            return ConfigError(f"KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD: {REFUSED} for user "
                               f"{security.sasl_username!r} ({security.sasl_mechanism} over {security.protocol} at "
                               f"{server}: {_plain(exc)})")
        except UnsupportedSaslMechanismError as exc:
            return ConfigError(f"KAFKA_SASL_MECHANISM: the broker at {server} does not offer "
                               f"{security.sasl_mechanism} ({_plain(exc)})")
        except ssl.SSLCertVerificationError as exc:
            return ConfigError(f"KAFKA_SSL_CAFILE: the certificate of the broker at {server} does not verify "
                               f"({exc.verify_message}; KAFKA_SSL_CHECK_HOSTNAME={security.ssl_check_hostname})")
        except ssl.SSLError as exc:
            return ConfigError(f"KAFKA_SECURITY_PROTOCOL={security.protocol}: the TLS handshake with {server} "
                               f"failed ({exc.reason or exc}); is that listener TLS, and does it want a client "
                               "certificate (KAFKA_SSL_CERTFILE)?")
        except (OSError, KafkaError, TimeoutError, ValueError):
            continue  # away, or not answering: not a credentials problem
        conn.close()
        return None
    return None


def _plain(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if type(exc).__name__ in text else f"{type(exc).__name__}: {text}"
