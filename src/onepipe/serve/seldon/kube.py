"""Server-side apply of one custom resource, on top of :mod:`onepipe.k8s.resources`.

The generic helpers there create or merge-patch; serving wants server-side apply
(field ownership by ``fieldManager``), which the generated client of
``kubernetes`` 30 cannot send (its PATCH content type is fixed), so it goes
through ``ApiClient.call_api`` with ``application/apply-patch+yaml``. A server
that answers an apply to a missing object with 404 (API emulators; a real API
server creates it) gets a create instead.
"""

from __future__ import annotations

from typing import Any

from onepipe.errors import NotFoundError
from onepipe.k8s.resources import ClusterError, CustomResources, ResourceKind, _message


def server_side_apply(
    resources: CustomResources, obj: dict[str, Any], field_manager: str
) -> dict[str, Any]:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    kind: ResourceKind = resources.kind
    name = obj["metadata"]["name"]
    api = resources.api.api_client
    try:
        return api.call_api(
            "/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}",
            "PATCH",
            {
                "group": kind.group,
                "version": kind.version,
                "namespace": resources.namespace,
                "plural": kind.plural,
                "name": name,
            },
            [("fieldManager", field_manager), ("force", "true")],
            {"Accept": "application/json", "Content-Type": "application/apply-patch+yaml"},
            body=obj,
            response_type="object",
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
        )
    except ApiException as exc:
        if exc.status == 404:
            try:
                return resources.create(obj)
            except NotFoundError:
                raise NotFoundError(
                    f"{kind.kind} {name}: the API server does not know "
                    f"{kind.plural}.{kind.group} (is the CRD installed?)"
                ) from None
        raise ClusterError(
            f"{kind.kind} {name}: server-side apply answered {exc.status} "
            f"{exc.reason}: {_message(exc)}"
        ) from None
    except HTTPError as exc:
        raise ClusterError(f"{kind.kind} {name}: cannot reach the API server ({exc})") from None
