"""Slow and half-closed clients: stalled requests are closed, finished ones are answered.

The gateway runs here with ``serve.gateway.read_timeout_s: 2``: a client that opens a
connection, or starts a request, and does not finish sending it within 2 s is closed
(with a 408 when a request had begun). A client that sent a complete request and then
shut its sending side (``shutdown(SHUT_WR)``) still gets its answer.
"""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest
import yaml
from serve_helpers import ROW

pytestmark = pytest.mark.slow

READ_TIMEOUT_S = 2
BODY = json.dumps({"instances": [ROW]}).encode()
V2_TYPES = {int: "INT64", float: "FP64", str: "BYTES"}
V2_BODY = json.dumps(
    {
        "inputs": [
            {"name": k, "datatype": V2_TYPES[type(v)], "shape": [1, 1], "data": [v]}
            for k, v in ROW.items()
        ]
    }
).encode()


@pytest.fixture(scope="module")
def project(project):
    cfg = yaml.safe_load((project / "onepipe.yaml").read_text())
    cfg["serve"]["gateway"]["read_timeout_s"] = READ_TIMEOUT_S
    (project / "onepipe.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return project


def _connect(url: str) -> socket.socket:
    host, port = url.split("://")[1].split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def _head(path: str, length: int, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    ).encode()


def _read_until_closed(sock: socket.socket, deadline: float) -> tuple[bytes, bool]:
    """Everything the server sends, and whether it closed the connection before ``deadline``."""
    data = b""
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return data, False
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def test_stalled_connections_are_closed_after_the_read_timeout(gateway):
    half_bodies = []
    for _ in range(40):  # headers done, half of the declared body sent, then nothing
        s = _connect(gateway.url)
        s.sendall(_head("/predict", len(BODY)) + BODY[: len(BODY) // 2])
        half_bodies.append(s)
    half_headers = []
    for _ in range(10):  # a request line and part of the headers
        s = _connect(gateway.url)
        s.sendall(b"POST /v2/models/credit-risk/infer HTTP/1.1\r\nHost: gateway\r\nContent-Le")
        half_headers.append(s)
    silent = [_connect(gateway.url) for _ in range(10)]  # connect, send nothing

    # good requests still pass while the stalled ones are held open
    r = httpx.post(f"{gateway.url}/predict", json={"instances": [ROW]}, timeout=30)
    assert r.status_code == 200

    deadline = time.monotonic() + 60  # generous: the timeout is 2 s
    outcomes = [(s, *_read_until_closed(s, deadline)) for s in half_bodies + half_headers + silent]
    for s, *_ in outcomes:
        s.close()
    assert all(closed for _, _, closed in outcomes), sum(not c for _, _, c in outcomes)
    started = outcomes[: len(half_bodies) + len(half_headers)]
    assert all(data.startswith(b"HTTP/1.1 408 ") for _, data, _ in started), started[0][1]
    assert all(data == b"" for _, data, _ in outcomes[len(started) :])
    r = httpx.post(f"{gateway.url}/predict", json={"instances": [ROW]}, timeout=30)
    assert r.status_code == 200


def test_a_slow_but_steady_body_within_the_timeout_is_answered(gateway):
    s = _connect(gateway.url)
    try:
        s.sendall(_head("/predict", len(BODY), "Connection: close\r\n"))
        half = len(BODY) // 2
        s.sendall(BODY[:half])
        time.sleep(READ_TIMEOUT_S / 4)
        s.sendall(BODY[half:])
        data, _ = _read_until_closed(s, time.monotonic() + 5)
    finally:
        s.close()
    assert data.startswith(b"HTTP/1.1 200 "), data[:200]


@pytest.mark.parametrize("path", ["/predict", "/v2/models/credit-risk/infer", "/v2/health/ready"])
def test_a_half_closed_client_gets_its_answer(gateway, path):
    body = V2_BODY if path.startswith("/v2/models") else BODY
    if path.endswith("ready"):
        request = b"GET /v2/health/ready HTTP/1.1\r\nHost: gateway\r\n\r\n"
    else:
        request = _head(path, len(body)) + body
    answered = 0
    for _ in range(10):
        s = _connect(gateway.url)
        try:
            s.sendall(request)
            s.shutdown(socket.SHUT_WR)  # done sending; still reading
            data, closed = _read_until_closed(s, time.monotonic() + 30)
        finally:
            s.close()
        answered += data.startswith(b"HTTP/1.1 200 ") and closed
    assert answered == 10
