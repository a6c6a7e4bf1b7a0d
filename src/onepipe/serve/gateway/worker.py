"""``ModelHost``: the versions loaded in MLServer and the live routing table.

``apply(state)`` loads what the new state needs, checks each new version answers
its own input example, and only then swaps ``table`` (one reference assignment).
Versions no longer routed to are unloaded once their in-flight requests drain;
the previous state's versions stay warm so a rollback is instant.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from onepipe.history import DeploymentState
from onepipe.serve.errors import DeployError
from onepipe.serve.gateway.routing import RoutingTable
from onepipe.serve.gateway.upstream import UpstreamPool
from onepipe.serve.gateway.validation import RequestError, instances_to_v2
from onepipe.serve.mlserver import MLServerWorker
from onepipe.serve.models import ServedModel, served_model
from onepipe.tracking.registry import resolve_model

if TYPE_CHECKING:
    from onepipe.config import Settings

log = logging.getLogger("onepipe.serve.gateway")


class ModelHost:
    def __init__(self, settings: Settings, worker: MLServerWorker) -> None:
        self.settings = settings
        self.worker = worker
        self.table: RoutingTable | None = None
        self._client: Any = None
        self._upstream: Any = None
        self._loaded: dict[str, ServedModel] = {}
        self._inflight: Counter[str] = Counter()
        self._lock = asyncio.Lock()
        self._previous: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return self.worker.url

    def alive(self) -> bool:
        return self.worker.alive()

    def loaded_versions(self) -> list[str]:
        return list(self._loaded)

    async def open(self) -> None:
        # httpx for the few admin calls (load/unload); a lean keep-alive pool for inference,
        # whose CPU per request is what the gateway adds to every answer.
        self._client = self.worker.endpoint.async_client(timeout=30.0)
        self._upstream = UpstreamPool(self.worker.endpoint)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._upstream is not None:
            await self._upstream.close()
            self._upstream = None

    async def infer(self, model: ServedModel, body: bytes, timeout: float) -> tuple[int, Any]:
        name = model.internal_name
        self._inflight[name] += 1
        try:
            status, content = await self._upstream.post(
                f"/v2/models/{quote(name, safe='')}/infer", body, timeout
            )
        finally:
            self._inflight[name] -= 1
        try:
            data = orjson.loads(content)
        except orjson.JSONDecodeError:
            data = {"error": content[:300].decode(errors="replace")}
        return status, data

    async def _served(self, state: DeploymentState, version: str) -> ServedModel:
        def resolve() -> ServedModel:
            return served_model(
                self.settings, resolve_model(self.settings, f"{state.model}/{version}")
            )

        return await asyncio.to_thread(resolve)

    async def _check(self, model: ServedModel) -> None:
        """Readiness: the new version must score its own input example."""
        if not model.example:
            return
        rows = [
            dict(zip(model.example, vals, strict=True))
            for vals in zip(*model.example.values(), strict=True)
        ]
        try:
            payload, n = instances_to_v2({"instances": rows}, model.columns, max(len(rows), 1))
        except RequestError as err:
            raise DeployError(
                f"{model.name}/{model.version}: its input example does not match its "
                f"signature ({err.message})"
            ) from None
        try:
            status, data = await self.infer(model, orjson.dumps(payload), 60)
        except ConnectionError as exc:
            raise DeployError(
                f"{model.name}/{model.version}: readiness check failed ({exc})"
            ) from None
        outputs = (data or {}).get("outputs") if isinstance(data, dict) else None
        if status != 200 or not outputs or len(outputs[0].get("data", [])) != n:
            detail = (data or {}).get("error") if isinstance(data, dict) else None
            raise DeployError(
                f"{model.name}/{model.version}: readiness check failed (scoring its "
                f"input example answered {status}: {str(detail or data)[:200]})"
            )

    async def apply(self, state: DeploymentState) -> None:
        async with self._lock:
            new: list[ServedModel] = []
            models: dict[str, ServedModel] = {}
            try:
                for version in state.versions:
                    if version in self._loaded:
                        models[version] = self._loaded[version]
                        continue
                    model = await self._served(state, version)
                    await self.worker.load(self._client, model)
                    new.append(model)
                    await self._check(model)
                    models[version] = model
            except Exception:
                for model in new:  # leave MLServer as it was
                    await self.worker.unload(self._client, model)
                raise
            for model in new:
                self._loaded[model.version] = model
            old = self.table
            self.table = RoutingTable.build(state, models)  # the atomic swap
            self._previous = old.state.versions if old else ()
            keep = set(state.versions) | set(self._previous)
            for version in [v for v in self._loaded if v not in keep]:
                asyncio.create_task(self._retire(self._loaded[version]))

    async def _retire(self, model: ServedModel) -> None:
        for _ in range(600):  # requests already routed to it finish first
            if self._inflight[model.internal_name] <= 0:
                break
            await asyncio.sleep(0.05)
        async with self._lock:
            table = self.table
            if table and (model.version in table.state.versions or model.version in self._previous):
                return  # routed to again meanwhile
            self._loaded.pop(model.version, None)
            await self.worker.unload(self._client, model)
