"""Throw-away TLS files for the local services (openssl): a CA, and certificates it signs."""

from __future__ import annotations

from pathlib import Path

from .process import run


def make_tls_files(workdir: Path, clients: tuple[str, ...] = ()) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and localhost, and one client certificate per
    name in `clients` (CN=name; keys `<name>-cert`, `<name>-key`). Keys are unencrypted PKCS#8."""
    workdir.mkdir(parents=True, exist_ok=True)
    ca, ca_key = workdir / "ca.pem", workdir / "ca.key"
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
         "-days", "2", "-subj", "/CN=pads-test-ca"])
    out = {"ca": ca}
    ext = workdir / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", *clients):
        cert, key, csr = workdir / f"{name}.pem", workdir / f"{name}.key", workdir / f"{name}.csr"
        run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
             "-subj", f"/CN={'localhost' if name == 'server' else name}"])
        run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
             "-out", str(cert), "-days", "2", *(["-extfile", str(ext)] if name == "server" else [])])
        prefix = "" if name == "server" else f"{name}-"
        out[f"{prefix}cert"], out[f"{prefix}key"] = cert, key
    return out
