"""The gateway: V2 inference protocol + ``POST /predict`` + a localhost admin API.

Requests are validated against the model signature, routed by the current
``RoutingTable`` (weighted, optionally sticky, optionally shadowed) and forwarded
to MLServer over a keep-alive pool. Every answer names the model, version and
alias in its body and in ``x-model-*`` headers. What else is served with it comes in as
arguments (``Extension``: the monitor, mounted by app/gateway.py): ``on_response``
callables get one dict per answered (or shadowed) request, ``routes`` join its own.
``asgi.build_app`` serves it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from onepipe.errors import OnepipeError
from onepipe.history import DeploymentState
from onepipe.serve.control import authorized, describe, same_project
from onepipe.serve.gateway.routing import RoutingTable, Target
from onepipe.serve.gateway.validation import (
    V2_TYPES,
    RequestError,
    client_request_id,
    instances_to_v2,
    v2_to_v2,
)
from onepipe.serve.gateway.worker import ModelHost

log = logging.getLogger("onepipe.serve.gateway")
LOCAL_CLIENTS = {"127.0.0.1", "::1", "localhost", "testclient"}


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(data), status_code=status, headers=headers, media_type="application/json"
    )


def _error(err: RequestError) -> Response:
    return _json(err.to_dict(), err.status)


Answer = tuple[int, Any, dict[str, str] | None]  # status, JSON-able body, extra headers


def _respond(answer: Answer) -> Response:
    status, data, headers = answer
    return _json(data, status, headers)


@dataclass(frozen=True)
class Extension:
    """A part served with the gateway, on its port: it sees every answer, adds routes,
    and is closed once the gateway has stopped (after its last answer)."""

    on_response: Callable[[dict[str, Any]], None] | None = None
    routes: Sequence[Route] = ()
    close: Callable[[], None] = lambda: None


@dataclass(frozen=True)
class Incoming:
    """What the inference path reads of a request; built from raw ASGI or a Starlette Request."""

    content_length: str | None
    sticky: str | None  # the sticky-routing header's value
    chunks: AsyncIterator[bytes]


class Gateway:
    """Routing state + forwarding; one per ``onepipe serve`` process."""

    def __init__(
        self,
        host: ModelHost,
        *,
        max_body_bytes: int,
        max_instances: int,
        sticky_header: str,
        control_key: str,
        serves: dict[str, Any],
        timeout: float = 30.0,
        on_response: Sequence[Callable[[dict[str, Any]], None]] = (),
        routes: Sequence[Route] = (),
    ) -> None:
        self.host = host
        self.control_key = control_key  # the admin API answers only requests carrying it
        self.serves = serves  # which project, config and env this gateway serves
        self.max_body_bytes = max_body_bytes
        self.max_instances = max_instances
        self.sticky_header = sticky_header.lower()
        self.timeout = timeout
        self.on_response = list(on_response)
        self.extra_routes = list(routes)  # e.g. the monitor's /feedback and /metrics
        self._shadow_tasks: set[asyncio.Task] = set()
        self.request_stop: Callable[[], None] = lambda: None  # set by the server that runs it

    @property
    def table(self) -> RoutingTable | None:
        return self.host.table

    # ---- request plumbing -------------------------------------------------
    def incoming(self, request: Request) -> Incoming:
        return Incoming(
            request.headers.get("content-length"),
            request.headers.get(self.sticky_header),
            request.stream(),
        )

    async def _body(self, incoming: Incoming) -> Any:
        declared = incoming.content_length
        if declared is not None:
            try:
                if int(declared) > self.max_body_bytes:
                    raise RequestError(
                        413, f"body: {declared} bytes exceed the limit of {self.max_body_bytes}"
                    )
            except ValueError:
                raise RequestError(400, "content-length: expected a number of bytes") from None
        chunks, size = [], 0
        async for chunk in incoming.chunks:
            size += len(chunk)
            if size > self.max_body_bytes:
                raise RequestError(413, f"body: more than {self.max_body_bytes} bytes (the limit)")
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw.strip():
            raise RequestError(400, "body: empty (expected a JSON object)")
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise RequestError(400, f"body: not valid JSON ({str(exc).split(':')[0]})") from None

    def _model_table(self, name: str) -> RoutingTable:
        table = self.table
        if table is None:
            raise RequestError(503, "no model is deployed yet")
        if name != table.state.model:
            raise RequestError(
                404, f"model {name!r} is not served here (expected {table.state.model!r})"
            )
        return table

    async def _forward(
        self, target: Target, payload: dict[str, Any]
    ) -> tuple[Target, dict[str, Any]]:
        """Send to MLServer; on a transport error or a vanished model retry once on the live table."""
        body = orjson.dumps(payload)
        for attempt in (0, 1):
            try:
                status, data = await self.host.infer(target.model, body, self.timeout)
            except ConnectionError:
                status, data = 0, None
            if status == 200:
                return target, data
            if attempt == 0 and status in (0, 404, 503) and self.table is not None:
                target = self.table.by_version.get(target.version) or self.table.pick()[0]
                continue
            break
        if status == 0:
            raise RequestError(
                502, f"model {target.model.name}/{target.version}: MLServer is unreachable"
            )
        detail = (data or {}).get("error") or (data or {}).get("detail") or f"HTTP {status}"
        if status in (400, 422, 500):  # input passed the signature but the model refused it
            first = str(detail).strip().splitlines()[0][:300]
            raise RequestError(
                422,
                f"model {target.model.name}/{target.version} could not score this input ({first})",
            )
        raise RequestError(
            502, f"model {target.model.name}/{target.version}: upstream answered {status}"
        )

    def _emit(self, event: dict[str, Any]) -> None:
        for hook in list(self.on_response):
            try:
                hook(event)
            except Exception:  # a broken observer never breaks serving
                log.exception("on_response hook failed")

    async def _shadow(
        self, target: Target, payload: dict[str, Any], started: float, ids: tuple[str, str | None]
    ) -> None:
        try:
            _, data = await self._forward(target, payload)
            status = 200
        except RequestError as err:
            data, status = err.to_dict(), err.status
        except Exception:  # noqa: BLE001 - a shadow never affects anyone
            return
        if self.on_response:
            self._emit(self._event(target, payload, data, status, started, True, ids))

    def _event(
        self,
        target: Target,
        payload: dict[str, Any],
        data: Any,
        status: int,
        started: float,
        shadow: bool,
        ids: tuple[str, str | None],
    ) -> dict[str, Any]:
        return {
            "request_id": ids[0],  # the log's own id: the key, what the answer returns
            "client_id": ids[1],  # the client's V2 id: data only
            "model_name": target.model.name,
            "model_version": target.version,
            "model_alias": target.alias,
            "shadow": shadow,
            "status": status,
            "request": payload,
            "response": data,
            "latency_ms": (time.perf_counter() - started) * 1000.0,
            "time": time.time(),
        }

    async def _route(
        self, incoming: Incoming, name: str, version: str | None, parse: Callable
    ) -> tuple[Target, dict[str, Any], dict[str, Any], int]:
        started = time.perf_counter()
        table = self._model_table(name)
        body = await self._body(incoming)
        if version is not None:
            target = table.by_version.get(version)
            if target is None:
                raise RequestError(
                    404,
                    f"model {name!r} version {version!r} is not deployed "
                    f"(deployed: {', '.join(table.by_version)})",
                )
            shadow = None
        else:
            target, shadow = table.pick(incoming.sticky)
        # The log owns its ids: a fresh one per request, whatever the client sent, so no
        # request (refused or not) can overwrite another's record. 128 random bits, not
        # guessable (feedback names them); os.urandom is 5x cheaper than str(uuid4()).
        ids: tuple[str, str | None] = (os.urandom(16).hex(), None)
        try:
            ids = (ids[0], client_request_id(body))
            payload, rows = parse(body, target.model.columns, self.max_instances)
            payload["id"] = ids[0]
            target, data = await self._forward(target, payload)
        except RequestError as err:  # observers see refused and failed requests too
            if self.on_response:
                event = self._event(target, body, err.to_dict(), err.status, started, False, ids)
                self._emit(event)
            raise
        data["id"] = ids[0]
        if ids[1] is not None:
            data["client_id"] = ids[1]
        if shadow is not None:
            task = asyncio.create_task(self._shadow(shadow, payload, started, ids))
            self._shadow_tasks.add(task)
            task.add_done_callback(self._shadow_tasks.discard)
        if self.on_response:
            self._emit(self._event(target, payload, data, 200, started, False, ids))
        return target, payload, data, rows

    @staticmethod
    def _headers(target: Target) -> dict[str, str]:
        return {
            "x-model-name": target.model.name,
            "x-model-version": target.version,
            "x-model-alias": target.alias,
        }

    # ---- the inference endpoints (also served by the raw ASGI fast path) ----------
    async def answer_infer(self, incoming: Incoming, name: str, version: str | None) -> Answer:
        try:
            target, _, data, _ = await self._route(incoming, name, version, v2_to_v2)
        except RequestError as err:
            return err.status, err.to_dict(), None
        data["model_name"] = target.model.name
        data["model_version"] = target.version
        data["model_alias"] = target.alias
        return 200, data, self._headers(target)

    async def answer_predict(self, incoming: Incoming) -> Answer:
        table = self.table
        try:
            if table is None:
                raise RequestError(503, "no model is deployed yet")
            target, _, data, _ = await self._route(
                incoming, table.state.model, None, instances_to_v2
            )
        except RequestError as err:
            return err.status, err.to_dict(), None
        outputs = data.get("outputs") or [{}]
        preds = [
            v[0] if isinstance(v, list) and len(v) == 1 else v for v in outputs[0].get("data", [])
        ]
        body = {
            "predictions": preds,
            "model_name": target.model.name,
            "model_version": target.version,
            "model_alias": target.alias,
            "id": data.get("id"),
        }
        if "client_id" in data:
            body["client_id"] = data["client_id"]
        return 200, body, self._headers(target)

    async def infer(self, request: Request) -> Response:
        p = request.path_params
        return _respond(
            await self.answer_infer(self.incoming(request), p["name"], p.get("version"))
        )

    async def predict(self, request: Request) -> Response:
        return _respond(await self.answer_predict(self.incoming(request)))

    async def live(self, request: Request) -> Response:
        return _json({"live": True})

    async def ready(self, request: Request) -> Response:
        ok = self.table is not None and self.host.alive()
        return _json({"ready": ok}, 200 if ok else 503)

    async def server_metadata(self, request: Request) -> Response:
        return _json({"name": "onepipe-gateway", "version": "1", "extensions": ["onepipe-routing"]})

    async def model_ready(self, request: Request) -> Response:
        p = request.path_params
        try:
            table = self._model_table(p["name"])
        except RequestError as err:
            return _error(err)
        version = p.get("version")
        ok = version is None or version in table.by_version
        return _json({"name": p["name"], "ready": ok}, 200 if ok else 404)

    async def model_metadata(self, request: Request) -> Response:
        p = request.path_params
        try:
            table = self._model_table(p["name"])
            target = table.champion if "version" not in p else table.by_version.get(p["version"])
            if target is None:
                raise RequestError(404, f"version {p['version']!r} is not deployed")
        except RequestError as err:
            return _error(err)
        return _json(
            {
                "name": target.model.name,
                "versions": list(table.by_version),
                "platform": "mlflow",
                "inputs": [
                    {"name": c.name, "datatype": V2_TYPES.get(c.type, c.type), "shape": [-1, 1]}
                    for c in target.model.columns
                ],
                "parameters": {
                    "champion": table.state.champion,
                    "challenger": table.state.challenger,
                    "weights": table.state.weights,
                    "shadow": table.state.shadow,
                },
            },
            headers=self._headers(target),
        )

    # ---- admin (localhost only, the project's control key) ----------------------------
    def _admit(self, request: Request) -> Response | None:
        """None when the caller is local and holds the key; else the refusal (serve/control.py)."""
        client = request.client.host if request.client else ""
        if client not in LOCAL_CLIENTS:
            return _json({"error": "admin API: only reachable from localhost"}, 403)
        if not authorized(request.headers.get("authorization"), self.control_key):
            return _json(
                {
                    "error": "admin API: missing or wrong control key (expected the key of the "
                    "project this gateway serves, sent as Authorization: Bearer KEY)",
                    "serves": self.serves,  # so a command of another project can say whose it is
                },
                401,
                {"www-authenticate": "Bearer"},
            )
        return None

    async def admin_state(self, request: Request) -> Response:
        if (denied := self._admit(request)) is not None:
            return denied
        table = self.table
        return _json(
            {
                "state": table.state.to_dict() if table else None,
                "loaded": sorted(self.host.loaded_versions()),
                "mlserver": self.host.url,
                "serves": self.serves,
            }
        )

    async def admin_apply(self, request: Request) -> Response:
        if (denied := self._admit(request)) is not None:
            return denied
        try:
            body = await self._body(self.incoming(request))
            state = DeploymentState.from_dict(body["state"])
            expect = body.get("expect")  # the identity the caller means to steer
        except RequestError as err:
            return _error(err)
        except (KeyError, TypeError, ValueError, AttributeError, OnepipeError) as exc:
            return _json({"error": f"admin apply: bad state ({exc})"}, 400)
        if isinstance(expect, dict) and not same_project(self.serves, expect):
            return _json(
                {
                    "error": f"this gateway serves {describe(self.serves)}, not "
                    f"{describe(expect)}; nothing applied",
                    "serves": self.serves,
                },
                409,
            )
        try:
            await self.host.apply(state)
        except OnepipeError as exc:
            return _json({"error": str(exc)}, 409)
        return _json({"state": state.to_dict(), "message": f"serving {state.describe()}"})

    def routes(self) -> list[Route]:
        return [
            Route("/predict", self.predict, methods=["POST"]),
            Route("/v2/models/{name}/infer", self.infer, methods=["POST"]),
            Route("/v2/models/{name}/versions/{version}/infer", self.infer, methods=["POST"]),
            Route("/v2/health/live", self.live, methods=["GET"]),
            Route("/v2/health/ready", self.ready, methods=["GET"]),
            Route("/v2", self.server_metadata, methods=["GET"]),
            Route("/v2/models/{name}", self.model_metadata, methods=["GET"]),
            Route("/v2/models/{name}/versions/{version}", self.model_metadata, methods=["GET"]),
            Route("/v2/models/{name}/ready", self.model_ready, methods=["GET"]),
            Route("/v2/models/{name}/versions/{version}/ready", self.model_ready, methods=["GET"]),
            Route("/admin/state", self.admin_state, methods=["GET"]),
            Route("/admin/apply", self.admin_apply, methods=["POST"]),
            *self.extra_routes,
        ]
