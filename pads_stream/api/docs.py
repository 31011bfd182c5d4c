"""OpenAPI descriptions of query parameters that handlers read themselves.

The handlers take parameters from `request.query_params` and check them with `params`
(FastAPI's per-request validation of declared parameters cost about 0.2 ms a request), so
/docs learns about them from here.
"""

from __future__ import annotations

from typing import Any


def params(*query: tuple[str, str], token: str | None = None) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    if token is not None:
        out.append({"name": "token", "in": "path", "required": True, "description": token,
                    "schema": {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"}})
    for name, description in query:
        out.append({"name": name, "in": "query", "required": False, "description": description,
                    "schema": {"type": "string"}})
    return {"parameters": out}


TOKEN = "token address, 0x + 40 hex digits"
