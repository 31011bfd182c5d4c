"""socket.io listener: a client of BACKEND_SOCKET_URL on /listener that flushes the outbox
every PROCESSING_INTERVAL_MS, as `candle`, then `trade`, then `market` events that each
carry an array of up to PUSH_CHUNK messages. A refused handshake is logged as an error and makes the
health check fail; what could not be sent stays in the (bounded) outbox for the reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import orjson
import socketio
from socketio.packet import Packet

from ..candles.output import TokenOutput
from ..redact import redact
from ..sinks import SinkHealth
from .outbox import Outbox

log = logging.getLogger(__name__)

PUSH_CHUNK = 500  # messages per event: bounds a frame at a few hundred KB
MAX_QUEUED_PACKETS = 4  # events handed to engine.io but not yet taken by its writer


class _Json:
    """The `json` module interface socket.io packets use, backed by orjson."""

    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(text: str | bytes, **_: Any) -> Any:
        return orjson.loads(text)


class PushPacket(Packet):
    """What we push is JSON objects of strings and small integers, never bytes: no walk over
    every value looking for binary attachments, and orjson instead of the stdlib encoder
    (together 12 % of the worker's CPU under load)."""

    uses_binary_events = False
    json = _Json


class Pusher:
    """A `BestEffortSink`: `add` queues into the bounded outbox, flushed every interval."""

    name = "push"

    def __init__(self, url: str, token: str, namespace: str, interval_s: float, max_items: int,
                 markets: bool = True) -> None:
        self.url, self.token, self.namespace = url, token, namespace
        self.interval_s = interval_s
        self.outbox = Outbox(max_items, markets)
        self.sio = socketio.AsyncClient(reconnection=False, logger=False, engineio_logger=False,
                                       serializer=PushPacket)
        self.connected = False
        self.last_error: str | None = None
        self._refusal: str | None = None  # the backend's reason for refusing the current attempt
        self.sent = 0
        self._reported_drops = 0
        self._task: asyncio.Task[None] | None = None
        self.sio.on("connect", self._on_connect, namespace=namespace)
        self.sio.on("disconnect", self._on_disconnect, namespace=namespace)
        self.sio.on("connect_error", self._on_connect_error, namespace=namespace)

    def status(self) -> dict[str, Any]:
        return {"connected": self.connected, "last_error": self.last_error, "sent": self.sent,
                "queued": len(self.outbox), "dropped": self.outbox.dropped}

    def add(self, outputs: Sequence[TokenOutput]) -> None:
        for u in outputs:
            self.outbox.add_update(u)

    async def health(self) -> SinkHealth:
        problems = []
        if not self.connected:
            problems.append("socket.io listener not connected: "
                            + (self.last_error or "the first connection attempt has not finished"))
        if self.outbox.dropped:
            problems.append(f"{self.outbox.dropped} pushes dropped (outbox full: the backend unreachable, "
                            "or slower than the stream)")
        return SinkHealth(problems, {"push": self.status()})

    def counts(self) -> dict[str, float]:
        return {"sent": self.sent, "queued": len(self.outbox), "dropped": self.outbox.dropped,
                "connected": 1 if self.connected else 0}

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self.connected:
            await self._flush()
        await self.sio.disconnect()

    async def _on_connect(self) -> None:
        self.connected = True
        self.last_error = None
        log.info("socket.io listener connected to %s%s", self.url, self.namespace)

    async def _on_disconnect(self, *args: Any) -> None:
        self.connected = False
        log.warning("socket.io listener disconnected from %s%s", self.url, self.namespace)

    async def _on_connect_error(self, data: Any) -> None:
        self.connected = False
        self.last_error = self._refusal = str(data.get("message") if isinstance(data, dict) else data)
        log.error("socket.io backend %s refused the listener on %s: %s", self.url, self.namespace,
                  self.last_error)

    async def _connect(self) -> None:
        delay = 0.2
        while not self.connected:
            self._refusal = None
            try:
                await self.sio.connect(self.url, namespaces=[self.namespace], auth={"token": self.token},
                                       transports=["websocket"], wait_timeout=5)
                self.connected = self.sio.connected
            except socketio.exceptions.ConnectionError as exc:
                # This attempt's reason: the backend's refusal when it gave one (the exception
                # then only says a namespace failed), else the exception's.
                self.last_error = self._refusal or redact(str(exc))
                log.error("socket.io connect to %s failed (%s); retrying in %.1fs", self.url,
                          self.last_error, delay)
                try:
                    await self.sio.disconnect()
                except Exception as cleanup:  # noqa: BLE001 - cleanup before a retry must not end the loop
                    log.debug("socket.io cleanup after a failed connect: %r", cleanup)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _run(self) -> None:
        while True:
            if not self.connected:
                await self._connect()
            started = time.monotonic()
            await self._flush()
            self._report_drops()
            await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))

    async def _flush(self) -> None:
        candles, trades = self.outbox.drain()
        # One event per chunk, not per message: an emit costs as much as folding a trade, and
        # a flush under load carries thousands of candles.
        for i in range(0, len(candles), PUSH_CHUNK):
            if not await self._emit("candle", candles[i:i + PUSH_CHUNK]):
                log.warning("push of candles interrupted; %d kept for the reconnect", len(candles) - i)
                self.outbox.requeue(candles[i:], trades)
                return
        for i in range(0, len(trades), PUSH_CHUNK):
            if not await self._emit("trade", trades[i:i + PUSH_CHUNK]):
                self.outbox.requeue([], trades[i:])
                return
        # Alerts in order, each kind in runs, so a retraction never overtakes its alert.
        alerts = self.outbox.drain_alerts()
        i = 0
        while i < len(alerts):
            kind = alerts[i][0]
            j = i
            while j < len(alerts) and j - i < PUSH_CHUNK and alerts[j][0] == kind:
                j += 1
            if not await self._emit(kind, [a[1] for a in alerts[i:j]]):
                self.outbox.requeue_alerts(alerts[i:])
                return
            i = j
        markets = self.outbox.drain_markets()
        for i in range(0, len(markets), PUSH_CHUNK):
            if not await self._emit("market", markets[i:i + PUSH_CHUNK]):
                self.outbox.requeue_markets(markets[i:])
                return

    async def _room_to_send(self) -> None:
        # An emit only queues the packet for engine.io's writer, and that queue is unbounded: with
        # a backend slower than the push, packets piled up in memory (a second 100,000-token bench
        # run reached 441-448 MB). Waiting here lets the bounded outbox coalesce instead. A lost
        # connection empties the queue, so this never outlasts it.
        queue = self.sio.eio.queue
        while queue.qsize() >= MAX_QUEUED_PACKETS and self.connected:  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.005)

    async def _emit(self, event: str, messages: Sequence[Any]) -> bool:
        await self._room_to_send()
        try:
            await self.sio.emit(event, messages, namespace=self.namespace)
        except socketio.exceptions.SocketIOError as exc:
            log.warning("push of %d %s messages failed: %r", len(messages), event, exc)
            self.connected = False
            return False
        self.sent += len(messages)
        return True

    def _report_drops(self) -> None:
        if self.outbox.dropped != self._reported_drops:
            log.error("push outbox full (the backend unreachable, or slower than the stream): %d candles and %d trades "
                      "dropped from the push (Redis holds them all)", self.outbox.dropped_candles,
                      self.outbox.dropped_trades)
            self._reported_drops = self.outbox.dropped
