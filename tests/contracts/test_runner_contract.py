"""The ``Runner`` contract, run against every runner the registry declares.

On a three-step chain project whose second step fails when ``fail=true``: a run reports
every step in order, a failing step fails with a one-line error and the steps after
it are skipped, and ``fully_cached`` tells the truth. Stand-ins: runner_standins.py
(``kfp`` runs against the KFP REST emulator, which executes what it is given).

What each runner adds (the in-process step cache's hit/miss rules, kfp-local's
subprocesses, KFP versions and experiments) is in its own tests: tests/pipeline,
tests/kfp.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from chain_project import make_chain_project
from contract_registry import backend_params, check_coverage, registered, standin_for
from runner_standins import STANDINS

from onepipe.config import load_settings
from onepipe.pipeline.execute import build_plan
from onepipe.pipeline.protocol import StepResult, load_runner

STAGE = "runner"
WHERE = "tests/contracts/runner_standins.py"


class Recorder:
    """A RunListener that keeps what it was told."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.finished: list[StepResult] = []

    def step_started(self, task: str, cache_key: str, outputs: Mapping[str, Path]) -> None:
        self.started.append(task)

    def step_finished(self, result: StepResult) -> None:
        self.finished.append(result)


class Chain:
    """The chain project stood up for one backend: settings, runner, plans."""

    def __init__(self, name: str, root: Path, overrides: list[str]) -> None:
        self.name, self.root, self.overrides = name, root, overrides

    def settings(self, *extra: str):
        return load_settings(
            self.root / "onepipe.yaml",
            overrides=[f"backends.{STAGE}={self.name}", *self.overrides, *extra],
            user="tester",
        )

    def runner(self):
        return load_runner(self.name).from_settings(self.settings())

    def plan(self, *extra: str, use_cache: bool = True):
        plan, _ = build_plan(self.settings(*extra), use_cache=use_cache)
        return plan


@pytest.fixture(params=backend_params(registered(STAGE), STANDINS))
def chain(request, tmp_path) -> Chain:
    standin = standin_for(request.param, STANDINS, WHERE)
    root = make_chain_project(tmp_path / "chain", 3, fail_at=2)
    return Chain(request.param, root, standin.build(request, root))


def test_every_registered_runner_has_a_standin():
    check_coverage(registered(STAGE), STANDINS, WHERE)


def test_a_run_reports_every_step_in_order(chain):
    runner, plan, heard = chain.runner(), chain.plan(), Recorder()
    assert runner.name == chain.name
    steps = runner.run(plan, heard)
    names = ["step-1", "step-2", "step-3"]
    assert [s.name for s in steps] == [t.name for t in plan.graph.tasks] == names
    assert [s.status for s in steps] == ["done"] * 3  # nothing was cached yet
    assert all(s.error is None for s in steps)
    assert set(heard.started) == set(names)
    assert [(s.name, s.status) for s in heard.finished] == [(s.name, s.status) for s in steps]


def test_a_failing_step_fails_in_one_line_and_later_steps_are_skipped(chain):
    heard = Recorder()
    steps = chain.runner().run(chain.plan("fail=true"), heard)
    assert [s.name for s in steps] == ["step-1", "step-2", "step-3"]
    assert [s.status for s in steps] == ["done", "failed", "skipped"]
    failed = steps[1]
    assert failed.error and failed.error.strip() and "\n" not in failed.error
    # Every step the runner ran was reported to the listener, the failed one included.
    assert {(s.name, s.status) for s in heard.finished} >= {
        ("step-1", "done"),
        ("step-2", "failed"),
    }


def test_fully_cached_tells_the_truth(chain):
    runner = chain.runner()
    assert runner.fully_cached(chain.plan()) is False  # nothing has run yet
    assert [s.status for s in runner.run(chain.plan(), Recorder())] == ["done"] * 3

    again = chain.plan()
    promised = runner.fully_cached(again)
    steps = runner.run(again, Recorder())
    if promised:  # "nothing executes": every step comes from the cache
        assert [s.status for s in steps] == ["cached"] * 3
    else:  # "something executes"
        assert "done" in [s.status for s in steps], steps
    # Asked not to use the cache, nothing is fully cached.
    assert runner.fully_cached(chain.plan(use_cache=False)) is False
