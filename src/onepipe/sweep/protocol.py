"""The ``Sweeper`` protocol: run a search over the pipeline's params, report, give the best.

A backend gets the resolved ``Settings`` and this invocation's ``SweepOptions``
(``from_settings``) and owns everything about where trials run; callers (the CLI,
the benchmark) pick it with ``load_sweeper(name)`` and never ask which one they hold.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, cast

from onepipe import plugins

# Trial states, Katib's names: what `sweep status` shows for either backend.
RUNNING, SUCCEEDED, FAILED, EARLY_STOPPED = "Running", "Succeeded", "Failed", "EarlyStopped"


@dataclass
class TrialRecord:
    name: str
    state: str
    params: dict[str, Any]
    value: float | None = None  # the objective's final value
    metrics: dict[str, float] = field(default_factory=dict)
    run_id: str | None = None  # the trial's MLflow run

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SweepStatus:
    name: str
    backend: str
    state: str  # Created | Running | Succeeded | Failed | Interrupted
    objective: str
    direction: str
    max_trials: int
    counts: dict[str, int]  # Katib state -> number of trials
    best: TrialRecord | None = None
    parent_run_id: str | None = None
    model_version: str | None = None
    trials: list[TrialRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["best"] = self.best.to_dict() if self.best else None
        return out


@dataclass(frozen=True)
class SweepOptions:
    """Per-invocation choices every backend accepts (each uses what applies to it)."""

    name: str | None = None  # default: <project>-<env>[-<variant>]
    child_env: dict[str, str] = field(default_factory=dict)  # local trial processes start from it
    kubeconfig: str | None = (
        None  # cluster: kubeconfig file (default: in-cluster, then ~/.kube/config)
    )
    timeout_s: float | None = None  # cluster: stop following the Experiment after this long


class SweepListener(Protocol):
    """Progress callbacks; the CLI draws them, tests record them."""

    def trial_started(self, trial: TrialRecord) -> None: ...

    def trial_finished(self, trial: TrialRecord, status: SweepStatus) -> None: ...

    def status_changed(self, status: SweepStatus) -> None: ...


class NullSweepListener:
    def trial_started(self, trial: TrialRecord) -> None:
        pass

    def trial_finished(self, trial: TrialRecord, status: SweepStatus) -> None:
        pass

    def status_changed(self, status: SweepStatus) -> None:
        pass


class Sweeper(Protocol):
    name: str  # the backend
    sweep: str  # this sweep's name (study / Experiment)

    @classmethod
    def from_settings(cls, settings, options: SweepOptions) -> Sweeper:
        """The sweeper for these settings and this invocation's ``options``; starts nothing."""
        ...

    def check(self) -> None:
        """Refuse (ConfigError, one line) a space this backend cannot run; nothing is started."""
        ...

    def run(
        self, *, resume: bool = False, use_cache: bool = True, listener: SweepListener | None = None
    ) -> SweepStatus:
        """Run (or resume) the sweep to its end; register the best trial's model as challenger."""
        ...

    def status(self) -> SweepStatus:
        """The sweep's state as stored (works while it runs in another process)."""
        ...

    def best(self) -> TrialRecord | None: ...


def load_sweeper(name: str) -> type[Sweeper]:
    """The sweeper registered as ``name`` (``backends.sweep``); ConfigError naming the choices."""
    return cast("type[Sweeper]", plugins.load_backend("sweep", name))
