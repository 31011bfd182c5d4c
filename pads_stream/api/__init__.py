"""The read side: an HTTP API over the Redis mirror (`pads-stream api`).

- `/v1`: tokens, market snapshots, candles (exact decimal strings, optional empty buckets), trades;
- `/udf`: the TradingView UDF datafeed (prices as JSON numbers);
- `/`: a live chart page (lightweight-charts, live over the Node backend's socket.io).

Pure parts (`params`, `ranges`, `tokens`, `udf`) do no I/O; `store` is the only module that
reads Redis; the route modules are thin.
"""
