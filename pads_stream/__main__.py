"""`python -m pads_stream checksum | check | replay | rules | api | notify` (also installed as `pads-stream`).

Settings come from the environment or `.env`, as for the worker; flags override a few.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Any

import orjson
from pydantic import ValidationError
from redis.exceptions import AuthenticationError as RedisAuthError
from redis.exceptions import RedisError

from .alerts import RuleError
from .errors import ConfigError, PadsStreamError
from .redact import redact, redact_handlers
from .settings import WorkerSettings, format_validation_error, worker_settings

REPLAY_HELP = """\
Rebuilds the token-state table, its changelog and the Redis namespace from the raw-log topic.

Stop every worker of the group first: replay refuses while the consumer group (APP_ID) has
active members, and lists them. It also refuses when Kafka's retention deleted the raw-log
topic's first logs, since it would rebuild a partial history (--partial goes on anyway). Then, after a confirmation (--yes skips it; without a
terminal on stdin, --yes is required), it:

  1. resets the group's committed offsets on RAW_LOG_TOPIC to the beginning of every
     partition;
  2. deletes the changelog topic {APP_ID}-token-state-changelog, waits until it is gone,
     and recreates it compacted with TOPIC_PARTITIONS partitions;
  3. deletes the local table state under DATA_DIR (Faust's v<N> directories only);
  4. deletes every Redis key {REDIS_NAMESPACE}:{CHAIN_ID}:* (SCAN + UNLINK), except the
     notifier's {REDIS_NAMESPACE}:{CHAIN_ID}:notify:* (which alerts were sent);
  5. runs `python -m faust -A pads_stream worker -l warn` with the same environment and a
     free WEB_PORT, shows a progress bar on stderr (committed raw-log offsets against the
     end offsets taken at the start, rate, ETA), and when the raw-log topic is caught up
     (a log is committed only once Redis has its candles), stops it and prints the checksum.

Then start the normal workers again. A worker with another DATA_DIR must start with that
directory emptied.

To rebuild beside the live data instead of in place, give the rebuild its own group,
changelog, state and namespace, and compare the checksums:

  APP_ID=pads-rebuild DATA_DIR=./.state/rebuild REDIS_NAMESPACE=pads-rebuild \\
      python -m pads_stream replay --yes
  python -m pads_stream checksum                        # live (workers stopped or idle)
  python -m pads_stream checksum --namespace pads-rebuild

Exit status: 0 done; 1 refused, timed out or the worker failed; 2 bad configuration.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pads_stream", description="pads-stream operator commands")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("checksum", help="digest of the candles and market data in Redis",
                       description="Print `sha256:<hex> series=<n> candles=<n> markets=<n>` for every candle, "
                                   "market, tokens and recent-trades key under {REDIS_NAMESPACE}:{CHAIN_ID}, "
                                   "with key names relative to that prefix.")
    c.add_argument("--namespace", help="Redis namespace (default: REDIS_NAMESPACE)")
    c.add_argument("--json", action="store_true", help="print one JSON object instead")

    k = sub.add_parser("check", help="recompute every candle from the raw-log topic and diff with Redis",
                       description="Read RAW_LOG_TOPIC from the beginning to the end offsets taken at start "
                                   "(no consumer group), recompute candles and market trade fields, and print "
                                   "each difference with Redis. Exit 0 when there is none, 1 otherwise.")
    k.add_argument("--namespace", help="Redis namespace (default: REDIS_NAMESPACE)")
    k.add_argument("--limit", type=int, default=200, help="print at most N differences (0: all; default 200)")
    k.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")

    r = sub.add_parser("replay", help="rebuild everything from the raw-log topic (see replay --help)",
                       description=REPLAY_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    r.add_argument("--partial", action="store_true",
                   help="replay even when Kafka's retention deleted the topic's first logs (refused otherwise)")
    r.add_argument("--timeout", type=float, default=3600.0, help="give up after this many seconds (default 3600)")
    r.add_argument("--namespace", help="Redis namespace to rebuild (default: REDIS_NAMESPACE)")
    r.add_argument("--app-id", help="Faust app id, i.e. consumer group and changelog prefix (default: APP_ID)")
    r.add_argument("--data-dir", help="local table state directory (default: DATA_DIR)")

    from .ops.rules import add_parser

    add_parser(sub)
    sub.add_parser("api", help="the HTTP API, TradingView UDF datafeed and chart page (API_* settings)")
    sub.add_parser("notify", help="deliver alerts to their rules' webhooks (NOTIFY_*, WEBHOOK_* settings)",
                   description="Consume MARKET_EVENTS_TOPIC as group NOTIFY_GROUP and POST each alert and "
                               "alert_retracted event whose rule (ALERT_RULES_TOPIC) has a webhook, signed, "
                               "retried with backoff for WEBHOOK_RETRY_FOR, then dead-lettered. "
                               "/metrics and /health on NOTIFY_HOST:NOTIFY_PORT.")
    return p


def _notify() -> int:
    from .notify.service import run
    from .notify.settings import notify_settings

    try:
        s = notify_settings()
    except ConfigError as exc:
        print(f"pads-stream notify: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=s.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact_handlers()
    try:
        asyncio.run(run(s))
    except ConfigError as exc:
        print(f"pads-stream notify: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def _settings(args: argparse.Namespace) -> tuple[WorkerSettings, dict[str, str]]:
    """Settings with the flags applied, and the environment a worker needs to see the same."""
    base = worker_settings()
    update: dict[str, Any] = {}
    env = dict(os.environ)
    for flag, field, var in (("namespace", "redis_namespace", "REDIS_NAMESPACE"), ("app_id", "app_id", "APP_ID"),
                             ("data_dir", "data_dir", "DATA_DIR")):
        value = getattr(args, flag, None)
        if value:
            try:  # validated as the environment variable would be
                checked = WorkerSettings.model_validate({**base.model_dump(by_alias=True), var: value})
            except ValidationError as exc:
                raise ConfigError(format_validation_error(exc).replace(var, f"--{flag.replace('_', '-')}")) from None
            update[field] = getattr(checked, field)
            env[var] = value
    return base.model_copy(update=update), env


async def _dispatch(args: argparse.Namespace, s: WorkerSettings, env: dict[str, str]) -> int:
    if args.command == "checksum":
        from .ops.checksum import redis_checksum

        digest = await redis_checksum(s.redis_url, s.redis_prefix)
        print(orjson.dumps({"prefix": s.redis_prefix, **digest.as_dict()}).decode() if args.json else digest.line())
        return 0
    if args.command == "check":
        from .ops.check import print_report, run_check

        report = await run_check(s, progress=not args.no_progress)
        print_report(report, args.limit)
        return 1 if report.differences else 0
    if args.command == "rules":
        from .ops.rules import run_rules

        return await run_rules(args, s)
    from .ops.replay import run_replay

    await run_replay(s, args.yes, args.timeout, env, args.partial)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "api":  # uvicorn runs its own event loop, with the API's settings
        from .api.server import main as api_main

        return api_main()
    if args.command == "notify":  # its own settings and a long-running loop
        return _notify()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    redact_handlers()
    try:
        return asyncio.run(_dispatch(args, *_settings(args)))
    except (ConfigError, RuleError) as exc:
        print(f"pads-stream {args.command}: {exc}", file=sys.stderr)
        return 2
    except RedisAuthError as exc:
        print(f"pads-stream {args.command}: REDIS_URL: Redis refused the user or password ({exc})", file=sys.stderr)
        return 2
    except RedisError as exc:
        print(f"pads-stream {args.command}: REDIS_URL: {redact(str(exc))}", file=sys.stderr)
        return 1
    except PadsStreamError as exc:
        print(f"pads-stream {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"pads-stream {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
