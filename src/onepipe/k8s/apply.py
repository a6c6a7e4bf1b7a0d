"""Server-side apply: the one way onepipe writes an object to a cluster.

Every object (``onepipe up``, a backend's deployment, a sweep's Experiment and its
ConfigMap) goes through ``server_side_apply``: field ownership by ``fieldManager``,
``force`` so a re-run converges. The generated client of ``kubernetes`` 30 cannot send
an apply patch (its PATCH content type is fixed), so it goes through
``ApiClient.call_api`` with ``application/apply-patch+yaml``. A server that answers an
apply to a missing object with 404 (API emulators; a real API server creates it) gets
a create instead.
"""

from __future__ import annotations

from typing import Any

from onepipe.k8s.errors import ClusterError, error_message

# Core kinds onepipe writes, and their resource plurals; custom kinds come from the
# cluster backends that render them (k8s.manifests.kinds).
CORE_PLURALS = {
    "ServiceAccount": "serviceaccounts",
    "ConfigMap": "configmaps",
    "Role": "roles",
    "RoleBinding": "rolebindings",
}
FIELD_MANAGER = "onepipe"


def server_side_apply(
    api_client: Any, obj: dict[str, Any], plural: str, field_manager: str = FIELD_MANAGER
) -> tuple[dict[str, Any], str]:
    """Apply ``obj`` (its ``metadata.namespace`` set); ``(object as stored, "applied" | "created")``.

    ``ClusterError`` (one line naming the object) when the server refuses, does not
    know the kind (its CRD is not installed) or cannot be reached.
    """
    # lazy: optional extra 'cluster' (kubernetes, and urllib3 under it)
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    api_version, kind = obj["apiVersion"], obj["kind"]
    namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
    root = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
    collection = f"{root}/namespaces/{namespace}/{plural}"
    what = f"{kind} {namespace}/{name}"

    def call(path: str, method: str, query: list, content_type: str) -> dict[str, Any]:
        return api_client.call_api(
            path,
            method,
            {},
            query,
            {"Accept": "application/json", "Content-Type": content_type},
            body=obj,
            response_type="object",
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
        )

    try:
        try:
            owner = [("fieldManager", field_manager), ("force", "true")]
            stored = call(f"{collection}/{name}", "PATCH", owner, "application/apply-patch+yaml")
            return stored, "applied"
        except ApiException as exc:
            if exc.status != 404:
                raise
            stored = call(collection, "POST", [("fieldManager", field_manager)], "application/json")
            return stored, "created"
    except ApiException as exc:
        group = api_version.rpartition("/")[0]
        hint = f" (is the {plural}.{group} CRD installed?)" if exc.status == 404 and group else ""
        raise ClusterError(
            f"{what}: the API server answered {exc.status} {exc.reason}: {error_message(exc)}{hint}"
        ) from None
    except HTTPError as exc:
        raise ClusterError(f"{what}: cannot reach the API server ({exc})") from None
