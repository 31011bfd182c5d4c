"""Signatures against an HMAC computed by hand, and a fixed vector."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from pads_stream.notify.signature import sign, verify

BODY = b'{"id":"abc","type":"alert"}'


def reference(secret: str, t: int, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), str(t).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


@pytest.mark.parametrize("secret, t, body", [
    ("whsec_1", 1_700_000_000, BODY),
    ("", 0, b""),
    ("ünïcode", 1_732_442_523, "{\"x\":\"é\"}".encode()),
    ("s", 42, b"\x00\xff raw bytes"),
])
def test_sign_matches_an_independent_hmac(secret: str, t: int, body: bytes) -> None:
    assert sign(secret, t, body) == reference(secret, t, body)


def test_fixed_vector() -> None:
    # printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret
    assert sign("secret", 1_700_000_000, b'{"a":1}') == (
        "t=1700000000,v1=" + hmac.new(b"secret", b'1700000000.{"a":1}', hashlib.sha256).hexdigest())
    assert sign("secret", 1_700_000_000, b'{"a":1}') == (
        "t=1700000000,v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686")


def test_verify_accepts_its_own_signature_within_the_tolerance() -> None:
    header = sign("k", 1000, BODY)
    assert verify("k", header, BODY, now=1000)
    assert verify("k", header, BODY, now=1300)
    assert verify("k", header, BODY, now=700)


@pytest.mark.parametrize("secret, header_t, body, now", [
    ("other", 1000, BODY, 1000),               # wrong secret
    ("k", 1000, BODY + b" ", 1000),            # body changed by one byte
    ("k", 1000, BODY, 1301),                   # too old
    ("k", 1000, BODY, 699),                    # from the future
])
def test_verify_refuses(secret: str, header_t: int, body: bytes, now: float) -> None:
    assert not verify(secret, sign("k", header_t, BODY), body, now=now)


@pytest.mark.parametrize("header", [
    "", "t=1000", "v1=00", "t=x,v1=00", "garbage", "t=1000,v1=" + "0" * 64,
    # a signature of another timestamp under this t
    "t=1000," + sign("k", 1001, BODY).split(",")[1],
])
def test_verify_refuses_malformed_or_forged_headers(header: str) -> None:
    assert not verify("k", header, BODY, now=1000)


def test_verify_accepts_any_matching_v1_of_several() -> None:
    good = sign("k", 1000, BODY).split(",")[1]
    assert verify("k", f"t=1000,v1={'0' * 64},{good}", BODY, now=1000)
