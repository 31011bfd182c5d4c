"""Alert rules under /v1/alert-rules (docs/alerts-design.md). The owner is the X-Pads-User header:
the launchpad backend authenticates its users and says which one asks. Another owner's rule
answers 404, as an unknown one does, so ids cannot be probed."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ..alerts import RuleError
from ..alerts.fields import show
from ..alerts.rules import Rule, new_rule_id, parse_rule
from ..alerts.store import RuleStore
from .errors import BadRequest, NotFound
from .responses import JSON
from .state import api_state

router = APIRouter(prefix="/v1/alert-rules", tags=["alert rules"], default_response_class=JSON)
OWNER = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
USER_HEADER = "X-Pads-User"
BODY_MAX = 16 << 10
RULE_DOC = ("JSON body: type (price_above, price_below, change, volume, large_trade, progress, graduated, new_token), "
            "token, value (a decimal string), window (change, volume), creator (new_token), recurrence (every, once), "
            "on (provisional, final), webhook {url, secret}. With the id of one of your rules: re-published "
            "(200), e.g. after a write that failed half-way.")


def owner(request: Request) -> str:
    value = request.headers.get(USER_HEADER)
    if value is None or not OWNER.fullmatch(value):
        raise BadRequest(f"{USER_HEADER}: required, 1 to 64 characters of A-Z a-z 0-9 _ . @ -, got {show(value)}",
                         USER_HEADER)
    return value


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > BODY_MAX:
        raise BadRequest(f"body: at most {BODY_MAX} bytes, got {len(raw)}", "body")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("body: not JSON", "body") from None
    if not isinstance(body, dict):
        raise BadRequest("body: expected a JSON object (the rule)", "body")
    return body


def _own(store: RuleStore, rule_id: str, who: str) -> Rule:
    rule = store.get(rule_id)
    if rule is None or rule.owner != who:
        raise NotFound(f"id: no rule {show(rule_id)} of {who}", "id")
    return rule


@router.post("", status_code=201, summary="Create an alert rule (201; the webhook secret answered as ***)",
             description=RULE_DOC)
async def create(request: Request) -> Response:
    st = api_state(request)
    who, body = owner(request), await _body(request)
    republish = body.pop("id", None)
    try:  # checked before Kafka is asked anything: a bad rule is a 400 even while Kafka is away
        rule = parse_rule(body, owner=who, rule_id=new_rule_id(), created_at=int(time.time()),
                          windows=st.settings.market_windows)
    except RuleError as exc:
        raise BadRequest(exc.message, exc.field) from None
    store = await st.rulebook.store()
    status = 201
    if republish is not None:
        old = _own(store, str(republish), who)
        rule, status = replace(rule, id=old.id, created_at=old.created_at), 200
    await store.put(rule)
    return JSON(rule.public(secret_hidden=True), status)


@router.get("", summary="The caller's alert rules, oldest first")
async def list_rules(request: Request) -> Response:
    who = owner(request)
    store = await api_state(request).rulebook.store()
    return JSON({"rules": [r.public(secret_hidden=True) for r in store.by_owner(who)]})


@router.get("/{rule_id}", summary="One of the caller's alert rules")
async def get_rule(request: Request, rule_id: str) -> Response:
    who = owner(request)
    store = await api_state(request).rulebook.store()
    return JSON(_own(store, rule_id, who).public(secret_hidden=True))


@router.delete("/{rule_id}", status_code=204, summary="Delete one of the caller's alert rules (404 for any other)")
async def delete_rule(request: Request, rule_id: str) -> Response:
    who = owner(request)
    store = await api_state(request).rulebook.store()
    _own(store, rule_id, who)
    await store.delete(rule_id)
    return Response(status_code=204)
