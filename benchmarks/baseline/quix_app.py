"""The Quix Streams baseline: six-interval OHLCV over the raw-log topic, into our Redis schema.

Written the way Quix Streams' documentation writes such an app: a deserializer that yields
the trades of a message (none for head markers and creations), event time from the block
timestamp, one `tumbling_window(...).reduce(...).current()` branch per interval, and a
`BatchingSink` that writes each window's latest value when Quix commits its checkpoint.
It shares only pure code with pads_stream (log parsing, ABI slicing, exact prices), so both
sides do the same arithmetic; it has no market data, trade list, push or reorg bookkeeping.

Runs in its own virtualenv (`.venv-quix`, see `baseline/runner.py`), with the repo root on
PYTHONPATH:  python benchmarks/baseline/quix_app.py   (configured by environment variables)
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import redis
from quixstreams import Application
from quixstreams.models.serializers import Deserializer
from quixstreams.sinks import BatchingSink, SinkBatch

from pads_stream.candles.intervals import label, parse_intervals
from pads_stream.candles.price import format_price, trade_price
from pads_stream.chain.rawlog import RawLog, parse_message
from pads_stream.decode.events import TradeEvent, decode_log
from pads_stream.mirror.keys import candles_key, prefix
from pads_stream.mirror.redis_mirror import candle_member

SKIP: dict[str, Any] = {"ts": 0}


class TradeDeserializer(Deserializer):
    """A raw-log message -> its trade as a JSON-able dict, or `SKIP` (filtered out downstream).

    Not an empty list (`split_values`) for non-trades: Quix stores a message's offset only once
    a row of it was processed, so a topic ending in head markers would never be committed."""

    def __call__(self, value: bytes, ctx: Any) -> dict[str, Any]:
        msg = parse_message(value)
        if not isinstance(msg, RawLog) or msg.removed:
            return SKIP
        ev = decode_log(msg)
        if not isinstance(ev, TradeEvent):
            return SKIP
        return {"chain_id": msg.chain_id, "token": ev.token, "ts": msg.block_timestamp * 1000,
                 "price": format_price(trade_price(ev.eth_amount, ev.token_amount)), "buy": ev.is_buy,
                 # Wei sums pass 2**64: Quix state is JSON (orjson), so integers travel as strings.
                 "tok": str(ev.token_amount), "eth": str(ev.eth_amount)}


def initializer(t: dict[str, Any]) -> dict[str, Any]:
    return {"chain_id": t["chain_id"], "token": t["token"], "open": t["price"], "high": t["price"],
            "low": t["price"], "close": t["price"], "volume_token": t["tok"], "volume_eth": t["eth"],
            "trades": 1, "buys": int(t["buy"]), "sells": int(not t["buy"])}


def reducer(c: dict[str, Any], t: dict[str, Any]) -> dict[str, Any]:
    price = Decimal(t["price"])
    if price > Decimal(c["high"]):
        c["high"] = t["price"]
    if price < Decimal(c["low"]):
        c["low"] = t["price"]
    c["close"] = t["price"]
    c["volume_token"] = str(int(c["volume_token"]) + int(t["tok"]))
    c["volume_eth"] = str(int(c["volume_eth"]) + int(t["eth"]))
    c["trades"] += 1
    c["buys" if t["buy"] else "sells"] += 1
    return c


class RedisCandleSink(BatchingSink):
    """Per checkpoint: the last value of each (token, interval, window), as our mirror writes it
    (ZREMRANGEBYSCORE t t + ZADD of the canonical JSON member) in one MULTI/EXEC."""

    def __init__(self, url: str, namespace: str) -> None:
        super().__init__()
        self.url, self.namespace = url, namespace
        self.client: redis.Redis | None = None

    def setup(self) -> None:
        self.client = redis.Redis.from_url(self.url)
        self.client.ping()

    def write(self, batch: SinkBatch) -> None:
        latest: dict[tuple[str, int], bytes] = {}
        for item in batch:
            lbl, window = item.value
            c = window["value"]
            t = window["start"] // 1000
            member = {k: v for k, v in c.items() if k not in ("chain_id", "token")}
            member["t"] = t
            key = candles_key(prefix(self.namespace, c["chain_id"]), c["token"], lbl)
            latest[(key, t)] = candle_member(member)
        assert self.client is not None
        with self.client.pipeline(transaction=True) as pipe:
            for (key, t), member in latest.items():
                pipe.zremrangebyscore(key, t, t)
                pipe.zadd(key, {member: t})
            pipe.execute()


def main() -> None:
    env = os.environ
    app = Application(broker_address=env["KAFKA_BOOTSTRAP_SERVERS"], consumer_group=env["APP_ID"],
                      auto_offset_reset="earliest", state_dir=env["STATE_DIR"],
                      # Faust's default commit interval, which our workers run with: both engines
                      # then show progress (committed offsets) to the benchmark equally often.
                      commit_interval=2.8, loglevel=env.get("QUIX_LOG_LEVEL", "WARNING"))
    topic = app.topic(env["RAW_LOG_TOPIC"], key_deserializer="bytes", value_deserializer=TradeDeserializer(),
                      timestamp_extractor=lambda value, headers, ts, ts_type: value["ts"])
    sdf = app.dataframe(topic).filter(lambda row: "token" in row)
    sink = RedisCandleSink(env["REDIS_URL"], env["REDIS_NAMESPACE"])
    # The worker's default (pads_stream.settings.DEFAULT_INTERVALS; this venv has no pydantic).
    for seconds in parse_intervals(env.get("OHLCV_INTERVALS", "1s,15s,30s,1m,5m,15m,1h,4h,1d")):
        lbl = label(seconds)
        (sdf.tumbling_window(duration_ms=seconds * 1000, name=f"ohlcv-{lbl}")
            .reduce(reducer=reducer, initializer=initializer)
            .current()
            .apply(lambda window, lbl=lbl: (lbl, window))
            .sink(sink))
    app.run()


if __name__ == "__main__":
    main()
