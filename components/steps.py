"""The credit-risk steps as KFP v2 lightweight Python components.

KFP ships only each function's source into the container, so every body does
its own imports and hands the work to ``components.lib``, which the shared
training image (``components/Dockerfile``) has on its ``PYTHONPATH``. The same
functions run in-process through ``<component>.python_func``.
"""

from kfp import dsl
from kfp.dsl import Artifact, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

# Stand-in for ``image.training`` in onepipe.yaml: the pipeline compiler swaps this
# exact string for the configured reference, so it must stay unique and recognisable.
TRAINING_IMAGE = "onepipe.invalid/training-image:from-config"

# The image already carries the pinned kfp; without this KFP would pip-install it
# at every step start, which needs a network the cluster may not give the pod.
_component = dsl.component(base_image=TRAINING_IMAGE, install_kfp_package=False)


@_component
def ingest(data_store: str, data_ref: str, raw: Output[Dataset]):
    """Read every CSV file of one data commit into a single table."""
    import os

    from onepipe.data import open_store_uri, read_table

    store = open_store_uri(data_store)
    # Resolve once and read the immutable commit: a branch may move meanwhile.
    commit = store.resolve(data_ref)
    frame = read_table(store, commit.ref).reset_index(drop=True)
    os.makedirs(os.path.dirname(raw.path) or ".", exist_ok=True)
    frame.to_parquet(raw.path, index=False)
    raw.metadata.update(
        rows=len(frame), columns=frame.shape[1], data_ref=data_ref, data_commit=commit.ref
    )


@_component
def validate(raw: Input[Dataset], validated: Output[Dataset]):
    """Fail on data that breaks the schema; pass it on with the schema's dtypes."""
    import os

    import pandas as pd

    from components.lib.validation import conform

    frame = conform(pd.read_parquet(raw.path))
    os.makedirs(os.path.dirname(validated.path) or ".", exist_ok=True)
    frame.to_parquet(validated.path, index=False)
    validated.metadata.update(rows=len(frame), columns=frame.shape[1])


@_component
def featurize(
    validated: Input[Dataset],
    test_size: float,
    seed: int,
    train_set: Output[Dataset],
    test_set: Output[Dataset],
):
    """Stratified train/test split of the raw feature columns and the label.

    Feature engineering happens inside the model pipeline, so the served model
    takes the same raw columns a loan application carries.
    """
    import os

    import pandas as pd

    from components.lib import features, schema

    train, test = features.split(pd.read_parquet(validated.path), test_size, seed)
    for frame, artifact in ((train, train_set), (test, test_set)):
        os.makedirs(os.path.dirname(artifact.path) or ".", exist_ok=True)
        frame.to_parquet(artifact.path, index=False)
        artifact.metadata.update(
            rows=len(frame), default_rate=float(frame[schema.LABEL].mean()), seed=seed
        )


@_component
def train(
    train_set: Input[Dataset],
    n_estimators: int,
    max_depth: int,
    learning_rate: float,
    subsample: float,
    seed: int,
    model: Output[Model],
    history: Output[Artifact],
    train_metrics: Output[Metrics],
):
    """Fit preprocessing + gradient boosting as one pipeline and save it as an MLflow model."""
    import json
    import os

    import pandas as pd

    from components.lib import modeling, profile

    params = modeling.TrainParams(n_estimators, max_depth, learning_rate, subsample, seed)
    frame = pd.read_parquet(train_set.path)

    # JSON Lines, one boosting stage a line, flushed as each stage is scored: a sweep
    # trial follows this file while the fit runs, so early stopping can act mid-fit.
    os.makedirs(os.path.dirname(history.path) or ".", exist_ok=True)
    with open(history.path, "w", encoding="utf-8") as handle:

        def write_stage(row: dict) -> None:
            handle.write(json.dumps(row) + "\n")
            handle.flush()

        result = modeling.train(frame, params, on_stage=write_stage)
    history.metadata.update(
        format="jsonl", steps=len(result.history), metrics=sorted(result.history[0])
    )

    # save_model refuses an existing directory: create only the parent.
    modeling.save(result.pipeline, model.path, frame, params)
    # The training features' profile travels with the model (drift monitoring reads it).
    profile.write_profile(frame, model.path)
    model.metadata.update(flavor="mlflow.sklearn", framework="scikit-learn")

    for name, value in result.metrics.items():
        train_metrics.log_metric(name, value)


@_component
def evaluate(
    test_set: Input[Dataset],
    model: Input[Model],
    metrics: Output[Metrics],
    classification: Output[ClassificationMetrics],
):
    """Score the saved model on the held-out set, loaded the way serving loads it."""
    import mlflow.sklearn
    import pandas as pd

    from components.lib import evaluation, schema

    loaded = mlflow.sklearn.load_model(model.path)
    result = evaluation.evaluate(loaded, pd.read_parquet(test_set.path))
    for name, value in result.metrics.items():
        metrics.log_metric(name, value)
    classification.log_confusion_matrix(list(schema.CLASS_NAMES), result.confusion_matrix)
    fpr, tpr, thresholds = result.roc
    classification.log_roc_curve(fpr, tpr, thresholds)
