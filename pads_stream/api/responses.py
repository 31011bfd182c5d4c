"""orjson responses: bytes straight from orjson, or JSON spliced from Redis members untouched."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def raw_json(body: bytes, status: int = 200) -> Response:
    return Response(body, status, media_type="application/json")


def splice_array(members: list[bytes]) -> bytes:
    """A JSON array of members that are JSON already (the canonical candles), without parsing them."""
    return b"[" + b",".join(members) + b"]"
