"""The credit-risk steps as KFP v2 lightweight Python components.

KFP ships only each function's source into the container, so every body does
its own imports and hands the work to ``components.lib`` (this project's code)
and ``onepipe.steps`` (the public step helpers every onepipe project uses), which
the shared training image (``components/Dockerfile``) has on its ``PYTHONPATH``.
The same functions run in-process through ``<component>.python_func``.
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
    from onepipe import steps

    # Resolved once: the immutable commit is read even if the branch moves meanwhile.
    frame, commit = steps.read_data(data_store, data_ref)
    steps.write_table(frame, raw, data_ref=data_ref, data_commit=commit)


@_component
def validate(raw: Input[Dataset], validated: Output[Dataset]):
    """Fail on data that breaks the schema; pass it on with the schema's dtypes."""
    from components.lib.validation import conform
    from onepipe import steps

    steps.write_table(conform(steps.read_table(raw)), validated)


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
    from components.lib import features, schema
    from onepipe import steps

    train, test = features.split(steps.read_table(validated), test_size, seed)
    for frame, artifact in ((train, train_set), (test, test_set)):
        steps.write_table(
            frame, artifact, default_rate=float(frame[schema.LABEL].mean()), seed=seed
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
    from dataclasses import asdict

    from components.lib import modeling, schema
    from onepipe import steps

    params = modeling.TrainParams(n_estimators, max_depth, learning_rate, subsample, seed)
    frame = steps.read_table(train_set)

    # One boosting stage a line, written as each stage is scored: a sweep trial follows
    # the history while the fit runs, so early stopping can act mid-fit.
    with steps.History(history) as log:
        result = modeling.train(
            frame,
            params,
            on_stage=lambda row: log.stage(
                row["step"], **{k: v for k, v in row.items() if k != "step"}
            ),
        )

    # An MLflow model with its signature, input example, trusted types and the code its
    # pickle references (components.lib), plus the training features' drift profile.
    steps.save_model(
        result.pipeline,
        model,
        frame,
        label=schema.LABEL,
        features=list(schema.FEATURES),
        metadata={"params": asdict(params), "classes": list(schema.CLASS_NAMES)},
    )
    steps.log_metrics(train_metrics, result.metrics)


@_component
def evaluate(
    test_set: Input[Dataset],
    model: Input[Model],
    metrics: Output[Metrics],
    classification: Output[ClassificationMetrics],
):
    """Score the saved model on the held-out set, loaded the way serving loads it."""
    from components.lib import evaluation, schema
    from onepipe import steps

    loaded = steps.load_model(model)
    test = steps.read_table(test_set)
    # The project's metrics (model.metrics in onepipe.yaml), computed by onepipe.
    steps.log_metrics(metrics, steps.evaluate(loaded, test, label=schema.LABEL))
    # The Kubeflow UI's confusion matrix and ROC curve: this project's own extras.
    result = evaluation.curves(loaded, test)
    classification.log_confusion_matrix(list(schema.CLASS_NAMES), result.confusion_matrix)
    fpr, tpr, thresholds = result.roc
    classification.log_roc_curve(fpr, tpr, thresholds)
