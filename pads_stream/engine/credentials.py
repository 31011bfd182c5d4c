"""The Faust app's broker credentials from the project's `KafkaSecurity` (the one place that
knows how Faust spells them).

faust-streaming 0.15.3 hands `broker_credentials` to every aiokafka client it makes (the
worker's consumer, the client-only consumer, the producer, and the topic creation that rides
on them) through `credentials_to_aiokafka_auth`, which maps:

    SSLCredentials(context)                                  -> SSL
    SASLCredentials(username, password, mechanism)           -> SASL_PLAINTEXT
    SASLCredentials(..., ssl_context=context)                -> SASL_SSL

`SASLCredentials` takes any `SASLMechanism`, SCRAM-SHA-256 and SCRAM-SHA-512 included, and its
repr shows the user only. OAUTHBEARER would need a token provider object (`OAuthCredentials`),
not a password: not offered (see README, Security).
"""

from __future__ import annotations

from typing import Any

import faust

from ..kafka_security import KafkaSecurity


def broker_credentials(security: KafkaSecurity) -> faust.auth.Credentials | None:
    if security.protocol == "PLAINTEXT":
        return None
    if security.protocol == "SSL":
        return faust.SSLCredentials(security.ssl_context)
    assert security.sasl_password is not None and security.sasl_mechanism is not None  # KafkaSecurity.checked()
    return faust.SASLCredentials(username=security.sasl_username, password=security.sasl_password.get_secret_value(),
                                 mechanism=security.sasl_mechanism,
                                 ssl_context=security.ssl_context if security.protocol == "SASL_SSL" else None)


def app_kwargs(security: KafkaSecurity) -> dict[str, Any]:
    """What `faust.App(...)` takes for this security: nothing for PLAINTEXT."""
    credentials = broker_credentials(security)
    return {} if credentials is None else {"broker_credentials": credentials}
