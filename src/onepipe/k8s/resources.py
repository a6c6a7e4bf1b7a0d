"""Custom resources through the official ``kubernetes`` client: apply, get, patch, watch status.

Generic over group/version/plural (whatever kind a cluster backend uses). ``apply``
is server-side apply (``k8s.apply``, the one way onepipe writes an object);
``watch`` reads the watch stream line by line itself so it works with any server
that streams JSON events (the real API server, kmock).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from onepipe.errors import NotFoundError
from onepipe.extras import require
from onepipe.k8s.apply import server_side_apply
from onepipe.k8s.errors import ClusterError, error_message

if TYPE_CHECKING:
    from onepipe.config.schema import KubernetesConfig

__all__ = [
    "ClusterError",
    "CustomResources",
    "NamedObject",
    "ResourceKind",
    "api_client",
    "condition",
]


@dataclass(frozen=True)
class ResourceKind:
    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


def api_client(kubeconfig: str | None = None, context: str | None = None):
    """An ``ApiClient`` from a kubeconfig file, else in-cluster config, else ~/.kube/config."""
    require("kubernetes", extra="cluster", what="talking to a Kubernetes cluster")
    from kubernetes import client, config  # lazy: optional extra 'cluster', required just above

    try:
        if kubeconfig:
            return config.new_client_from_config(config_file=kubeconfig, context=context)
        try:
            config.load_incluster_config()
            return client.ApiClient()
        except config.ConfigException:
            return config.new_client_from_config(context=context)
    except (config.ConfigException, FileNotFoundError, OSError) as exc:
        raise ClusterError(
            f"kubernetes: no usable cluster configuration ({exc}); "
            "pass --kubeconfig FILE or run inside the cluster"
        ) from None


class CustomResources:
    """One kind of custom resource in one namespace."""

    def __init__(self, api, kind: ResourceKind, namespace: str) -> None:
        from kubernetes import client  # lazy: optional extra 'cluster'

        self.api = client.CustomObjectsApi(api)
        self.kind = kind
        self.namespace = namespace

    def _call(self, what: str, fn: Callable, *args, **kwargs):
        # lazy: optional extra 'cluster' (kubernetes, and urllib3 under it)
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return fn(
                self.kind.group,
                self.kind.version,
                self.namespace,
                self.kind.plural,
                *args,
                **kwargs,
            )
        except ApiException as exc:
            if exc.status == 404:
                raise NotFoundError(
                    f"{self.kind.kind} {what} not found in namespace "
                    f"{self.namespace} (is the {self.kind.plural}.{self.kind.group} "
                    "CRD installed?)"
                ) from None
            raise ClusterError(
                f"{self.kind.kind} {what}: API server answered {exc.status} "
                f"{exc.reason}: {error_message(exc)}"
            ) from None
        except HTTPError as exc:
            raise ClusterError(
                f"{self.kind.kind} {what}: cannot reach the API server ({exc})"
            ) from None

    def get(self, name: str) -> dict[str, Any]:
        return self._call(name, self.api.get_namespaced_custom_object, name)

    def exists(self, name: str) -> bool:
        try:
            self.get(name)
            return True
        except NotFoundError:
            return False

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self._call(obj["metadata"]["name"], self.api.create_namespaced_custom_object, obj)

    def patch(self, name: str, patch: dict[str, Any], *, status: bool = False) -> dict[str, Any]:
        fn = (
            self.api.patch_namespaced_custom_object_status
            if status
            else self.api.patch_namespaced_custom_object
        )
        return self._call(name, fn, name, patch)

    def delete(self, name: str) -> dict[str, Any]:
        return self._call(name, self.api.delete_namespaced_custom_object, name)

    def apply(self, obj: dict[str, Any], field_manager: str | None = None) -> dict[str, Any]:
        """Server-side apply ``obj`` in this namespace; the object as stored."""
        obj = {**obj, "metadata": {**obj["metadata"], "namespace": self.namespace}}
        extra = {"field_manager": field_manager} if field_manager else {}
        stored, _ = server_side_apply(self.api.api_client, obj, self.kind.plural, **extra)
        return stored

    def watch(self, name: str, *, read_timeout: float = 30.0) -> Iterator[dict[str, Any]]:
        """Every state of one object as the server streams it (ADDED/MODIFIED), until DELETED.

        The stream is re-opened after a quiet ``read_timeout``; each re-open first
        yields the current object, so a missed event is never a missed state.
        """
        from urllib3.exceptions import ProtocolError, ReadTimeoutError  # lazy: as in _call

        while True:
            # "true", not True: some servers (kmock) only recognise the lowercase literal.
            resp = self._call(
                name,
                self.api.list_namespaced_custom_object,
                watch="true",
                field_selector=f"metadata.name={name}",
                _preload_content=False,
                _request_timeout=(10, read_timeout),
            )
            try:
                for event in _events(resp):
                    obj = event.get("object") or {}
                    if obj.get("metadata", {}).get("name") != name:
                        continue
                    if event.get("type") == "DELETED":
                        return
                    yield obj
            except (ReadTimeoutError, ProtocolError):
                pass
            finally:
                resp.release_conn()

    def wait_for(
        self,
        name: str,
        done: Callable[[dict[str, Any]], bool],
        *,
        on_change: Callable[[dict[str, Any]], None] | None = None,
        timeout: float | None = None,
        read_timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Follow ``name`` until ``done(obj)``; ``on_change`` sees every new status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last_status = object()
        for obj in self.watch(name, read_timeout=min(read_timeout, timeout or read_timeout)):
            status = obj.get("status")
            if status != last_status:
                last_status = status
                if on_change:
                    on_change(obj)
            if done(obj):
                return obj
            if deadline is not None and time.monotonic() > deadline:
                raise ClusterError(
                    f"{self.kind.kind} {name}: not finished after {timeout:.0f}s "
                    "(it keeps running on the cluster; follow it with `sweep status`)"
                )
        raise NotFoundError(f"{self.kind.kind} {name} was deleted while being followed")


def _events(resp) -> Iterator[dict[str, Any]]:
    buffer = b""
    for chunk in resp.stream(4096, decode_content=False):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)


def condition(obj: dict[str, Any], kind: str) -> bool:
    """Whether ``status.conditions`` holds ``kind`` with status True (Kubernetes convention)."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and str(cond.get("status")).lower() == "true":
            return True
    return False


class NamedObject:
    """One named object of a custom kind, in the configured cluster context and namespace.

    The API client is made on first use: a backend built from the settings connects to
    nothing until it reads or writes (``api`` hands in a client, e.g. an emulator's).
    """

    def __init__(
        self, kind: ResourceKind, name: str, kubernetes: KubernetesConfig, api: Any = None
    ) -> None:
        self.kind, self.name, self.kubernetes = kind, name, kubernetes
        self._api = api
        self._resources: CustomResources | None = None

    @property
    def resources(self) -> CustomResources:
        if self._resources is None:
            api = self._api or api_client(context=self.kubernetes.context)
            self._resources = CustomResources(api, self.kind, self.kubernetes.namespace)
        return self._resources

    def get(self) -> dict[str, Any] | None:
        """The object as the API server has it, or None when there is none."""
        try:
            return self.resources.get(self.name)
        except NotFoundError:
            return None
