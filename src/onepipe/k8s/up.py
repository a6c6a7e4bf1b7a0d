"""``onepipe up``: apply an environment's resources, or print them for review.

The objects are exactly those of ``manifests/overlays/<env>`` (the base RBAC, each
stage's cluster backend's objects, the project ConfigMap), namespaced and labelled the
way the overlay's kustomization does. Applying is server-side apply (``k8s.apply``),
object by object, so a re-run converges.
"""

from __future__ import annotations

import copy
from typing import Any

from onepipe.config import Settings
from onepipe.k8s.apply import CORE_PLURALS, server_side_apply
from onepipe.k8s.errors import ClusterError
from onepipe.k8s.manifests import kinds
from onepipe.k8s.render_overlays import base_resources, overlay_manifests, shared


def environment_objects(settings: Settings) -> list[dict[str, Any]]:
    """What ``kubectl apply -k manifests/overlays/<env>`` applies, as plain objects."""
    settings = shared(settings)
    docs = [*base_resources(), *(o for m in overlay_manifests(settings) for o in m.objects)]
    out = []
    for doc in copy.deepcopy(docs):
        meta = doc.setdefault("metadata", {})
        meta["namespace"] = settings.kubernetes.namespace
        meta.setdefault("labels", {})["onepipe.io/env"] = settings.env
        out.append(doc)
    return out


def apply_objects(api_client, objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Server-side apply each object; what was done to each, in order."""
    plurals = {**CORE_PLURALS, **kinds()}
    done = []
    for obj in objects:
        plural = plurals.get(obj["kind"])
        if plural is None:
            raise ClusterError(f"{obj['kind']}: onepipe up does not know this kind's resource path")
        _, action = server_side_apply(api_client, obj, plural)
        meta = obj["metadata"]
        done.append(
            {
                "kind": obj["kind"],
                "namespace": meta["namespace"],
                "name": meta["name"],
                "action": action,
            }
        )
    return done
