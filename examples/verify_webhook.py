"""Check a pads-stream webhook's X-Pads-Signature (Python 3.10+, standard library only).

    t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

Verify the raw request body, byte for byte, before parsing it: re-serialized JSON would not
match. Then drop the event if you have seen its X-Pads-Event-Id already (deliveries are
at-least-once). From the command line: WEBHOOK_SECRET=... python verify_webhook.py "<header>" < body
"""

import hashlib
import hmac
import os
import sys
import time


def verify(secret: str, header: str, body: bytes, now: float | None = None, tolerance: int = 300) -> bool:
    fields = [part.strip().partition("=") for part in header.split(",")]
    ts = [v for k, _, v in fields if k == "t"]
    sigs = [v for k, _, v in fields if k == "v1"]
    if len(ts) != 1 or not ts[0].isdigit() or not sigs:
        return False
    if abs((time.time() if now is None else now) - int(ts[0])) > tolerance:
        return False  # too old (or from the future): a replayed capture
    expected = hmac.new(secret.encode(), ts[0].encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, s) for s in sigs)


if __name__ == "__main__":
    ok = verify(os.environ["WEBHOOK_SECRET"], sys.argv[1], sys.stdin.buffer.read())
    print("ok" if ok else "bad signature")
    sys.exit(0 if ok else 1)
