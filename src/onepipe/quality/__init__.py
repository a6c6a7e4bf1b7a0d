"""What "a good model" means for a task: tasks, metrics with their direction, per-row losses.

A leaf package (numpy and scikit-learn only, nothing else of onepipe but errors):
the config validates metric names against it, the step helpers compute metrics
with it, and monitoring, the canary verdict, the report and ``onepipe models``
read the same definitions, so a regression project is judged by RMSE everywhere
and a classifier by its own metrics.
"""

from onepipe.quality.metrics import (
    METRICS,
    Metric,
    MetricSpec,
    default_metrics,
    live_metrics,
    metric,
    offline_metrics,
    resolve_metrics,
)
from onepipe.quality.tasks import TASKS, task_of_estimator, task_of_values

__all__ = [
    "METRICS",
    "TASKS",
    "Metric",
    "MetricSpec",
    "default_metrics",
    "live_metrics",
    "metric",
    "offline_metrics",
    "resolve_metrics",
    "task_of_estimator",
    "task_of_values",
]
