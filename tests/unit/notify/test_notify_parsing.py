"""What the notifier takes from the events topic and the rules topic, and its settings."""

from __future__ import annotations

import orjson
import pytest

from pads_stream.alerts.rules import rule_from_store
from pads_stream.errors import ConfigError
from pads_stream.notify.ingest import AlertEvent, parse
from pads_stream.notify.rules import Webhook, webhook_of
from pads_stream.notify.settings import NotifySettings
from pads_stream.ops.replay import replay_deletes

ID = "0123456789abcdef0123456789abcdef"


def event(**over: object) -> bytes:
    e: dict[str, object] = {"id": ID, "ref": "f" * 32, "type": "alert", "chain_id": 31337, "token": "0x" + "a" * 40,
                            "final": False, "data": {"rule_id": "r_1", "owner": "alice"}}
    e.update(over)
    return orjson.dumps(e)


@pytest.mark.parametrize("value, expected", [
    (event(), AlertEvent(ID, "alert", "r_1")),
    (event(type="alert_retracted", data={"rule_id": "r_2", "owner": "bob", "retracts": "a" * 32}),
     AlertEvent(ID, "alert_retracted", "r_2")),
    (event(type="large_trade"), None),
    (event(type="new_ath", data=None), None),
    (None, None),
    (b"[1,2]", None),
    (b"{not json", "not JSON"),
    (event(id="xyz"), "no event id"),
    (event(id=ID.upper()), "no event id"),
    (event(data={"owner": "alice"}), "no data.rule_id"),
    (event(data="r_1"), "no data.rule_id"),
])
def test_parse(value: bytes | None, expected: object) -> None:
    got = parse(value)
    if isinstance(expected, str):
        assert isinstance(got, str) and got.startswith(expected)
    else:
        assert got == expected


@pytest.mark.parametrize("rule, expected", [
    ({"id": "r", "webhook": {"url": "https://h.example/x", "secret": "s"}}, Webhook("https://h.example/x", "s")),
    ({"id": "r", "webhook": {"url": "http://127.0.0.1:9/x"}}, Webhook("http://127.0.0.1:9/x", "")),
    ({"id": "r"}, None),
    ({"id": "r", "webhook": None}, None),
    ({"id": "r", "webhook": {"url": "file:///etc/passwd", "secret": "s"}}, None),
    ({"id": "r", "webhook": {"secret": "s"}}, None),
])
def test_webhook_of(rule: dict[str, object], expected: Webhook | None) -> None:
    assert webhook_of(rule) == expected


def test_webhook_of_a_stored_rule() -> None:
    hooked = {"id": "r_1", "owner": "alice", "type": "graduated",
              "webhook": {"url": "https://h.example/x", "secret": "whsec_0123456789ab"}}
    assert webhook_of(rule_from_store(orjson.dumps(hooked))) == Webhook("https://h.example/x", "whsec_0123456789ab")
    plain = {"id": "r_2", "owner": "alice", "type": "graduated"}
    assert webhook_of(rule_from_store(orjson.dumps(plain))) is None


def test_a_webhook_never_shows_its_secret() -> None:
    assert "hunter2" not in repr(Webhook("https://h/x", "hunter2"))


@pytest.mark.parametrize("key, deleted", [
    (b"pads:1:candles:0xa:1m", True),
    (b"pads:1:market:0xa", True),
    (b"pads:1:mirror:epoch", True),
    (b"pads:1:notify:due", False),
    (b"pads:1:notify:delivered:r_1", False),
    (b"pads:1:notify:item:" + ID.encode(), False),
    (b"pads:1:notifyx", True),          # only the notify: folder is kept
    (b"pads:2:notify:due", False),      # another chain: not this prefix at all
    (b"pads:12:candles:x", False),
])
def test_replay_keeps_the_notifier_state(key: bytes, deleted: bool) -> None:
    assert replay_deletes(key, "pads:1") is deleted


@pytest.mark.parametrize("text, seconds", [("24h", 86400), ("90s", 90), ("30m", 1800), ("2d", 172800)])
def test_retry_for_is_a_duration(text: str, seconds: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_RETRY_FOR", text)
    assert NotifySettings().webhook_retry_for == seconds  # type: ignore[call-arg]


def test_defaults_and_a_bad_duration(monkeypatch: pytest.MonkeyPatch) -> None:
    s = NotifySettings()  # type: ignore[call-arg]
    assert (s.notify_group, s.market_events_topic, s.webhook_timeout_ms, s.webhook_retry_for) == (
        "pads-notify", "pads.market-events", 3000, 86400)
    assert s.notify_prefix == "pads:31337:notify"
    monkeypatch.setenv("WEBHOOK_RETRY_FOR", "soon")
    from pads_stream.notify.settings import notify_settings

    with pytest.raises(ConfigError, match="WEBHOOK_RETRY_FOR"):
        notify_settings()
