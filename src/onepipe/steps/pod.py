"""``python -m onepipe.steps.pod``: a step's entry point in a pod, KFP's executor inside.

The compiled IR (instrumented by ``onepipe submit``, pipeline/pod_tracking.py) starts
``python3 -m onepipe.steps.pod -m kfp.dsl.executor_main`` where KFP's lightweight
components start ``kfp.dsl.executor_main``, with the same arguments plus the KFP run
id, the task's name and which params are integers. Like
``steps.context()`` this is where the step's process meets its environment: the
environment and the arguments are read here, once, and handed down as values. The
step itself runs through KFP's own executor, unchanged; then the step records itself
in MLflow. With no tracking in the environment (``kfp-local``) it only runs the step.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from kfp.dsl import executor_main

from onepipe.errors import ConfigError
from onepipe.pipeline.pod_tracking import (
    INT_PARAMS_ARG,
    KFP_ENTRY,
    KFP_RUN_ARG,
    TASK_ARG,
    PodTracking,
    record_step,
    step_result,
)


def _split_args(argv: list[str]) -> tuple[list[str], argparse.Namespace]:
    """KFP's own arguments, and ours (the KFP run id, the task, the integer params)."""
    ours = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    ours.add_argument("-m", dest="executor", default=KFP_ENTRY, choices=[KFP_ENTRY])
    ours.add_argument(KFP_RUN_ARG, dest="kfp_run_id", default="")
    ours.add_argument(TASK_ARG, dest="task", default="")
    ours.add_argument(INT_PARAMS_ARG, dest="int_params", default="")
    known, rest = ours.parse_known_args(argv)
    return rest, known


def _arg(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1] if name in argv else ""


def main(argv: list[str] | None = None) -> None:
    kfp_argv, ours = _split_args(list(sys.argv[1:] if argv is None else argv))
    try:
        pod = PodTracking.from_environment(os.environ, ours.kfp_run_id)
    except ConfigError as exc:  # a pod's environment is its options: one line, exit 2
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    executor_input = json.loads(_arg(kfp_argv, "--executor_input") or "{}")
    # A task is named after its component's function unless the pipeline renamed it.
    task = (
        ours.task
        if ours.task and "{{" not in ours.task
        else _arg(kfp_argv, "--function_to_execute")
    )
    sys.argv = [sys.argv[0], *kfp_argv]  # KFP's executor parses sys.argv itself
    started = time.perf_counter()
    error: BaseException | None = None
    try:
        executor_main.executor_main()
    except BaseException as exc:  # recorded as the step's failure, then raised on
        error = exc
    duration = time.perf_counter() - started
    if pod is not None:
        out_file = Path(executor_input.get("outputs", {}).get("outputFile", "") or "/nonexistent")
        executor_output = json.loads(out_file.read_text()) if out_file.is_file() else {}
        result = step_result(
            executor_input,
            executor_output,
            task=task,
            duration=duration,
            int_params={p for p in ours.int_params.split(",") if p},
            error=None if error is None else _one_line(error),
        )
        try:
            record_step(pod, result)
        except Exception as exc:  # noqa: BLE001 - the step's own outcome stands; say what is lost
            print(
                f"onepipe: step {task!r} not recorded in MLflow: {_one_line(exc)}", file=sys.stderr
            )
    if error is not None:
        raise error


def _one_line(exc: BaseException) -> str:
    return (" ".join(str(exc).split()) or type(exc).__name__)[:600]


if __name__ == "__main__":
    main()
