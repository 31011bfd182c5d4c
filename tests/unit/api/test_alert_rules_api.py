"""The alert-rule endpoints over an in-memory RuleStore: the owner header, 400 naming the field,
another owner's rule as 404, the secret hidden, re-publishing by id, and 503 without Kafka."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pads_stream.alerts.rules import Rule
from pads_stream.api.app import create_app
from pads_stream.api.rulebook import Rulebook
from pads_stream.api.settings import load

from .test_app import FakeStore

TOKEN = "0x" + "ab" * 20
RULE = {"type": "price_above", "token": TOKEN, "value": "0.001",
        "webhook": {"url": "https://hooks.example.com/a", "secret": "0123456789abcdef"}}


class FakeRuleStore:
    def __init__(self) -> None:
        self.rules: dict[str, Rule] = {}
        self.writes: list[tuple[str, Rule | None]] = []

    def get(self, rule_id: str) -> Rule | None:
        return self.rules.get(rule_id)

    def by_owner(self, owner: str) -> list[Rule]:
        return [r for r in self.rules.values() if r.owner == owner]

    async def put(self, rule: Rule) -> None:
        self.rules[rule.id] = rule
        self.writes.append((rule.id, rule))

    async def delete(self, rule_id: str) -> None:
        del self.rules[rule_id]
        self.writes.append((rule_id, None))

    async def stop(self) -> None:
        pass


def client(rules: FakeRuleStore | None, **env: Any) -> TestClient:
    settings = load(**env)
    book = Rulebook(settings, rules)  # type: ignore[arg-type]
    return TestClient(create_app(settings, FakeStore(), book))  # type: ignore[arg-type]


@pytest.fixture
def rules() -> FakeRuleStore:
    return FakeRuleStore()


@pytest.fixture
def api(rules: FakeRuleStore) -> TestClient:
    return client(rules, KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1", MARKET_WINDOWS="5m,1h")


def as_(user: str) -> dict[str, str]:
    return {"X-Pads-User": user}


def test_create_get_list_delete(api: TestClient, rules: FakeRuleStore) -> None:
    r = api.post("/v1/alert-rules", json=RULE, headers=as_("alice"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"].startswith("r_") and body["owner"] == "alice" and body["value"] == "0.001"
    assert body["webhook"] == {"url": RULE["webhook"]["url"], "secret": "***"}  # type: ignore[index]
    stored = rules.rules[body["id"]]
    assert stored.webhook_secret == "0123456789abcdef" and stored.level is not None
    assert api.get(f"/v1/alert-rules/{body['id']}", headers=as_("alice")).json() == body
    assert api.get("/v1/alert-rules", headers=as_("alice")).json() == {"rules": [body]}
    assert api.get("/v1/alert-rules", headers=as_("bob")).json() == {"rules": []}
    assert api.get(f"/v1/alert-rules/{body['id']}", headers=as_("bob")).status_code == 404
    assert api.delete(f"/v1/alert-rules/{body['id']}", headers=as_("bob")).status_code == 404
    assert body["id"] in rules.rules
    assert api.delete(f"/v1/alert-rules/{body['id']}", headers=as_("alice")).status_code == 204
    assert rules.writes[-1] == (body["id"], None)
    assert api.get(f"/v1/alert-rules/{body['id']}", headers=as_("alice")).status_code == 404


@pytest.mark.parametrize(("body", "param"), [
    ({**RULE, "value": "abc"}, "value"), ({**RULE, "token": "0x1"}, "token"),
    ({"type": "change", "token": TOKEN, "value": "5", "window": "6h"}, "window"),  # not in MARKET_WINDOWS here
    ({**RULE, "webhook": {"url": "ftp://x/", "secret": "0123456789abcdef"}}, "webhook.url"),
    ({**RULE, "owner": "bob"}, "owner"), ({**RULE, "created_at": 1}, "created_at"),
])
def test_a_bad_rule_is_400_naming_the_field(api: TestClient, rules: FakeRuleStore, body: dict[str, Any],
                                            param: str) -> None:
    r = api.post("/v1/alert-rules", json=body, headers=as_("alice"))
    assert r.status_code == 400, r.text
    assert r.json()["param"] == param and r.json()["error"].startswith(param + ":")
    assert rules.writes == []


@pytest.mark.parametrize("headers", [{}, as_(""), as_("a" * 65), as_("bad user")])
def test_the_owner_header_is_required(api: TestClient, headers: dict[str, str]) -> None:
    r = api.get("/v1/alert-rules", headers=headers)
    assert r.status_code == 400 and r.json()["param"] == "X-Pads-User"


@pytest.mark.parametrize("content", [b"{", b"[1]", b"x" * 20000])
def test_a_body_that_is_no_rule_is_400(api: TestClient, content: bytes) -> None:
    r = api.post("/v1/alert-rules", content=content, headers=as_("alice"))
    assert r.status_code == 400 and r.json()["param"] == "body"


def test_posting_an_id_republishes_the_callers_rule_only(api: TestClient, rules: FakeRuleStore) -> None:
    first = api.post("/v1/alert-rules", json=RULE, headers=as_("alice")).json()
    again = api.post("/v1/alert-rules", json={**RULE, "id": first["id"]}, headers=as_("alice"))
    assert again.status_code == 200 and again.json() == first
    assert [w[0] for w in rules.writes] == [first["id"], first["id"]] and len(rules.rules) == 1
    assert api.post("/v1/alert-rules", json={**RULE, "id": first["id"]}, headers=as_("bob")).status_code == 404


def test_without_kafka_the_rule_endpoints_are_503_and_the_rest_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    api = client(None)
    r = api.get("/v1/alert-rules", headers=as_("alice"))
    assert r.status_code == 503 and "KAFKA_BOOTSTRAP_SERVERS" in r.json()["error"]
    assert api.post("/v1/alert-rules", json=RULE, headers=as_("alice")).status_code == 503
    assert api.post("/v1/alert-rules", json={**RULE, "value": "x"}, headers=as_("alice")).status_code == 400
    assert api.get(f"/v1/tokens/{TOKEN}").status_code == 200


def test_api_keys_cover_the_rule_endpoints(rules: FakeRuleStore) -> None:
    api = client(rules, KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1", API_KEYS="k1")
    assert api.get("/v1/alert-rules", headers=as_("alice")).status_code == 401
    assert api.get("/v1/alert-rules", headers={**as_("alice"), "X-API-Key": "k1"}).status_code == 200
