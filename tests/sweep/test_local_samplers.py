"""Samplers that need more than ask/tell basics: grid ends with its grid, cmaes runs locally."""

from __future__ import annotations

import os
import sys

from onepipe.config import load_settings
from onepipe.sweep.optuna_sweeper import OptunaSweeper
from onepipe.sweep.protocol import SweepOptions

# Reads -p name=value like `onepipe trial` and prints one metric line, in milliseconds.
TRIAL = """
import sys
vals = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a and not a.startswith("-"))
print(f"roc_auc={float(vals['subsample']) / float(vals.get('max_depth', 1))}")
"""


class _NoModel(OptunaSweeper):
    def _conclude(self, study, parent, listener):  # the stand-in trial logs no model
        return self._status(study)


def test_grid_sweep_runs_every_point_once_and_finishes(sweep_project, edit_sweep, tmp_path):
    edit_sweep(
        sweep_project,
        algorithm={"algorithmName": "grid"},
        parameters=[
            {
                "name": "subsample",
                "parameterType": "discrete",
                "feasibleSpace": {"list": [0.6, 1.0]},
            },
            {"name": "max_depth", "parameterType": "int", "feasibleSpace": {"min": 1, "max": 3}},
        ],
        maxTrialCount=20,  # more than the grid: the grid's size (6) ends the sweep
    )
    root = sweep_project
    script = tmp_path / "trial.py"
    script.write_text(TRIAL)
    settings = load_settings(root / "onepipe.yaml", user="tester")
    sweeper = _NoModel(
        settings,
        SweepOptions(name="grid", child_env=dict(os.environ)),
        launcher=[sys.executable, str(script)],
    )
    status = sweeper.run()  # before the fix, the last tell raised RuntimeError (Study.stop)
    assert status.counts["Succeeded"] == 6 and status.counts["Failed"] == 0
    points = sorted((t.params["subsample"], t.params["max_depth"]) for t in status.trials)
    assert points == [(s, d) for s in (0.6, 1.0) for d in (1, 2, 3)]
    assert status.best is not None and status.best.value == 1.0


def test_cmaes_sweep_runs_locally(sweep_project, edit_sweep):
    edit_sweep(
        sweep_project,
        algorithm={"algorithmName": "cmaes", "algorithmSettings": {"random_state": 5}},
        parameters=[
            {
                "name": "subsample",
                "parameterType": "double",
                "feasibleSpace": {"min": 0.5, "max": 1.0},
            },
            {
                "name": "learning_rate",
                "parameterType": "double",
                "feasibleSpace": {"min": 0.01, "max": 0.3},
            },
        ],
        maxTrialCount=6,
    )
    settings = load_settings(sweep_project / "onepipe.yaml", user="tester")
    script = sweep_project / "trial.py"
    script.write_text(TRIAL)
    sweeper = _NoModel(
        settings,
        SweepOptions(name="cmaes", child_env=dict(os.environ)),
        launcher=[sys.executable, str(script)],
    )
    status = sweeper.run()
    assert status.counts["Succeeded"] == 6
    assert all(0.5 <= t.params["subsample"] <= 1.0 for t in status.trials)
    assert status.best.value == max(t.value for t in status.trials)
