"""``onepipe up``: apply an environment's resources, or print them for review.

The objects are exactly those of ``manifests/overlays/<env>`` (base RBAC, the Katib
Experiment and its ConfigMap, the SeldonDeployment, the Pachyderm pipeline spec and the
project ConfigMap), namespaced and labelled the way the overlay's kustomization does.
Applying is server-side apply, object by object, so a re-run converges.
"""

from __future__ import annotations

import copy
from typing import Any

from onepipe.config import Settings
from onepipe.k8s.render_overlays import (
    base_resources,
    katib_documents,
    pachyderm_configmap,
    pachyderm_pipeline,
    project_configmap,
    seldon_document,
    shared,
)
from onepipe.k8s.resources import ClusterError, _message

FIELD_MANAGER = "onepipe"
PLURALS = {
    "ServiceAccount": "serviceaccounts",
    "ConfigMap": "configmaps",
    "Role": "roles",
    "RoleBinding": "rolebindings",
    "Experiment": "experiments",
    "SeldonDeployment": "seldondeployments",
}


def environment_objects(settings: Settings) -> list[dict[str, Any]]:
    """What ``kubectl apply -k manifests/overlays/<env>`` applies, as plain objects."""
    settings = shared(settings)
    request = pachyderm_pipeline(settings)
    docs = [
        *base_resources(),
        *katib_documents(settings),
        seldon_document(settings),
        pachyderm_configmap(settings, request),
        project_configmap(settings),
    ]
    out = []
    for doc in copy.deepcopy(docs):
        meta = doc.setdefault("metadata", {})
        meta["namespace"] = settings.kubernetes.namespace
        meta.setdefault("labels", {})["onepipe.io/env"] = settings.env
        out.append(doc)
    return out


def _collection(obj: dict[str, Any]) -> str:
    api_version, kind = obj["apiVersion"], obj["kind"]
    plural = PLURALS.get(kind)
    if plural is None:
        raise ClusterError(f"{kind}: onepipe up does not know this kind's resource path")
    prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    return f"{prefix}/namespaces/{obj['metadata']['namespace']}/{plural}"


def apply_objects(api_client, objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Server-side apply each object; an emulator that answers 404 to a missing object gets a create."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    done = []
    for obj in objects:
        collection, name = _collection(obj), obj["metadata"]["name"]
        what = f"{obj['kind']} {obj['metadata']['namespace']}/{name}"
        try:
            try:
                api_client.call_api(
                    f"{collection}/{name}",
                    "PATCH",
                    {},
                    [("fieldManager", FIELD_MANAGER), ("force", "true")],
                    {"Accept": "application/json", "Content-Type": "application/apply-patch+yaml"},
                    body=obj,
                    response_type="object",
                    _return_http_data_only=True,
                )
                action = "applied"
            except ApiException as exc:
                if exc.status != 404:
                    raise
                api_client.call_api(
                    collection,
                    "POST",
                    {},
                    [],
                    {"Accept": "application/json", "Content-Type": "application/json"},
                    body=obj,
                    response_type="object",
                    _return_http_data_only=True,
                )
                action = "created"
        except ApiException as exc:
            hint = " (is its CRD installed?)" if exc.status == 404 else ""
            raise ClusterError(
                f"{what}: the API server answered {exc.status} {exc.reason}: {_message(exc)}{hint}"
            ) from None
        except HTTPError as exc:
            raise ClusterError(f"{what}: cannot reach the API server ({exc})") from None
        done.append(
            {
                "kind": obj["kind"],
                "namespace": obj["metadata"]["namespace"],
                "name": name,
                "action": action,
            }
        )
    return done
