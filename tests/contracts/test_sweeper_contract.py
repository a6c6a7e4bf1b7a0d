"""The ``Sweeper`` contract, run against every sweep backend the registry declares.

On a tiny project (one step scoring ``x`` with ``-(x - 3)^2``; no ML library, so a
trial costs little more than starting ``onepipe trial``): ``check`` starts nothing and
a bad space is refused in one line before any sweeper exists; a sweep of two trials,
one at a time, runs to the end and reports each trial's state and the best trial,
whose objective is the one its params score; the best is registered as the
challenger; ``status()`` and ``best()`` read the stored sweep from a new sweeper; a
second start of the same sweep is refused. Stand-ins: sweeper_standins.py
(``katib``: the API emulator with a stand-in for Katib's controller that runs the
Experiment's own trial template).

Each backend's own behaviour (samplers, pruning, resume after a kill, the Experiment
against Katib's schema, the CLI) is in tests/sweep.
"""

from __future__ import annotations

import os
import textwrap
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from contract_registry import backend_params, check_coverage, registered, standin_for
from sweeper_standins import STANDINS

from onepipe.config import load_settings
from onepipe.errors import ConfigError, NotFoundError, UsageError
from onepipe.sweep.protocol import (
    RUNNING,
    SUCCEEDED,
    SweepOptions,
    SweepStatus,
    TrialRecord,
    load_sweeper,
)

STAGE = "sweep"
WHERE = "tests/contracts/sweeper_standins.py"
MAX_TRIALS, PARALLEL = 2, 1
SPACE = {
    "objective": {"type": "maximize", "objectiveMetricName": "score"},
    "algorithm": {"algorithmName": "random", "algorithmSettings": {"random_state": 3}},
    "parameters": [
        {"name": "x", "parameterType": "int", "feasibleSpace": {"min": 1, "max": 5, "step": 1}}
    ],
    "maxTrialCount": MAX_TRIALS,
    "parallelTrialCount": PARALLEL,
    "maxFailedTrialCount": 1,
}
PIPELINE = """\
from kfp import dsl
from kfp.dsl import Metrics, Model, Output


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def fit(x: int, model: Output[Model], metrics: Output[Metrics]):
    import os

    os.makedirs(model.path, exist_ok=True)
    with open(os.path.join(model.path, "x.txt"), "w") as fh:
        fh.write(str(x))
    metrics.log_metric("score", -float((x - 3) ** 2))


@dsl.pipeline(name="tiny")
def tiny(x: int = 1):
    fit(x=x)
"""


def make_project(root: Path, sweep: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    config = {
        "project": "tiny",
        "model": {"name": "tiny-model", "step": "fit", "output": "model", "metrics_step": "fit"},
        "pipeline": {"module": "tinypipe", "function": "tiny", "params": {"x": 1}},
        "sweep": sweep,
    }
    (root / "onepipe.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (root / "tinypipe.py").write_text(textwrap.dedent(PIPELINE))
    return root


def score(params: dict[str, Any]) -> float:
    return -float((int(params["x"]) - 3) ** 2)


class Recorder:
    """A SweepListener keeping what it was told."""

    def __init__(self) -> None:
        self.running, self.most_running, self.started = 0, 0, 0
        self.statuses: list[SweepStatus] = []

    def trial_started(self, trial: TrialRecord) -> None:
        self.started += 1
        self.running += 1
        self.most_running = max(self.most_running, self.running)

    def trial_finished(self, trial: TrialRecord, status: SweepStatus) -> None:
        self.running -= 1
        self.statuses.append(status)

    def status_changed(self, status: SweepStatus) -> None:
        self.statuses.append(status)


@dataclass
class Rig:
    name: str
    root: Path
    settings: Any
    options: SweepOptions
    heard: Recorder = field(default_factory=Recorder)
    status: SweepStatus | None = None

    def sweeper(self):
        return load_sweeper(self.name).from_settings(self.settings, self.options)


def stand_up(request, name: str, root: Path, sweep: dict) -> Rig:
    project = make_project(root, sweep)
    settings = load_settings(
        project / "onepipe.yaml", user="tester", overrides=[f"backends.{STAGE}={name}"]
    )
    sweep_name = f"contract-{uuid.uuid4().hex[:8]}"  # unique on the session's emulator
    fields = standin_for(name, STANDINS, WHERE).build(request, project, sweep_name)
    options = SweepOptions(name=sweep_name, child_env=dict(os.environ), **fields)
    return Rig(name, project, settings, options)


@pytest.fixture(scope="module", params=backend_params(registered(STAGE), STANDINS))
def swept(request, tmp_path_factory) -> Rig:
    """One sweep per backend, run to its end; the tests read what it left."""
    rig = stand_up(request, request.param, tmp_path_factory.mktemp(request.param), SPACE)
    rig.status = rig.sweeper().run(listener=rig.heard)
    return rig


def test_every_registered_sweeper_has_a_standin():
    check_coverage(registered(STAGE), STANDINS, WHERE)


@pytest.mark.parametrize("name", backend_params(registered(STAGE), STANDINS))
def test_check_starts_nothing_and_a_bad_space_is_refused_in_one_line(request, name, tmp_path):
    sweeper = stand_up(request, name, tmp_path / "ok", SPACE).sweeper()
    assert sweeper.check() is None
    with pytest.raises(NotFoundError):  # checking started nothing
        sweeper.status()
    bad = {
        **SPACE,
        "parameters": [{**SPACE["parameters"][0], "feasibleSpace": {"min": 5, "max": 1}}],
    }
    with pytest.raises(ConfigError) as refused:  # before any sweeper exists
        stand_up(request, name, tmp_path / "bad", bad).sweeper().check()
    assert "sweep.parameters.x: feasibleSpace.min 5 is greater than max 1" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_sweep_runs_its_trials_and_reports_the_best(swept):
    status = swept.status
    assert (status.name, status.backend, status.state) == (
        swept.options.name,
        swept.name,
        SUCCEEDED,
    )
    assert status.objective == "score" and status.direction == "maximize"
    assert status.max_trials == MAX_TRIALS and status.counts[SUCCEEDED] == MAX_TRIALS
    assert sum(n for state, n in status.counts.items() if state != RUNNING) == MAX_TRIALS
    best = status.best
    assert best is not None and best.state == SUCCEEDED and 1 <= int(best.params["x"]) <= 5
    # The best trial's objective is what the pipeline scored for its params.
    assert best.value == best.metrics["score"] == score(best.params)


def test_it_runs_at_most_the_parallel_count_at_once(swept):
    assert swept.heard.statuses, "the listener heard nothing"
    assert max(s.counts[RUNNING] for s in swept.heard.statuses) <= PARALLEL
    assert swept.heard.most_running <= PARALLEL and swept.heard.started in (0, MAX_TRIALS)


def test_the_best_trial_is_registered_as_the_challenger(swept):
    from onepipe.tracking.client import client_for
    from onepipe.tracking.registry import resolve_model

    settings = swept.settings
    model = resolve_model(settings, f"{settings.model_name}@challenger")
    assert model.version == swept.status.model_version
    tags = client_for(settings).get_model_version(model.name, model.version).tags
    assert tags["onepipe.trial"] == swept.status.best.name
    assert tags["onepipe.sweep"] == swept.options.name


def test_status_and_best_read_the_stored_sweep(swept):
    fresh = swept.sweeper()  # another process, as `sweep status` is
    status = fresh.status()
    assert status.state == SUCCEEDED and status.best.name == swept.status.best.name
    assert status.best.params == swept.status.best.params
    assert fresh.best().name == swept.status.best.name


def test_a_second_start_without_resume_is_refused(swept):
    with pytest.raises(UsageError, match="already exists"):
        swept.sweeper().run()
