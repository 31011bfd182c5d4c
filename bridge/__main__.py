"""`python -m bridge`: run the bridge until interrupted."""

from __future__ import annotations

import asyncio
import logging
import sys

from aiokafka.errors import KafkaError

from pads_stream.errors import PadsStreamError
from pads_stream.redact import redact, redact_handlers

from .errors import BridgeError
from .run import Bridge
from .settings import BridgeSettings, load


async def _run(settings: BridgeSettings) -> None:
    # aiokafka binds to the running loop, so the bridge is built inside it.
    await Bridge(settings).run()


def main() -> int:
    try:
        settings = load()
    except BridgeError as exc:
        print(f"bridge: {redact(str(exc))}", file=sys.stderr)
        return 2
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if settings.log_file:
        handlers.append(logging.FileHandler(settings.log_file))
    logging.basicConfig(level=settings.log_level, handlers=handlers,
                        format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    redact_handlers()  # web3's errors carry the node's URL, API key included
    logging.getLogger("web3").setLevel(logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(_run(settings))
    except KeyboardInterrupt:
        return 0
    except (BridgeError, PadsStreamError) as exc:
        logging.getLogger("bridge").critical("bridge stopped: %s", exc)
        return 2
    except KafkaError as exc:  # at start-up, before the loop that waits for Kafka to come back
        logging.getLogger("bridge").critical("bridge stopped: KAFKA_BOOTSTRAP_SERVERS: Kafka did not answer at "
                                             "start-up (%s)", redact(str(exc)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
