"""`pads-stream api`: the API on uvicorn (uvloop, httptools), one process; run several behind a
load balancer to scale, they share nothing but Redis."""

from __future__ import annotations

import logging
import sys

from ..errors import ConfigError
from ..redact import redact_handlers
from .settings import ApiSettings, api_settings

log = logging.getLogger("pads_stream.api")


def serve(settings: ApiSettings) -> None:
    import uvicorn

    from .app import create_app

    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact_handlers()
    # The keys themselves are never logged, only how many there are.
    log.info("pads-stream api on http://%s:%d (chain %d, namespace %s, %d API key(s), max bars %d); docs at /docs",
             settings.api_host, settings.api_port, settings.chain_id, settings.redis_namespace,
             len(settings.api_keys), settings.api_max_bars)
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port, loop="uvloop",
                http="httptools", access_log=False, log_level=settings.log_level.lower(), server_header=False)


def main() -> int:
    try:
        settings = api_settings()
    except ConfigError as exc:
        print(f"pads-stream api: {exc}", file=sys.stderr)
        return 2
    serve(settings)
    return 0
