"""The reference backend checks what browsers send: room names, rooms per connection, and
its test-only endpoints."""

from __future__ import annotations

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
