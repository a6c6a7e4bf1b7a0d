"""Intermediate metrics are printed while the train step fits, so early stopping acts mid-fit."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from onepipe.config import load_settings
from onepipe.pipeline.protocol import ArtifactRecord, StepResult
from onepipe.sweep.follow import JsonLinesFollower, read_rows
from onepipe.sweep.metrics import parse_text
from onepipe.sweep.trial import _MetricPrinter, run_trial


def _row(step: int) -> dict:
    return {
        "step": step,
        "train_log_loss": 0.6 - step / 100,
        "validation_roc_auc": 0.7 + step / 100,
    }


def _line(row: dict) -> str:
    return json.dumps(row) + "\n"


def _wait_for(condition, what: str, timeout_s: float = 20.0) -> None:
    """Wait for something a background thread does (a deadline against hangs, not a timing check)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


def _history_record(path: Path) -> dict[str, ArtifactRecord]:
    return {"history": ArtifactRecord("history", "system.Artifact", path, "h")}


def test_follower_hands_over_complete_lines_only(tmp_path):
    path = tmp_path / "history"
    rows: list[dict] = []
    follower = JsonLinesFollower(path, rows.append)  # driven by hand here, no thread
    follower._read_new()  # the step has not created the file yet
    with path.open("w") as fh:
        first, second = _line(_row(1)), _line(_row(2))
        fh.write(first + second[:10])  # the writer is caught mid-line
        fh.flush()
        follower._read_new()
        assert rows == [_row(1)]
        fh.write(second[10:])
        fh.flush()
        follower._read_new()
    assert rows == [_row(1), _row(2)] and follower.stop() == 2


def test_a_history_written_as_one_json_list_is_read_at_the_end(tmp_path):
    # A project whose train step predates JSON Lines writes the whole list at once.
    path = tmp_path / "history"
    path.write_text(json.dumps([_row(1), _row(2)], indent=1))
    rows: list[dict] = []
    follower = JsonLinesFollower(path, rows.append)
    follower._read_new()
    assert rows == [] and follower.stop() == 0  # nothing half-parsed while following
    assert read_rows(path) == [_row(1), _row(2)]


def test_printer_prints_each_stage_while_the_step_runs_and_once(sweep_project, tmp_path):
    settings = load_settings(sweep_project / "onepipe.yaml", user="tester")
    out = io.StringIO()
    printer = _MetricPrinter(settings, out)
    staging = tmp_path / "staging" / "outputs"
    staging.mkdir(parents=True)
    printer.step_started("train", "key", {"history": staging / "history", "model": staging / "m"})

    def objective_values() -> list[float]:
        return parse_text(out.getvalue(), ["roc_auc"]).series.get("roc_auc", [])

    with (staging / "history").open("w") as fh:
        for step in (1, 2):
            fh.write(_line(_row(step)))
            fh.flush()
            # Printed while the step is still running: step_finished has not been called.
            _wait_for(lambda s=step: len(objective_values()) == s, f"stage {step} printed")
        fh.write(_line(_row(3)))
    # The runner renames finished outputs into the cache before step_finished.
    committed = tmp_path / "cache" / "outputs"
    committed.parent.mkdir()
    staging.rename(committed)
    printer.step_finished(
        StepResult("train", "done", outputs=_history_record(committed / "history"))
    )

    assert objective_values() == pytest.approx([0.71, 0.72, 0.73])  # stage 3 once, late or not
    obs = parse_text(out.getvalue())
    assert obs.series["train_log_loss"] == pytest.approx([0.59, 0.58, 0.57])
    assert "step" not in obs.series


def test_cached_model_step_prints_the_whole_history_at_finish(sweep_project, tmp_path):
    settings = load_settings(sweep_project / "onepipe.yaml", user="tester")
    history = tmp_path / "history"
    history.write_text("".join(_line(_row(s)) for s in (1, 2, 3)))
    out = io.StringIO()
    printer = _MetricPrinter(settings, out)
    printer.step_started("train", "key", {})  # a cache hit: nothing to follow
    assert out.getvalue() == ""
    printer.step_finished(StepResult("train", "cached", outputs=_history_record(history)))
    assert parse_text(out.getvalue(), ["roc_auc"]).series["roc_auc"] == pytest.approx(
        [0.71, 0.72, 0.73]
    )


class _Recorder(io.StringIO):
    """Trial stdout that notes, for every write, whether the train step had finished."""

    def __init__(self, cache_root: Path) -> None:
        super().__init__()
        self.cache_root = cache_root
        self.writes: list[tuple[str, bool]] = []

    def write(self, text: str) -> int:
        # A finished step's outputs are renamed from .staging into the cache, so a
        # committed history file means the train step is over.
        committed = any(
            ".staging" not in p.parts for p in self.cache_root.glob("*/*/outputs/history")
        )
        self.writes.append((text, committed))
        return super().write(text)


@pytest.mark.slow
def test_trial_prints_intermediate_objective_before_train_step_finishes(sweep_project):
    n_estimators = 40
    settings = load_settings(
        sweep_project / "onepipe.yaml", overrides=[f"n_estimators={n_estimators}"], user="tester"
    )
    out = _Recorder(settings.path(settings.pipeline.cache_dir))
    result = run_trial(
        settings,
        sweep="live",
        trial_name="live-0",
        parent_run_id=None,
        use_cache=True,
        command="pytest",
        out=out,
    )
    objective = []  # (value, printed after the train step finished)
    for text, committed in out.writes:
        for value in parse_text(text, ["roc_auc"]).series.get("roc_auc", []):
            objective.append((value, committed))
    # One intermediate value per boosting stage, each printed once, then the held-out one.
    history = result.step("train").outputs["history"].path.read_text().splitlines()
    curve = [json.loads(line)["validation_roc_auc"] for line in history]
    assert [v for v, _ in objective] == pytest.approx([*curve, result.metrics["roc_auc"]])
    assert len(curve) == n_estimators
    # The first stages reached stdout while the train step was still fitting.
    assert objective[0][1] is False


@pytest.mark.slow
def test_medianstop_stops_a_bad_trial_while_its_train_step_fits(sweep_project, cli, edit_sweep):
    n_estimators = 100
    edit_sweep(
        sweep_project,
        parameters=[
            {"name": "max_depth", "parameterType": "discrete", "feasibleSpace": {"list": [1, 3]}}
        ],
        # Random with this seed draws max_depth 3, then 1: a good trial completes first,
        # then stumps, whose validation AUC stays below it over the first stages.
        algorithm={"algorithmName": "random", "algorithmSettings": {"random_state": 0}},
        earlyStopping={
            "algorithmName": "medianstop",
            "algorithmSettings": {"min_trials_required": 1},  # start_step: Katib's 4
        },
        maxTrialCount=2,
        parallelTrialCount=1,
        maxFailedTrialCount=1,
    )
    result = cli("sweep", "--json", "-p", f"n_estimators={n_estimators}", cwd=sweep_project)
    assert result.code == 0, result.err
    good, bad = json.loads(result.out)["trials"]
    assert (good["params"], good["state"]) == ({"max_depth": 3}, "Succeeded")
    assert (bad["params"], bad["state"]) == ({"max_depth": 1}, "EarlyStopped")

    (log,) = (sweep_project / ".onepipe" / "sweeps").glob(f"*/{bad['name']}.log")
    stages = parse_text(log.read_text(), ["roc_auc"]).series["roc_auc"]
    # Stopped around start_step, long before its last boosting stage; evaluate never ran.
    assert 3 <= len(stages) < n_estimators
    assert "accuracy=" not in log.read_text()
