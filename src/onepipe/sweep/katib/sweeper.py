"""The cluster sweeper: apply the Katib Experiment, follow it, register the optimal trial's model.

Katib schedules the trials (Jobs running ``onepipe trial``), collects their
metric lines and stops poor ones; this side only applies the Experiment with the
``kubernetes`` client, follows its status and, when it succeeds, finds the
optimal trial's MLflow run (tagged by the trial command) and registers its model.
"""

from __future__ import annotations

from typing import Any

from onepipe.config import Settings
from onepipe.errors import NotFoundError, RunFailed, UsageError
from onepipe.k8s.apply import server_side_apply
from onepipe.k8s.resources import CustomResources, api_client, condition
from onepipe.sweep import lineage
from onepipe.sweep.katib.experiment import EXPERIMENT, build_experiment, config_map
from onepipe.sweep.naming import sweep_name
from onepipe.sweep.protocol import (
    EARLY_STOPPED,
    FAILED,
    RUNNING,
    SUCCEEDED,
    NullSweepListener,
    SweepListener,
    SweepOptions,
    SweepStatus,
    TrialRecord,
)
from onepipe.sweep.space import check_space

PARENT_ANNOTATION = "onepipe.io/parent-run"


class KatibSweeper:
    name = "katib"

    def __init__(
        self, settings: Settings, options: SweepOptions | None = None, *, api=None
    ) -> None:
        options = options or SweepOptions()
        self.settings = settings
        self.options = options
        self.sweep = sweep_name(settings, options.name)
        self._api = api  # an ApiClient; built from kubeconfig on first use when not given

    @classmethod
    def from_settings(cls, settings: Settings, options: SweepOptions) -> KatibSweeper:
        return cls(settings, options)

    @property
    def api(self):
        if self._api is None:
            self._api = api_client(self.options.kubeconfig, self.settings.kubernetes.context)
        return self._api

    @property
    def experiments(self) -> CustomResources:
        return CustomResources(self.api, EXPERIMENT, self.settings.kubernetes.namespace)

    # ---- Sweeper protocol ---------------------------------------------------
    def check(self) -> None:
        check_space(self.settings)
        build_experiment(self.settings, name=self.sweep, parent_run_id=None, pin_data=False)

    def run(
        self, *, resume: bool = False, use_cache: bool = True, listener: SweepListener | None = None
    ) -> SweepStatus:
        listener = listener or NullSweepListener()
        space = check_space(self.settings)
        experiments = self.experiments
        exists = experiments.exists(self.sweep)
        if exists and not resume:
            raise UsageError(
                f"Experiment {self.sweep!r} already exists in namespace "
                f"{self.settings.kubernetes.namespace}: pass --resume to follow it, "
                "or --name NAME to start another"
            )
        if resume and not exists:
            raise NotFoundError(
                f"Experiment {self.sweep!r} not found in namespace "
                f"{self.settings.kubernetes.namespace} (nothing to resume)"
            )
        if exists:
            obj = experiments.get(self.sweep)
            parent = obj["metadata"].get("annotations", {}).get(PARENT_ANNOTATION)
        else:
            parent = lineage.start_parent_run(self.settings, self.sweep, self.name, space)
            experiment = build_experiment(
                self.settings,
                name=self.sweep,
                parent_run_id=parent,
                pin_data=True,
                use_cache=use_cache,
            )
            server_side_apply(self.api, config_map(self.settings, self.sweep), "configmaps")
            experiments.apply(experiment)

        def changed(obj: dict[str, Any]) -> None:
            listener.status_changed(self._status(obj))

        try:
            final = experiments.wait_for(
                self.sweep, _finished, on_change=changed, timeout=self.options.timeout_s
            )
        except KeyboardInterrupt:
            # The Experiment keeps running on the cluster: `sweep --resume` follows it again.
            raise
        if condition(final, "Failed"):
            if parent:
                lineage.finish_parent_run(self.settings, parent, status="FAILED", tags={})
            raise RunFailed(f"Experiment {self.sweep!r} failed: {_reason(final, 'Failed')}")
        status = self._status(final)
        if status.best is None:
            raise NotFoundError(f"Experiment {self.sweep!r} succeeded without an optimal trial")
        run_id = lineage.find_trial_run(self.settings, self.sweep, status.best.name)
        if run_id is None:
            raise NotFoundError(
                f"Experiment {self.sweep!r}: optimal trial {status.best.name} has no "
                f"finished MLflow run at {self.settings.tracking_uri}"
            )
        ref = lineage.register_best(
            self.settings,
            sweep=self.sweep,
            trial_name=status.best.name,
            trial_run_id=run_id,
            parent_run_id=parent,
        )
        if parent:
            lineage.finish_parent_run(
                self.settings,
                parent,
                status="FINISHED",
                metrics={f"best_{k}": v for k, v in status.best.metrics.items()},
                tags={"onepipe.best_params": lineage.best_params_json(status.best.params)},
            )
        status.best.run_id = run_id
        status.model_version = ref.version
        listener.status_changed(status)
        return status

    def status(self) -> SweepStatus:
        return self._status(self.experiments.get(self.sweep))

    def best(self) -> TrialRecord | None:
        """Katib's ``currentOptimalTrial`` and its MLflow run, while the Experiment runs too:
        each trial pod's ``onepipe trial`` tags its run with the sweep and the trial name."""
        best = self.status().best
        if best is not None:
            best.run_id = lineage.find_trial_run(
                self.settings, self.sweep, best.name, finished_only=False
            )
        return best

    # ---- reading the Experiment's status ------------------------------------
    def _status(self, obj: dict[str, Any]) -> SweepStatus:
        st = obj.get("status") or {}
        spec = obj.get("spec") or {}
        objective = spec.get("objective", {})
        counts = {
            RUNNING: int(st.get("trialsRunning", 0)) + int(st.get("trialsPending", 0)),
            SUCCEEDED: int(st.get("trialsSucceeded", 0)),
            FAILED: int(st.get("trialsFailed", 0)) + int(st.get("trialsKilled", 0)),
            EARLY_STOPPED: int(st.get("trialsEarlyStopped", 0)),
        }
        state = "Created"
        for kind in ("Running", "Succeeded", "Failed"):
            if condition(obj, kind):
                state = kind
        return SweepStatus(
            name=self.sweep,
            backend=self.name,
            state=state,
            objective=objective.get("objectiveMetricName", ""),
            direction=objective.get("type", ""),
            max_trials=int(spec.get("maxTrialCount", 0)),
            counts=counts,
            best=_optimal(
                st.get("currentOptimalTrial") or {}, objective.get("objectiveMetricName")
            ),
            parent_run_id=obj.get("metadata", {}).get("annotations", {}).get(PARENT_ANNOTATION),
        )


def _finished(obj: dict[str, Any]) -> bool:
    return condition(obj, "Succeeded") or condition(obj, "Failed")


def _reason(obj: dict[str, Any], kind: str) -> str:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond.get("message") or cond.get("reason") or "no reason given"
    return "no reason given"


def _optimal(optimal: dict[str, Any], objective: str | None) -> TrialRecord | None:
    name = optimal.get("bestTrialName")
    if not name:
        return None
    params = {a["name"]: _scalar(a.get("value")) for a in optimal.get("parameterAssignments") or []}
    metrics = {}
    for metric in (optimal.get("observation") or {}).get("metrics") or []:
        try:
            metrics[metric["name"]] = float(metric.get("latest"))
        except (TypeError, ValueError):
            continue  # Katib writes "unavailable" for a metric it never saw
    return TrialRecord(name, SUCCEEDED, params, metrics.get(objective or ""), metrics)


def _scalar(text: Any) -> Any:
    """Katib reports assignments as strings: give numbers back as numbers."""
    if not isinstance(text, str):
        return text
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            continue
    return text
