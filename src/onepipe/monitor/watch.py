"""``onepipe watch``: retrain when a new data commit lands or a drift alert fires.

One check (``check_once``) looks at the head of the watched branch and, when
nothing new arrived, at the drift of the serving versions (the same function
``onepipe monitor drift-check`` uses). On a trigger it runs the training
pipeline with the data ref pinned to the branch head, tagged
``onepipe.trigger`` (``data-commit loans@<id>`` or ``drift-alert <features>``);
registration makes the new version ``challenger``.

State (``.onepipe/watch-<repo>-<branch>.json``): the head last trained on and
the head a drift alert last retrained on, so a lasting alert on unchanged data
retrains once, not on every check. With no state yet, the baseline is the data
commit the champion was trained on.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onepipe.data import open_store as open_data_store
from onepipe.errors import NotFoundError, RunFailed, UsageError
from onepipe.monitor.report import drift_for_version, last_change
from onepipe.monitor.store import open_store
from onepipe.monitor.windows import since_from
from onepipe.pipeline.execute import run_pipeline
from onepipe.tracking.client import client_for
from onepipe.tracking.registry import resolve_model

if TYPE_CHECKING:
    from onepipe.config import Settings
    from onepipe.pipeline.protocol import RunListener

TRIGGER_TAG = "onepipe.trigger"


@dataclass
class WatchResult:
    action: str  # none | retrained | failed
    reason: str
    repo: str
    branch: str
    head: str | None = None
    trigger: str | None = None
    data_ref: str | None = None
    run_id: str | None = None
    model_version: str | None = None
    model_is_new: bool = False
    metrics: dict[str, float] = field(default_factory=dict)
    drift_alerts: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.action == "failed" else 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def watched_param(settings: Settings, repo: str | None = None) -> tuple[str, str]:
    """(param, repo) of the pipeline param naming a declared data repo (``data_ref: loans@master``)."""
    declared = set(settings.data.repos)
    found = [
        (key, value.split("@", 1)[0])
        for key, value in settings.params.items()
        if isinstance(value, str) and value.split("@", 1)[0] in declared
    ]
    if repo is not None:
        found = [f for f in found if f[1] == repo]
    if not found:
        raise UsageError(
            "watch: no pipeline param names "
            + (f"data repo {repo!r}" if repo else "a data repo")
            + " (expected a param like data_ref: <repo>@<branch>; declared repos: "
            + (", ".join(sorted(declared)) or "none")
            + ")"
        )
    return found[0]


def state_path(settings: Settings, repo: str, branch: str) -> Path:
    return settings.state_dir / f"watch-{repo}-{branch}.json"


def load_state(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def save_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
    os.replace(tmp, path)


def champion_data_commit(settings: Settings, repo: str) -> str | None:
    """The commit id of ``repo`` the current champion was trained on (None without one)."""
    try:
        ref = resolve_model(settings, f"{settings.model_name}@champion")
    except NotFoundError:
        return None
    tags = client_for(settings).get_run(ref.run_id).data.tags
    for item in json.loads(tags.get("onepipe.data_commits", "[]")):
        name, _, commit = str(item).partition("@")
        if name == repo and commit:
            return commit
    return None


def drift_alerts(settings: Settings, since: float | None = None) -> dict[str, list[str]]:
    """Alerting features per serving version (champion, challenger) over the window."""
    change = last_change(settings)
    if change is None:
        return {}
    since = since if since is not None else since_from(None, settings.monitor.window)
    store = open_store(settings)
    try:
        out = {}
        for version in (change.state.champion, change.state.challenger):
            if not version:
                continue
            try:
                results = drift_for_version(settings, store, str(version), since)
            except NotFoundError:  # no profile for this version
                continue
            bad = [d.feature for d in results if d.status == "alert"]
            if bad:
                out[str(version)] = bad
        return out
    finally:
        store.close()


def check_once(
    settings: Settings,
    *,
    branch: str | None = None,
    repo: str | None = None,
    use_drift: bool = True,
    since: float | None = None,
    listener: RunListener | None = None,
    command: str = "onepipe watch --once",
) -> WatchResult:
    """One look at the branch head and the drift; retrain on a trigger."""
    param, repo = watched_param(settings, repo)
    branch = branch or settings.data.default_branch
    path = state_path(settings, repo, branch)
    state = load_state(path)
    result = WatchResult("none", "", repo, branch)
    try:
        head = open_data_store(settings).resolve(f"{repo}@{branch}")
    except NotFoundError:
        result.reason = f"{repo}@{branch} has no commit yet: nothing to train on"
        return result
    result.head = head.id
    baseline = state.get("head") or champion_data_commit(settings, repo)
    trigger = None
    if baseline != head.id:
        trigger = f"data-commit {repo}@{head.id}"
        result.reason = f"new commit {repo}@{head.short} on {branch} " + (
            f"(last trained on {baseline[:12]})" if baseline else "(no model trained yet)"
        )
    if use_drift:
        result.drift_alerts = drift_alerts(settings, since)
    if trigger is None and result.drift_alerts:
        features = sorted({f for fs in result.drift_alerts.values() for f in fs})
        if state.get("drift_head") == head.id:
            result.reason = (
                f"drift alert on {', '.join(features)} persists, but a retrain on "
                f"{repo}@{head.short} already ran for it: waiting for new data"
            )
            return result
        trigger = f"drift-alert {','.join(features)}"
        result.reason = "drift alert: " + "; ".join(
            f"v{v}: {', '.join(f)}" for v, f in result.drift_alerts.items()
        )
    if trigger is None:
        result.reason = f"{repo}@{head.short} already trained on; no drift alert"
        state.update(head=head.id, checked_at=time.time())
        save_state(path, state)
        return result

    result.trigger = trigger
    result.data_ref = head.ref
    tags = {TRIGGER_TAG: trigger}
    if result.drift_alerts and not trigger.startswith("drift-alert"):
        features = sorted({f for fs in result.drift_alerts.values() for f in fs})
        tags[f"{TRIGGER_TAG}.drift"] = ",".join(features)
    try:
        run = run_pipeline(
            settings.with_params(**{param: head.ref}),
            listener=listener,
            extra_tags=tags,
            command=command,
        )
    except RunFailed as exc:
        result.action, result.error = "failed", str(exc)
        if exc.result is not None:
            result.run_id = exc.result.run_id or None
        state.update(last_failure={"head": head.id, "trigger": trigger, "error": str(exc)})
        save_state(path, state)
        return result
    result.action = "retrained"
    result.run_id = run.run_id or None
    result.model_version = run.model_version
    result.model_is_new = run.model_is_new
    result.metrics = dict(run.metrics)
    if run.model_version:
        _tag_version(settings, run.model_version, trigger)
    state.update(
        head=head.id,
        checked_at=time.time(),
        last_run={
            "trigger": trigger,
            "run_id": run.run_id,
            "model_version": run.model_version,
            "time": time.time(),
        },
    )
    state.pop("last_failure", None)
    if trigger.startswith("drift-alert"):
        state["drift_head"] = head.id
    save_state(path, state)
    return result


def _tag_version(settings: Settings, version: str, trigger: str) -> None:
    """The trigger on the model version too, where the registry UI shows it."""
    client_for(settings).set_model_version_tag(
        settings.model_name, str(version), TRIGGER_TAG, trigger
    )


def watch(
    settings: Settings,
    *,
    interval: float = 10.0,
    on_result=None,
    stop=None,
    **kw: Any,
) -> None:
    """Check every ``interval`` seconds until ``stop()`` is true (or Ctrl-C)."""
    while True:
        result = check_once(settings, **kw)
        if on_result is not None:
            on_result(result)
        if stop is not None and stop():
            return
        time.sleep(interval)
