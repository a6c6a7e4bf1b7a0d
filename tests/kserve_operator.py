"""A stand-in for KServe's controller (v0.20, Knative mode), for the kmock API emulator.

The emulator stores objects and nothing more; ``Emulator.operate(GROUP, PLURAL,
KServeOperator(...))`` makes every create or apply of an InferenceService get the status
KServe would report once it has acted, at once. What it plays, as KServe and Knative do:

- a changed predictor template (the predictor without ``canaryTrafficPercent``, plus
  the object's annotations, which KServe copies into it) is a new revision
  ``<name>-predictor-0000N``; it is ready when its model loads (``load_error``), failed
  when it does not, pending while its storage URI is ``stalled``;
- traffic: with ``canaryTrafficPercent`` set and a rolled-out revision, that share to
  the latest *ready* revision and the rest to the rolled-out one (tagged ``prev``);
  otherwise all of it to the latest ready revision;
- a ready revision routed 100% becomes the rolled-out one (the old one: previous);
- ``modelStatus`` and the predictor's conditions as KServe writes them for a model that
  loads, one that fails (``BlockedByFailedLoad``, ``ModelLoadFailed``) and one pending.

It is the tests' reading of KServe's documented semantics, not KServe: nothing here ran
against a real KServe.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Revision:
    name: str
    template: str
    uri: str
    error: str | None  # why its model does not load
    ready: bool


@dataclass
class KServeOperator:
    load_error: Callable[[str], str | None]  # storage URI -> why the model fails, or None
    stalled: set[str] = field(default_factory=set)  # storage URIs whose pods never get ready
    revisions: dict[tuple[str, str], list[Revision]] = field(default_factory=dict)

    def __call__(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        key = (meta.get("namespace") or "", meta["name"])
        old = obj.get("status") or {}
        if not old:  # created (or created again): no revisions yet
            self.revisions[key] = []
        revisions = self.revisions.setdefault(key, [])
        predictor = obj["spec"]["predictor"]
        uri = predictor["model"]["storageUri"]
        template = json.dumps(
            [{k: v for k, v in predictor.items() if k != "canaryTrafficPercent"},
             meta.get("annotations") or {}],
            sort_keys=True,
        )  # fmt: skip
        for revision in revisions:  # a stall lifted: its pods come up now
            if not revision.ready and revision.error is None and revision.uri not in self.stalled:
                revision.ready = True
        if not revisions or revisions[-1].template != template:
            error = None if uri in self.stalled else self.load_error(uri)
            name = f"{meta['name']}-predictor-{len(revisions) + 1:05d}"
            ready = error is None and uri not in self.stalled
            revisions.append(Revision(name, template, uri, error, ready))
        return self._status(meta, predictor, old, revisions)

    def _status(self, meta, predictor, old, revisions: list[Revision]) -> dict[str, Any]:
        latest = revisions[-1]
        ready = [r.name for r in revisions if r.ready]
        latest_ready = ready[-1] if ready else None
        was = ((old.get("components") or {}).get("predictor")) or {}
        rolled, previous = was.get("latestRolledoutRevision"), was.get("previousRolledoutRevision")
        share = predictor.get("canaryTrafficPercent")
        traffic: list[dict[str, Any]] = []
        if latest_ready:
            if share is not None and rolled:
                traffic.append({"revisionName": latest_ready, "latestRevision": True,
                                "percent": share})  # fmt: skip
                if share < 100:
                    traffic.append({"revisionName": rolled, "latestRevision": False,
                                    "percent": 100 - share, "tag": "prev"})  # fmt: skip
            else:
                traffic.append({"revisionName": latest_ready, "latestRevision": True,
                                "percent": 100})  # fmt: skip
            if traffic[0]["percent"] == 100 and rolled != latest_ready:
                previous, rolled = rolled, latest_ready
        if latest.ready:
            verdict, reason, message = "True", None, None
            model = {"transitionStatus": "UpToDate", "lastFailureInfo": None,
                     "states": {"activeModelState": "Loaded", "targetModelState": "Loaded"}}  # fmt: skip
        elif latest.error:
            verdict, reason = "False", "RevisionFailed"
            message = f'Revision "{latest.name}" failed with message: {latest.error}.'
            model = {
                "transitionStatus": "BlockedByFailedLoad",
                "lastFailureInfo": {
                    "reason": "ModelLoadFailed",
                    "message": latest.error,
                    "modelRevisionName": latest.name,
                },  # fmt: skip
                "states": {
                    "activeModelState": "Loaded" if latest_ready else "FailedToLoad",
                    "targetModelState": "FailedToLoad",
                },  # fmt: skip
            }
        else:
            verdict, reason, message = "Unknown", "RevisionMissing", f"{latest.name} is not ready"
            model = {"transitionStatus": "InProgress", "lastFailureInfo": None,
                     "states": {"activeModelState": "Loaded" if latest_ready else "Pending",
                                "targetModelState": "Loading"}}  # fmt: skip
        conditions = [
            {"type": kind, "status": verdict, "reason": reason, "message": message}
            for kind in ("PredictorReady", "LatestDeploymentReady", "Ready")
        ]
        conditions.append({"type": "IngressReady", "status": "True"})
        host = f"{meta['name']}.{meta.get('namespace') or 'default'}.example.com"
        return {
            "url": f"http://{host}",
            "deploymentMode": "Knative",
            "components": {
                "predictor": {
                    "latestCreatedRevision": latest.name,
                    "latestReadyRevision": latest_ready,
                    "latestRolledoutRevision": rolled,
                    "previousRolledoutRevision": previous,
                    "traffic": traffic,
                }
            },
            "conditions": conditions,
            "modelStatus": model,
        }
