"""The public helpers a project's pipeline steps are written with.

A step is a KFP Python component; its body calls these helpers, which work the
same in-process, in a ``kfp.local`` subprocess and in a Kubeflow pod::

    from onepipe import steps

    frame, commit = steps.read_data(data_store, data_ref)        # ingest
    steps.write_table(frame, raw, data_commit=commit)
    steps.check_frame(frame, label="target")                      # validate
    with steps.History(history) as log:                           # train: per-stage curve
        log.stage(step, validation_rmse=..., train_rmse=...)
    steps.save_model(estimator, model, train_frame)               # MLflow model + drift profile
    steps.log_metrics(metrics, steps.evaluate(model_obj, test))   # evaluate

``steps.context()`` is what the step may know of the project beyond its params:
the task, the label column and the metrics (``model.*`` in onepipe.yaml).
Each helper is documented in ``docs/project-contract.md``.
"""

from onepipe.steps.context import context
from onepipe.steps.evaluate import evaluate, log_metrics, predictions, score
from onepipe.steps.history import History
from onepipe.steps.model import load_model, save_model, write_profile
from onepipe.steps.tables import check_frame, read_data, read_table, split, write_table

__all__ = [
    "History",
    "check_frame",
    "context",
    "evaluate",
    "load_model",
    "log_metrics",
    "predictions",
    "read_data",
    "read_table",
    "save_model",
    "score",
    "split",
    "write_profile",
    "write_table",
]
