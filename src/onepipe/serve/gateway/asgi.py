"""The gateway's ASGI entry: a raw fast path for inference in front of the Starlette app.

``POST /v2/models/{name}[/versions/{version}]/infer`` and ``POST /predict`` are
answered straight from the ASGI scope: no router walk, no middleware stack, no
Request/Response objects. That is most of what the gateway itself costs per
request, and the serving target is at most 1 ms added at p50. Everything else
(health, metadata, admin, the monitor's routes, 404/405 answers) goes through
Starlette. Both paths call the same ``Gateway.answer_*`` methods, so they cannot
answer differently.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from onepipe.serve.gateway.app import Answer, Gateway, Incoming, _json

log = logging.getLogger("onepipe.serve.gateway")
_INFER_PREFIX, _INFER_SUFFIX = "/v2/models/", "/infer"
_JSON_TYPE = (b"content-type", b"application/json")


def _internal_error(exc: Exception) -> dict[str, str]:
    """A bug of ours, said in one JSON line (logged with its traceback), never a traceback."""
    log.exception("gateway error")
    return {"error": f"internal gateway error ({type(exc).__name__})"}


class _Disconnected(Exception):
    """The client went away before its body arrived: nobody is left to answer."""


def _route_target(path: str) -> tuple[str, str | None] | None:
    """(name, version) of an inference path, None for any other path."""
    if not (path.startswith(_INFER_PREFIX) and path.endswith(_INFER_SUFFIX)):
        return None
    parts = path[len(_INFER_PREFIX) : -len(_INFER_SUFFIX)].split("/")
    if len(parts) == 1 and parts[0]:
        return parts[0], None
    if len(parts) == 3 and parts[0] and parts[1] == "versions" and parts[2]:
        return parts[0], parts[2]
    return None


async def _chunks(receive: Any) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


class GatewayApp:
    def __init__(self, gateway: Gateway, fallback: Starlette) -> None:
        self.gateway = gateway
        self.fallback = fallback
        self.sticky = gateway.sticky_header.encode("latin-1")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            if path == "/predict":
                await self._answer(scope, receive, send, None)
                return
            target = _route_target(path)
            if target is not None:
                await self._answer(scope, receive, send, target)
                return
        await self.fallback(scope, receive, send)

    async def _answer(
        self, scope: dict[str, Any], receive: Any, send: Any, target: tuple[str, str | None] | None
    ) -> None:
        length = sticky = None
        for key, value in scope["headers"]:  # ASGI servers give lower-case header names
            if key == b"content-length":
                length = value.decode("latin-1")
            elif key == self.sticky:
                sticky = value.decode("latin-1")
        incoming = Incoming(length, sticky, _chunks(receive))
        try:
            if target is None:
                answer = await self.gateway.answer_predict(incoming)
            else:
                answer = await self.gateway.answer_infer(incoming, *target)
        except _Disconnected:
            return
        except Exception as exc:
            answer = 500, _internal_error(exc), None
        await _send(send, answer)


async def _send(send: Any, answer: Answer) -> None:
    status, data, extra = answer
    body = orjson.dumps(data)
    headers = [_JSON_TYPE, (b"content-length", str(len(body)).encode())]
    if extra:
        headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def build_app(gateway: Gateway, lifespan: Any = None) -> GatewayApp:
    async def not_found(request: Request, exc: Exception) -> Response:
        return _json(
            {
                "error": f"{request.method} {request.url.path}: no such endpoint "
                "(expected POST /predict, POST /v2/models/NAME/infer, GET /v2/health/ready)"
            },
            404,
        )

    async def bad_method(request: Request, exc: Exception) -> Response:
        return _json({"error": f"{request.method} {request.url.path}: method not allowed"}, 405)

    async def crash(request: Request, exc: Exception) -> Response:
        if isinstance(exc, ClientDisconnect):  # e.g. closed for stalling: nobody to answer
            return Response(status_code=400)
        return _json(_internal_error(exc), 500)

    fallback = Starlette(
        routes=gateway.routes(),
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: bad_method, Exception: crash},
    )
    return GatewayApp(gateway, fallback)
