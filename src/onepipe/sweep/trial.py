"""The one trial entrypoint both backends run: ``onepipe trial -p name=value ...``.

``trial_spec`` builds the command (and the environment it expects) once; the
local sweeper fills in sampled values, the Katib backend fills in
``${trialParameters.<name>}``. ``run_trial`` is what the command does: run the
pipeline with those params as a child of the sweep's MLflow run and print every
metric as Katib's StdOut collector reads them, the intermediate ones (one per
boosting stage) while the model is still being fitted.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from onepipe.config import Settings
from onepipe.pipeline.execute import resolve_data_refs, run_pipeline
from onepipe.pipeline.protocol import StepResult
from onepipe.sweep.follow import JsonLinesFollower, read_rows
from onepipe.sweep.metrics import metric_line
from onepipe.tracking.client import client_for, experiment_id
from onepipe.tracking.modelfacts import facts_tags

# The model step's output holding one JSON line of metrics per boosting stage.
HISTORY_OUTPUT = "history"

# Environment the trial command reads in its CLI layer (never below it).
ENV_TRACKING_URI = "ONEPIPE_TRACKING_URI"
ENV_DATA_COMMIT = "ONEPIPE_DATA_COMMIT"
ENV_ENV = "ONEPIPE_ENV"
ENV_USER = "ONEPIPE_USER"  # the trial's runs land in the sweeping user's experiment


@dataclass(frozen=True)
class TrialSpec:
    argv: list[str]  # starts with "onepipe"
    env: dict[str, str]

    def shell(self) -> str:
        return shlex.join(self.argv)


def pinned_data(settings: Settings) -> dict[str, str]:
    """Data-ref params pinned to commits, once per sweep, so every trial reads the same data."""
    return resolve_data_refs(settings, dict(settings.params))


def _carried_overrides(settings: Settings, swept: set[str]) -> list[str]:
    """The sweep command's own -p overrides that the trial must repeat (not the sweep's knobs)."""
    keep = []
    for item in settings.overrides:
        key = item.partition("=")[0].strip()
        if key in swept or key.startswith(("sweep.", "backends.sweep")):
            continue
        keep.append(item)
    return keep


def trial_spec(
    settings: Settings,
    *,
    values: dict[str, str],
    sweep: str,
    trial_name: str,
    parent_run_id: str | None,
    data_commits: dict[str, str],
) -> TrialSpec:
    """The trial command; ``values`` are already strings (sampled values or Katib placeholders)."""
    argv = [
        "onepipe",
        "trial",
        "--config",
        settings.config_file.name,
        "--sweep",
        sweep,
        "--trial-name",
        trial_name,
    ]
    if parent_run_id:
        argv += ["--parent-run", parent_run_id]
    if settings.variant:
        argv += ["--variant", settings.variant]
    for item in _carried_overrides(settings, set(values)):
        argv += ["-p", item]
    for name, value in values.items():
        argv += ["-p", f"{name}={value}"]
    env = {
        ENV_ENV: settings.env,
        # As written: a ${NAME} reference stays one (Katib renders this env into its spec).
        ENV_TRACKING_URI: settings.source.get("tracking", {}).get("uri", settings.tracking.uri),
        ENV_USER: settings.user,
    }
    if data_commits:
        env[ENV_DATA_COMMIT] = ",".join(sorted(set(data_commits.values())))
    return TrialSpec(argv, env)


def data_overrides(settings: Settings, commits: str) -> list[str]:
    """``ONEPIPE_DATA_COMMIT=repo@commit[,...]`` as -p overrides of the params naming those repos."""
    out = []
    by_repo = {c.split("@", 1)[0]: c for c in commits.split(",") if "@" in c}
    for key, value in settings.params.items():
        if isinstance(value, str) and value.split("@", 1)[0] in by_repo:
            out.append(f"{key}={by_repo[value.split('@', 1)[0]]}")
    return out


class _MetricPrinter:
    """Prints the model step's per-stage history, each stage as soon as it is written.

    While the model step runs here, its history file is followed (a sweep's early
    stopping needs the curve during the fit). When the step ends, whatever was not
    printed yet is printed from the finished file: all of it for a cache hit or a
    step run elsewhere, the last stages for a live one. No stage is printed twice.
    """

    def __init__(self, settings: Settings, out: TextIO) -> None:
        self.settings = settings
        self.out = out
        self.objective = settings.sweep.objective.objectiveMetricName
        self._follower: JsonLinesFollower | None = None

    def step_started(self, task: str, cache_key: str, outputs: Mapping[str, Path]) -> None:
        history = outputs.get(HISTORY_OUTPUT)
        if task == self.settings.model.step and history is not None:
            self.close()
            self._follower = JsonLinesFollower(history, self._print_row).start()

    def step_finished(self, result: StepResult) -> None:
        if result.name != self.settings.model.step:
            return
        printed = self.close()
        if result.status not in ("done", "cached"):
            return
        history = result.outputs.get(HISTORY_OUTPUT)
        if history is None or not Path(history.path).is_file():
            return
        for row in read_rows(Path(history.path))[printed:]:
            self._print_row(row)

    def close(self) -> int:
        """Stop following (if following); returns how many stages were printed live."""
        follower, self._follower = self._follower, None
        return follower.stop() if follower is not None else 0

    def _print_row(self, row: dict) -> None:
        lines = [
            metric_line(name, value)
            for name, value in row.items()
            if name != "step" and isinstance(value, int | float)
        ]
        # The objective's intermediate curve (what medianstop / the pruner compare) is
        # the validation score per iteration; the final value is the held-out score.
        intermediate = row.get(f"validation_{self.objective}")
        if intermediate is not None:
            lines.append(metric_line(self.objective, intermediate))
        # One write per stage, flushed: the reader (Katib's collector, the local
        # sweeper) sees the stage now, not when a pipe buffer fills.
        self.out.write("".join(line + "\n" for line in lines))
        self.out.flush()


def run_trial(
    settings: Settings,
    *,
    sweep: str,
    trial_name: str,
    parent_run_id: str | None,
    use_cache: bool,
    command: str,
    out: TextIO,
):
    """Run the pipeline as one trial; returns the ``RunResult`` (``RunFailed`` propagates)."""
    # kind stays "pipeline": a trial is a pipeline run; these two tags tie it to its sweep.
    tags = {"onepipe.sweep": sweep, "onepipe.trial": trial_name}
    printer = _MetricPrinter(settings, out)
    try:
        result = run_pipeline(
            settings,
            use_cache=use_cache,
            listener=printer,
            register=False,
            parent_run_id=parent_run_id,
            extra_tags=tags,
            command=command,
        )
    except KeyboardInterrupt:
        printer.close()  # stopped mid-fit (pruned, Ctrl-C): print no stage after this
        _mark_killed(settings, sweep, trial_name)
        raise
    finally:
        printer.close()  # a step that raised never reached step_finished
    for name, value in sorted(result.metrics.items()):
        out.write(metric_line(name, value) + "\n")
    out.flush()
    _attach_model(settings, result)
    return result


def _attach_model(settings: Settings, result) -> None:
    """Log the trial's model with its run, so the best one can be registered from anywhere."""
    model = result.step(settings.model.step).outputs[settings.model.output]
    client = client_for(settings)
    client.log_artifacts(result.run_id, str(model.path), "model")
    client.set_tag(result.run_id, "onepipe.model_hash", model.hash)
    # Task and label recorded in the model, for the version the sweep may register from it.
    for key, value in facts_tags(model.path).items():
        client.set_tag(result.run_id, key, value)


def _mark_killed(settings: Settings, sweep: str, trial_name: str) -> None:
    """A trial stopped mid-run (pruned, Ctrl-C) must not stay RUNNING in MLflow."""
    client = client_for(settings)
    runs = client.search_runs(
        [experiment_id(settings)],
        f"tags.`onepipe.sweep` = '{sweep}' and tags.`onepipe.trial` = '{trial_name}' "
        "and attributes.status = 'RUNNING'",
    )
    for run in runs:
        client.set_terminated(run.info.run_id, status="KILLED")
