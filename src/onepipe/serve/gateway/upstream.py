"""Keep-alive HTTP/1.1 connections from the gateway to MLServer, for the inference hot path.

Only what forwarding one JSON POST needs: a pool of asyncio connections, the
request written as one buffer, the response parsed by ``httptools`` (the parser
uvicorn uses). aiohttp's general client (cookies, redirects, tracing, multidict
headers, per-request timers) was the largest single share of the gateway's CPU
per request (about 40%, py-spy), which is latency the serving target counts.
Admin calls (load/unload) still use httpx.

MLServer is reached over its owner-only Unix socket, or its TCP port when one is set
(``MLServerEndpoint.connect``). Transport failures raise ``ConnectionError``; a request that dies on a reused
connection before any answer arrived (the server closed it while idle) is sent
once more on a fresh one, so a keep-alive race never reaches a client.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import TYPE_CHECKING, Any

import httptools

if TYPE_CHECKING:
    from onepipe.serve.mlserver_endpoint import MLServerEndpoint

# Below uvicorn's default keep-alive timeout (5 s): we drop an idle connection
# before MLServer would, instead of racing its close.
IDLE_LIMIT_S = 3.0


class _Stale(ConnectionError):
    """A reused connection closed before answering: safe to send again."""


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: Any = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future | None = None
        self.body: list[bytes] = []
        self.answered = False  # any byte of a response arrived on this connection
        self.reused = False
        self.keep_alive = False
        self.closed = False
        self.idle_since = 0.0

    # -- asyncio.Protocol --
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.answered = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"bad response from MLServer ({exc})"))
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            error = _Stale if self.reused and not self.answered else ConnectionError
            self._fail(error("MLServer closed the connection"))

    # -- httptools callbacks --
    def on_headers_complete(self) -> None:
        # llhttp answers this reliably here; after the message it already reads False.
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), b"".join(self.body)))

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def request(self, data: bytes) -> asyncio.Future:
        self.waiter = asyncio.get_running_loop().create_future()
        self.body = []
        self.answered = False
        self.transport.write(data)
        return self.waiter


class UpstreamPool:
    def __init__(self, endpoint: MLServerEndpoint, limit: int = 256) -> None:
        self.endpoint = endpoint
        self._idle: collections.deque[_Connection] = collections.deque()
        self._slots = asyncio.Semaphore(limit)
        self._head = f"Host: {endpoint.host_header}\r\nContent-Type: application/json\r\n"

    async def post(self, path: str, body: bytes, timeout: float) -> tuple[int, bytes]:
        data = (f"POST {path} HTTP/1.1\r\n{self._head}Content-Length: {len(body)}\r\n\r\n").encode(
            "latin-1"
        ) + body
        async with self._slots:
            for attempt in (0, 1):
                conn = await self._connection(fresh=attempt > 0)
                try:
                    async with asyncio.timeout(timeout):
                        status, content = await conn.request(data)
                except _Stale:
                    continue
                except TimeoutError:
                    conn.transport.close()  # its late answer must not meet the next request
                    raise ConnectionError(f"MLServer did not answer within {timeout:g}s") from None
                except BaseException:
                    conn.transport.close()
                    raise
                if conn.keep_alive and not conn.closed:
                    conn.idle_since = time.monotonic()
                    conn.reused = True
                    self._idle.append(conn)
                else:
                    conn.transport.close()
                return status, content
        raise ConnectionError("MLServer closed the connection twice")

    async def _connection(self, fresh: bool) -> _Connection:
        now = time.monotonic()
        while self._idle and not fresh:
            conn = self._idle.pop()  # the most recently used one: least likely to be stale
            if not conn.closed and now - conn.idle_since < IDLE_LIMIT_S:
                return conn
            conn.transport.close()
        try:
            conn = await self.endpoint.connect(_Connection)
        except OSError as exc:
            raise ConnectionError(f"cannot connect to MLServer ({exc})") from None
        return conn

    async def close(self) -> None:
        while self._idle:
            self._idle.pop().transport.close()
