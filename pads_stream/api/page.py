"""The chart page at `/`: its own files under static/, and lightweight-charts and the socket.io
browser client served from the project's node_modules (installed by `make setup`; no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import FileResponse, Response

from .errors import NotFound

STATIC = Path(__file__).parent / "static"
NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
VENDOR = {
    "lightweight-charts.js": NODE_MODULES / "lightweight-charts" / "dist" / "lightweight-charts.standalone.production.js",
    "socket.io.js": NODE_MODULES / "socket.io-client" / "dist" / "socket.io.min.js",
}
PAGE_FILES = {"app.js": "text/javascript", "format.js": "text/javascript", "style.css": "text/css"}
NO_CACHE = {"Cache-Control": "no-cache"}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=NO_CACHE)


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name not in PAGE_FILES:
        raise NotFound(f"no static file {name!r}")
    return FileResponse(STATIC / name, media_type=PAGE_FILES[name], headers=NO_CACHE)


@router.get("/vendor/{name}")
async def vendor(name: str) -> Response:
    path = VENDOR.get(name)
    if path is None or not path.exists():
        raise NotFound(f"no vendor file {name!r} (run `make setup` to install the npm packages)")
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "max-age=3600"})
