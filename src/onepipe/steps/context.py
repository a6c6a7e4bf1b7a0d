"""``steps.context()``: the step context, wherever the step runs."""

from __future__ import annotations

import os

from onepipe.pipeline.context import ENV_VAR, StepContext, current


def context() -> StepContext:
    """The task, label and metrics the runner handed to this step.

    In-process it comes from the runner directly; in a subprocess or a pod from
    the ``ONEPIPE_STEP_CONTEXT`` environment variable the runner (or the compiled
    pipeline) sets. This is a step's entry point, the one place below the CLI that
    reads the environment, as a command's options would be. A step called outside
    any runner (a plain function call in a test) gets an empty context: the
    helpers then infer the task from the model and need the label passed in.
    """
    found = current()
    if found is not None:
        return found
    text = os.environ.get(ENV_VAR)
    return StepContext.from_json(text) if text else StepContext()
