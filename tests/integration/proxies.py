"""Faulty networks between the bridge and its node, run in the test process: each proxy serves
on its own asyncio loop in a background thread, and the test thread drives it.

    TcpProxy  forwards bytes; `cut()` closes every connection (both sides), `freeze()` keeps
              them open but stops forwarding (the bytes wait; connections opened later flow:
              a stuck route or balancer, or a lost NAT entry), `resume()` lets them through.
    RpcProxy  a WebSocket relay that reads the JSON-RPC requests and answers some eth_getLogs
              itself with the error a provider would send (rate limit, range too large).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

T = TypeVar("T")


class _Threaded:
    """An asyncio loop in a daemon thread: entering the context runs `_start` on it, leaving `_close`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=type(self).__name__, daemon=True)
        self.port = 0

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._thread.start()
        self._run(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._run(self._close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()

    async def _start(self) -> None:
        raise NotImplementedError

    async def _close(self) -> None:
        raise NotImplementedError


class _Pipe:
    """One proxied connection: the client's and the upstream's writers, and a gate that is
    closed while the connection is frozen."""

    def __init__(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter) -> None:
        self.writers = (client, upstream)
        self.flowing = asyncio.Event()
        self.flowing.set()

    def close(self) -> None:
        for w in self.writers:
            w.transport.abort()


class TcpProxy(_Threaded):
    def __init__(self, upstream_url: str) -> None:
        super().__init__()
        u = urlsplit(upstream_url)
        self.upstream = (u.hostname or "127.0.0.1", u.port or 80)
        self.pipes: set[_Pipe] = set()
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        assert self._server is not None
        self._server.close()
        for p in self.pipes:
            p.flowing.set()
        await self._cut()  # every pump ends: no task is left to cancel
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        pipe = _Pipe(writer, up_writer)
        self.pipes.add(pipe)
        try:
            await asyncio.gather(self._pump(reader, up_writer, pipe), self._pump(up_reader, writer, pipe))
        finally:
            self.pipes.discard(pipe)
            pipe.close()
            self._tasks.discard(task)  # type: ignore[arg-type]

    @staticmethod
    async def _pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, pipe: _Pipe) -> None:
        try:
            while data := await src.read(1 << 16):
                await pipe.flowing.wait()  # frozen: hold the bytes (and read no more)
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            pipe.close()  # one side gone: close both

    async def _cut(self) -> int:
        pipes = list(self.pipes)
        for p in pipes:
            p.close()
        return len(pipes)

    async def _freeze(self) -> int:
        for p in self.pipes:
            p.flowing.clear()
        return len(self.pipes)

    async def _resume(self) -> int:
        frozen = [p for p in self.pipes if not p.flowing.is_set()]
        for p in frozen:
            p.flowing.set()
        return len(frozen)

    def cut(self) -> int:
        """Close every open connection, both sides; how many there were."""
        return self._run(self._cut())

    def freeze(self) -> int:
        """Stop forwarding on every open connection, keeping it open (new ones still flow)."""
        return self._run(self._freeze())

    def resume(self) -> int:
        """Forward again what the frozen connections that are still open held; how many."""
        return self._run(self._resume())


Answer = Callable[[int, dict[str, Any]], dict[str, Any] | None]


class RpcProxy(_Threaded):
    """Relays WebSocket frames to `upstream_url`; the n-th eth_getLogs request (from 1) is shown
    to `answer(n, request)`, and when that returns an error object the proxy replies with it
    instead of asking the node."""

    def __init__(self, upstream_url: str, answer: Answer) -> None:
        super().__init__()
        self.upstream = upstream_url
        self.answer = answer
        self.get_logs = 0
        self.injected: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_get("/", self._relay)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _close(self) -> None:
        assert self._runner is not None and self._session is not None
        await self._runner.cleanup()
        await self._session.close()

    def _intercept(self, data: str | bytes) -> dict[str, Any] | None:
        try:
            request = json.loads(data)
        except ValueError:
            return None
        if not isinstance(request, dict) or request.get("method") != "eth_getLogs":
            return None
        self.get_logs += 1
        error = self.answer(self.get_logs, request)
        if error is None:
            return None
        self.injected.append(error)
        return {"jsonrpc": "2.0", "id": request.get("id"), "error": error}

    async def _relay(self, request: web.Request) -> web.WebSocketResponse:
        assert self._session is not None
        client = web.WebSocketResponse(max_msg_size=0)
        await client.prepare(request)
        lock = asyncio.Lock()

        async def send(to: Any, msg_type: aiohttp.WSMsgType, data: str | bytes) -> None:
            async with lock:
                await (to.send_str(data) if msg_type == aiohttp.WSMsgType.TEXT else to.send_bytes(data))

        async with self._session.ws_connect(self.upstream, max_msg_size=0) as node:
            async def send_node(msg_type: aiohttp.WSMsgType, data: str | bytes) -> None:
                await (node.send_str(data) if msg_type == aiohttp.WSMsgType.TEXT else node.send_bytes(data))

            async def down() -> None:
                async for msg in node:
                    if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                        break
                    await send(client, msg.type, msg.data)
                await client.close()

            relay = asyncio.ensure_future(down())
            try:
                async for msg in client:
                    if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                        break
                    reply = self._intercept(msg.data)
                    if reply is None:
                        await send_node(msg.type, msg.data)
                    else:
                        body = json.dumps(reply)
                        await send(client, msg.type, body if msg.type == aiohttp.WSMsgType.TEXT else body.encode())
            finally:
                relay.cancel()
                await asyncio.gather(relay, return_exceptions=True)
        return client
