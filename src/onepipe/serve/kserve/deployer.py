"""``KServeDeployer``: the InferenceService backend behind the ``Deployer`` protocol.

A change is planned as KServe rollout steps (rollout.py) and each step is written with
server-side apply and followed until its revision is ready and routed (status.py). When
a step fails (a model that does not load, a revision not ready in time) the steps back
to what served before are written the same way, so the previous routing keeps serving,
and the failure is one ``DeployError`` line naming why.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from onepipe.history import DeploymentState
from onepipe.k8s.resources import NamedObject, ResourceKind
from onepipe.serve.errors import DeployError
from onepipe.serve.kserve import NAME
from onepipe.serve.kserve.names import GROUP, KIND, PLURAL, VERSION, deployment_name
from onepipe.serve.kserve.render import render, storage_problem
from onepipe.serve.kserve.rollout import Step, alone, plan
from onepipe.serve.kserve.status import failure, progress, serving
from onepipe.tracking.registry import ModelRef, resolve_model

if TYPE_CHECKING:
    from onepipe.config import Settings


class StepFailed(Exception):
    """One rollout step did not come to serve; ``why`` as KServe (or the clock) says."""

    def __init__(self, step: Step, why: str) -> None:
        super().__init__(why)
        self.step, self.why = step, why


class KServeDeployer(NamedObject):
    """The environment's InferenceService (``get()``: as the cluster has it, or None)."""

    backend = NAME

    def __init__(self, settings: Settings, api_client: Any = None, poll_s: float = 1.0) -> None:
        kind = ResourceKind(GROUP, VERSION, PLURAL, KIND)
        super().__init__(kind, deployment_name(settings), settings.kubernetes, api_client)
        self.settings = settings
        self.poll_s = poll_s

    @classmethod
    def from_settings(cls, settings: Settings) -> KServeDeployer:
        return cls(settings)

    @property
    def where(self) -> str:
        return f"InferenceService {self.settings.kubernetes.namespace}/{self.name}"

    def serving(self) -> Step | None:
        """The rollout step the InferenceService serves now (None: nothing, or cannot tell)."""
        obj = self.get()
        return serving(obj) if obj else None

    def live(self) -> DeploymentState | None:
        step = self.serving()
        return step.state if step else None

    def apply(self, state: DeploymentState, models: dict[str, ModelRef]) -> str:
        self._refuse_unsupported(state, models)
        before = self.serving()
        steps = plan(before, state)
        done: Step | None = before
        try:
            for step in steps:
                self._roll(step, models)
                done = step
        except StepFailed as failed:
            said = f"{self.where}: {state.describe()} failed ({failed.why})"
            if before is None or done is None:
                raise DeployError(f"{said}; nothing served before it") from None
            if failed.step.latest_percent == 100:
                # Meanwhile KServe sent everything to the latest ready revision (the last
                # step's) and took it as rolled out: the way back starts from there.
                done = Step(alone(done.state, done.version), 100)
            raise DeployError(f"{said}; {self._restore(done, before, models)}") from None
        via = f" in {len(steps)} steps (champion rolled out first)" if len(steps) > 1 else ""
        return f"applied {self.where}: {state.describe()}{via} (ready and routed)"

    def _refuse_unsupported(self, state: DeploymentState, models: dict[str, ModelRef]) -> None:
        """What KServe cannot do, refused before anything is written."""
        for wanted, what in ((state.shadow, "shadow"), (state.sticky, "sticky")):
            if wanted:
                raise DeployError(
                    f"{self.where}: {state.describe()}: KServe's canary splits traffic between "
                    f"revisions at random, with no {what} routing (expected a plain canary, or "
                    "backends.serve: seldon); nothing applied"
                )
        for version in state.versions:
            problem = storage_problem(models[version])
            if problem:
                raise DeployError(f"{self.where}: {problem}; nothing applied")

    def _restore(self, done: Step, before: Step, models: dict[str, ModelRef]) -> str:
        """Write the steps from ``done`` (the last step that served) back to ``before``."""
        try:
            for step in plan(done, before.state):
                self._roll(step, models)
        except StepFailed as failed:
            return (
                f"restoring {before.state.describe()} failed too ({failed.why}); see "
                f"`kubectl get inferenceservice {self.name} -n {self.settings.kubernetes.namespace}`"
            )
        return f"restored {before.state.describe()}, which keeps serving"

    def _refs(self, step: Step, models: dict[str, ModelRef]) -> dict[str, ModelRef]:
        """The step's version's registry entry: handed over, or (restoring a version the
        change did not name) looked up in the registry."""
        if step.version in models:
            return models
        ref = resolve_model(self.settings, f"{step.state.model}/{step.version}")
        return {**models, step.version: ref}

    def _roll(self, step: Step, models: dict[str, ModelRef]) -> None:
        """Write one step and follow it until it serves; ``StepFailed`` naming why it does not."""
        cfg = self.settings.serve.kserve
        obj = render(self.settings, step, self._refs(step, models))
        self.resources.apply(obj, cfg.field_manager)
        deadline = time.monotonic() + cfg.ready_timeout_s
        while True:
            obj = self.get() or {}
            if serving(obj) == step:
                return
            why = failure(obj)
            if why:
                raise StepFailed(step, f"v{step.version}: {why}")
            if time.monotonic() >= deadline:
                raise StepFailed(
                    step,
                    f"v{step.version} not ready and routed after {cfg.ready_timeout_s:g}s: "
                    f"{progress(obj)}",
                )
            time.sleep(self.poll_s)
