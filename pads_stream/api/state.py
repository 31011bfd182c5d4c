"""What handlers share: the settings, the Redis store and the alert rules, kept on `app.state`."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from .rulebook import Rulebook
from .settings import ApiSettings
from .store import Store


@dataclass
class ApiState:
    settings: ApiSettings
    store: Store
    rulebook: Rulebook


def api_state(request: Request) -> ApiState:
    st: ApiState = request.app.state.api
    return st
