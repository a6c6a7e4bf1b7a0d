"""The gateway's keep-alive pool to MLServer, against a real uvicorn server."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import uvicorn

from onepipe.serve.gateway import upstream
from onepipe.serve.gateway.upstream import UpstreamPool
from onepipe.serve.mlserver_endpoint import MLServerEndpoint


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """An echo-ish ASGI app on a real socket; counts the connections it accepted."""

    def __init__(self, keep_alive_s: float = 5.0) -> None:
        self.port = _free_port()
        self.peers: set[tuple] = set()

        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            self.peers.add(tuple(scope["client"]))
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            if scope["path"] == "/slow":
                await asyncio.sleep(2)
            status = 200 if scope["path"] != "/missing" else 404
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(b"content-length", str(len(body) + 2).encode())],
                }
            )
            await send({"type": "http.response.body", "body": b"<" + body + b">"})

        config = uvicorn.Config(
            app, port=self.port, log_level="warning", timeout_keep_alive=keep_alive_s
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def test_requests_share_one_keep_alive_connection():
    async def go(port):
        pool = UpstreamPool(MLServerEndpoint(port=port))
        answers = [await pool.post("/v2/x", f"{i}".encode(), 5) for i in range(50)]
        await pool.close()
        return answers

    with Server() as server:
        answers = asyncio.run(go(server.port))
    assert answers == [(200, f"<{i}>".encode()) for i in range(50)]
    assert len(server.peers) == 1  # one TCP connection served all 50


def test_status_and_body_pass_through_and_concurrency_opens_more_connections():
    async def go(port):
        pool = UpstreamPool(MLServerEndpoint(port=port))
        answers = await asyncio.gather(*[pool.post("/missing", b"x", 5) for _ in range(4)])
        await pool.close()
        return answers

    with Server() as server:
        answers = asyncio.run(go(server.port))
    assert answers == [(404, b"<x>")] * 4
    assert 1 < len(server.peers) <= 4


def test_a_connection_the_server_closed_while_idle_is_retried(monkeypatch):
    # The server drops idle connections after 0.2 s; the pool is told to keep them
    # longer, so its next request meets a closed connection and must resend.
    monkeypatch.setattr(upstream, "IDLE_LIMIT_S", 60.0)

    async def go(port):
        pool = UpstreamPool(MLServerEndpoint(port=port))
        first = await pool.post("/a", b"1", 5)
        await asyncio.sleep(0.6)
        second = await pool.post("/a", b"2", 5)
        await pool.close()
        return first, second

    with Server(keep_alive_s=0.2) as server:
        first, second = asyncio.run(go(server.port))
    assert first == (200, b"<1>") and second == (200, b"<2>")
    assert len(server.peers) == 2


def test_timeout_and_unreachable_raise_connection_error():
    async def slow(port):
        pool = UpstreamPool(MLServerEndpoint(port=port))
        try:
            await pool.post("/slow", b"", 0.3)
        finally:
            await pool.close()

    with Server() as server:
        with pytest.raises(ConnectionError, match="did not answer within 0.3s"):
            asyncio.run(slow(server.port))

    async def nowhere():
        await UpstreamPool(MLServerEndpoint(port=_free_port())).post("/a", b"", 1)

    with pytest.raises(ConnectionError, match="cannot connect to MLServer"):
        asyncio.run(nowhere())


def test_a_reused_connection_dying_before_the_answer_is_resent_once():
    # The keep-alive race, made deterministic: the first connection answers one request,
    # then reads the next one and closes without a word (as a server closing an idle
    # connection at the moment the request arrives). The request must succeed anyway.
    connections = []

    async def handle(reader, writer):
        connections.append(writer)
        served = 0
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            body = await reader.readexactly(length)
            if len(connections) == 1 and served == 1:
                writer.close()
                return
            answer = b"<" + body + b">"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
            served += 1

    async def go():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = UpstreamPool(MLServerEndpoint(port=port))
        answers = [await pool.post("/a", b"%d" % i, 5) for i in range(3)]
        await pool.close()
        server.close()
        return answers

    assert asyncio.run(go()) == [(200, b"<0>"), (200, b"<1>"), (200, b"<2>")]
    assert len(connections) == 2


def test_a_fresh_connection_closing_without_an_answer_is_an_error():
    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    async def go():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        pool = UpstreamPool(MLServerEndpoint(port=server.sockets[0].getsockname()[1]))
        try:
            await pool.post("/a", b"", 5)
        finally:
            server.close()

    with pytest.raises(ConnectionError, match="closed the connection"):
        asyncio.run(go())
