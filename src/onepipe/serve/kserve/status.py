"""What an InferenceService's status says: the step it serves, why it fails, how far it got.

KServe reports the predictor's revisions in ``status.components.predictor``: the latest
created and latest ready one, the rolled-out one (the last that held 100%), and
``traffic``, Knative's routes (``latestRevision: true`` for the latest ready revision,
the rest naming the rolled-out one, tagged ``prev``). A step serves when the revision
its spec made is the latest ready one and the traffic is split as the step says.
Failures show in ``modelStatus`` (a model that does not load) and in the predictor's
conditions (a revision Knative gave up on).
"""

from __future__ import annotations

from typing import Any

from onepipe.errors import UsageError
from onepipe.history import DeploymentState
from onepipe.serve.kserve.names import CHALLENGER, CHAMPION, MODEL
from onepipe.serve.kserve.rollout import Step

FAILED_TRANSITIONS = ("BlockedByFailedLoad", "InvalidSpec")
WATCHED_CONDITIONS = ("PredictorReady", "LatestDeploymentReady")


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("status") or {}


def _predictor(obj: dict[str, Any]) -> dict[str, Any]:
    return (_status(obj).get("components") or {}).get("predictor") or {}


def recorded_step(obj: dict[str, Any]) -> Step | None:
    """The step an InferenceService's spec and annotations describe (None: not onepipe's)."""
    notes = (obj.get("metadata") or {}).get("annotations") or {}
    predictor = (obj.get("spec") or {}).get("predictor") or {}
    if not notes.get(MODEL) or not notes.get(CHAMPION):
        return None
    share = predictor.get("canaryTrafficPercent")
    challenger = notes.get(CHALLENGER) or None
    try:
        latest = 100 if share is None else int(share)
        state = DeploymentState(
            notes[MODEL], notes[CHAMPION], challenger, latest if challenger else 0
        )
    except (UsageError, ValueError):  # a spec or annotations someone edited by hand
        return None
    return Step(state, latest)


def observed(obj: dict[str, Any]) -> bool:
    """Whether the status describes the current spec (where the server numbers generations)."""
    generation = (obj.get("metadata") or {}).get("generation")
    seen = _status(obj).get("observedGeneration")
    return generation is None or seen is None or int(seen) >= int(generation)


def serving(obj: dict[str, Any]) -> Step | None:
    """The step the object serves now, or None (being rolled out, failed, or not onepipe's)."""
    step = recorded_step(obj)
    if step is None or not observed(obj):
        return None
    predictor = _predictor(obj)
    latest = predictor.get("latestCreatedRevision")
    if not latest or predictor.get("latestReadyRevision") != latest:
        return None  # the spec's revision is not ready: Knative still routes the older ones
    routes = [r for r in predictor.get("traffic") or [] if int(r.get("percent") or 0) > 0]
    if sum(int(r["percent"]) for r in routes) != 100:
        return None
    to_latest = 0
    for route in routes:
        if route.get("latestRevision"):
            if route.get("revisionName", latest) != latest:
                return None
            to_latest += int(route["percent"])
        elif route.get("revisionName") != predictor.get("latestRolledoutRevision"):
            return None  # a route onepipe did not make: what it serves is unknown
    return step if to_latest == step.latest_percent else None


def failure(obj: dict[str, Any]) -> str | None:
    """Why the spec's revision will not serve, as KServe says it; None while it may still."""
    if not observed(obj):
        return None
    model = _status(obj).get("modelStatus") or {}
    if model.get("transitionStatus") in FAILED_TRANSITIONS:
        info = model.get("lastFailureInfo") or {}
        return _one_line(info.get("message") or info.get("reason") or model["transitionStatus"])
    for cond in _status(obj).get("conditions") or []:
        if cond.get("type") in WATCHED_CONDITIONS and str(cond.get("status")) == "False":
            said = cond.get("message") or cond.get("reason") or "no reason given"
            return _one_line(f"{cond['type']}: {said}")
    return None


def progress(obj: dict[str, Any]) -> str:
    """Where a rollout stands, in a few words (for a timeout's message)."""
    status = _status(obj)
    if not status:
        return "no status: is KServe's controller running, with Knative Serving?"
    waiting = [
        f"{c.get('type')} {c.get('status')}" + (f" ({c['reason']})" if c.get("reason") else "")
        for c in status.get("conditions") or []
        if str(c.get("status")) != "True"
    ]
    predictor = _predictor(obj)
    latest = predictor.get("latestCreatedRevision") or "none"
    ready = predictor.get("latestReadyRevision") or "none"
    return _one_line(f"latest revision {latest}, ready {ready}; " + ("; ".join(waiting) or "ready"))


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
