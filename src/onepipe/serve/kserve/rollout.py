"""The writes that take an InferenceService from what serves now to a wanted state.

KServe (v0.20, Knative mode) serves a predictor from Knative revisions. Each change of
the predictor's template (the model, and the object's annotations, which KServe copies
into it) makes a new revision, the *latest*. ``canaryTrafficPercent`` routes that share
to the latest revision and the rest to the *rolled-out* revision: the last one that held
100% of the traffic. So a canary of challenger X on champion C is the spec naming X at
p%, and it is only right while the rolled-out revision serves C. Until a new revision
is ready, Knative's share for "the latest" goes to the latest *ready* one.

Hence a change is one to three writes (``Step``), each waited on until it serves:

- the champion stays: one write (a canary: X at p%; the champion alone: its revision
  pinned at 0% for the latest, so a withdrawn challenger gets nothing at once);
- the champion changes: it is rolled out alone at 100% (the latest ready revision takes
  everything meanwhile, so when a canary of another version is live, the new champion
  first starts at 0% beside it), then the canary, if any, as above.
"""

from __future__ import annotations

from dataclasses import dataclass

from onepipe.history import DeploymentState


@dataclass(frozen=True)
class Step:
    """One write: the state it records, and the share of traffic its spec's revision (the
    latest) gets; the rest stays on the rolled-out revision."""

    state: DeploymentState
    latest_percent: int

    @property
    def version(self) -> str:
        """The version the spec names: what the latest revision serves."""
        return self.state.challenger or self.state.champion

    @property
    def rolled_out(self) -> str:
        """The version the rolled-out revision serves once this step is live: the latest one
        when it takes all the traffic (KServe then rolls it out), else the champion."""
        return self.version if self.latest_percent == 100 else self.state.champion


def alone(state: DeploymentState, champion: str) -> DeploymentState:
    return DeploymentState(state.model, champion, None, 0, False, state.sticky)


def plan(current: Step | None, want: DeploymentState) -> list[Step]:
    """The writes from ``current`` (the step that serves now, None when nothing does) to ``want``."""
    if current is None:  # KServe routes a first revision 100% whatever the split says
        first = Step(alone(want, want.champion), 100)
        return [first] if want.challenger is None else [first, Step(want, want.canary)]
    if current.rolled_out == want.champion:
        if want.challenger is not None:
            return [Step(want, want.canary)]
        if current.state.challenger is None:
            return [Step(want, current.latest_percent)]  # as it is: nothing moves
        return [Step(want, 0)]  # the champion keeps everything; the new revision gets none
    steps = []
    if current.version not in (current.rolled_out, want.champion):
        # Two versions serve now: the roll-out would send everything to the latest ready
        # revision, which is neither the champion nor the one rolled out. Start it first.
        standby = DeploymentState(want.model, current.rolled_out, want.champion, 0)
        steps.append(Step(standby, 0))
    steps.append(Step(alone(want, want.champion), 100))
    if want.challenger is not None:
        steps.append(Step(want, want.canary))
    return steps
