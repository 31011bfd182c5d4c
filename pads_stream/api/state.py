"""What handlers share: the settings and the Redis store, kept on `app.state`."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from .settings import ApiSettings
from .store import Store


@dataclass
class ApiState:
    settings: ApiSettings
    store: Store


def api_state(request: Request) -> ApiState:
    st: ApiState = request.app.state.api
    return st
