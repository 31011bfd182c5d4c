"""The reference backend checks what browsers send: room names, rooms per connection, and
its test-only endpoints."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import socketio

from stack import node
from stack.process import Service

TOKEN = "0x" + "ab" * 20


def subscribe(client: socketio.SimpleClient, room: object) -> dict[str, object]:
    answer: dict[str, object] = client.call("subscribe", room, timeout=5)
    return answer


@pytest.mark.parametrize("room, error", [
    (f"candles:{TOKEN}:1m", None),
    (f"candles:{TOKEN}:1d", None),
    (f"trades:{TOKEN}", None),
    (f"candles:{TOKEN}:2m", "unknown interval 2m"),
    (f"candles:{TOKEN}:60m", "unknown interval 60m"),  # labels are normalised by the worker: 1h
    (f"candles:{TOKEN.upper()}:1m", "room must be"),
    (f"candles:{TOKEN[:-1]}:1m", "room must be"),
    ("candles:0xabc:1m", "room must be"),
    ("listener", "room must be"),
    (f"trades:{TOKEN}:extra", "room must be"),
    (42, "not a room name"),
    ("x" * 500, "not a room name"),
])
def test_only_well_formed_rooms_are_joined(backend: Service, room: object, error: str | None) -> None:
    with socketio.SimpleClient() as client:
        client.connect(backend.urls["BACKEND_SOCKET_URL"], transports=["websocket"])
        answer = subscribe(client, room)
        if error is None:
            assert answer == {"ok": True}
        else:
            assert answer["ok"] is False and str(answer["error"]).startswith(error)
            event, payload = client.receive(timeout=5)
            assert event == "subscribe_error" and str(payload["error"]).startswith(error)


def test_rooms_per_connection_are_limited(backend: Service) -> None:
    with socketio.SimpleClient() as client:
        client.connect(backend.urls["BACKEND_SOCKET_URL"], transports=["websocket"])
        tokens = [f"0x{i:040x}" for i in range(21)]
        answers = [subscribe(client, f"trades:{t}") for t in tokens]
        assert all(a == {"ok": True} for a in answers[:20])
        assert answers[20] == {"ok": False, "error": "at most 20 rooms"}
        assert subscribe(client, f"trades:{tokens[0]}") == {"ok": True}  # joining a room again costs nothing


def test_received_and_reset_only_with_the_test_flag(backend: Service, tmp_path: Path) -> None:
    with urllib.request.urlopen(f"{backend.urls['BACKEND_SOCKET_URL']}/received?event=candle", timeout=5) as r:
        assert r.status == 200
    plain = node.start_backend(tmp_path, token="t")
    try:
        for method, path in (("GET", "/received?event=candle"), ("POST", "/reset")):
            req = urllib.request.Request(plain.urls["BACKEND_SOCKET_URL"] + path, method=method)
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(req, timeout=5)
            assert e.value.code == 404
        with urllib.request.urlopen(plain.urls["BACKEND_SOCKET_URL"] + "/stats", timeout=5) as r:
            assert r.status == 200
    finally:
        plain.stop()


ALERT_SECRET = "alert-room-secret"


def room_token(owner: str, secret: str = ALERT_SECRET) -> str:
    """What the API issues to a browser of `owner`, computed here independently of the backend."""
    return hmac.new(secret.encode(), owner.encode(), hashlib.sha256).hexdigest()


def alert_event(owner: str, kind: str = "alert") -> dict[str, object]:
    return {"id": "0" * 31 + "1", "ref": "f" * 32, "type": kind, "chain_id": 31337, "token": TOKEN, "final": False,
            "data": {"rule_id": "r_1", "owner": owner, "rule_type": "large_trade", "value": "1", "observed": "2"}}


def receive_all(client: socketio.SimpleClient, wait: float = 1.5) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    while True:
        try:
            event, payload = client.receive(timeout=wait)
        except socketio.exceptions.TimeoutError:
            return out
        out.append((event, payload))


def test_an_alert_reaches_only_browsers_that_joined_with_the_owners_token(tmp_path: Path) -> None:
    secured = node.start_backend(tmp_path, token="listener-token", test_endpoints=True, alert_room_secret=ALERT_SECRET)
    url = secured.urls["BACKEND_SOCKET_URL"]
    clients = {name: socketio.SimpleClient() for name in ("alice", "wrong", "none", "bob", "listener")}
    try:
        for name, c in clients.items():
            if name == "listener":
                c.connect(url, namespace="/listener", auth={"token": "listener-token"}, transports=["websocket"])
            else:
                c.connect(url, transports=["websocket"])
        assert subscribe(clients["alice"], f"alerts:alice:{room_token('alice')}") == {"ok": True}
        assert subscribe(clients["bob"], f"alerts:bob:{room_token('bob')}") == {"ok": True}
        wrong = subscribe(clients["wrong"], f"alerts:alice:{room_token('alice', 'another secret')}")
        assert wrong == {"ok": False, "error": "bad token for alerts:alice"}
        # Bob's token does not open Alice's room, and the plain room name is not enough.
        assert subscribe(clients["wrong"], f"alerts:alice:{room_token('bob')}")["ok"] is False
        assert subscribe(clients["none"], "alerts:alice")["ok"] is False
        refusals = receive_all(clients["wrong"])
        assert refusals and all(e == "subscribe_error" and "***" in str(p) for e, p in refusals)
        assert room_token("alice") not in str(refusals)  # a token is never echoed back
        assert [e for e, _ in receive_all(clients["none"], 0.5)] == ["subscribe_error"]

        alert, retraction = alert_event("alice"), alert_event("alice", "alert_retracted")
        clients["listener"].emit("alert", [alert])
        clients["listener"].emit("alert_retracted", retraction)  # a single event is accepted too
        assert receive_all(clients["alice"]) == [("alert", alert), ("alert_retracted", retraction)]
        assert receive_all(clients["wrong"], 0.5) == [] and receive_all(clients["none"], 0.5) == []
        assert receive_all(clients["bob"], 0.5) == []
        with urllib.request.urlopen(f"{url}/stats", timeout=5) as r:
            stats = json.loads(r.read())
        assert (stats["alert"], stats["alert_retracted"]) == (1, 1)
    finally:
        for c in clients.values():
            c.disconnect()
        secured.stop()


def test_without_a_secret_alert_rooms_are_refused(backend: Service) -> None:
    with socketio.SimpleClient() as client:
        client.connect(backend.urls["BACKEND_SOCKET_URL"], transports=["websocket"])
        answer = subscribe(client, f"alerts:alice:{room_token('alice')}")
        assert answer == {"ok": False, "error": "alert rooms are off (ALERT_ROOM_SECRET is not set)"}
