"""The model step's per-stage history: the learning curve a sweep's early stopping reads.

One JSON object a line, ``{"step": n, "<name>": value, ...}``, flushed as each
stage is logged: a sweep trial follows the file while the fit runs, prints each
stage as a Katib metric line, and the sweep's median-stop rule (or Optuna's
pruner) compares ``validation_<objective>`` across trials at the same step.
The output must be named ``history`` on the model step.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

OUTPUT_NAME = "history"


class History:
    """Write a learning curve, one stage a line::

    with steps.History(history) as log:
        for stage in range(n):
            ...
            log.stage(stage + 1, validation_rmse=v, train_rmse=t)
    """

    def __init__(self, artifact: Any) -> None:
        self.artifact = artifact
        self.path = str(getattr(artifact, "path", artifact))
        self.rows = 0
        self.names: set[str] = set()
        self._last_step = 0
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        self._handle = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def stage(self, step: int, **metrics: float) -> None:
        """Record stage ``step`` (1, 2, ...): numbers only, written and flushed at once."""
        step = int(step)
        if step <= self._last_step:
            raise ValueError(
                f"history: step {step} after step {self._last_step} (expected increasing)"
            )
        row: dict[str, float | int] = {"step": step}
        for name, value in metrics.items():
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(
                    f"history: {name}={value!r} at step {step} (expected a finite number)"
                )
            row[name] = number
        self._handle.write(json.dumps(row) + "\n")
        self._handle.flush()
        self._last_step = step
        self.rows += 1
        self.names.update(metrics)

    def close(self) -> None:
        if self._handle.closed:
            return
        self._handle.close()
        meta = getattr(self.artifact, "metadata", None)
        if meta is not None:
            meta.update(format="jsonl", steps=self.rows, metrics=sorted(self.names))

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
