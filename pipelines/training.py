"""The credit-risk training pipeline: ingest -> validate -> featurize -> train -> evaluate.

Its parameters are ``pipeline.params`` in onepipe.yaml (plus ``data_store``,
which the runner fills from the environment's data backend); the defaults
here match the project file so a bare compile is a sensible pipeline.
"""

from kfp import dsl

from components import evaluate, featurize, ingest, train, validate


@dsl.pipeline(
    name="credit-risk-training",
    description="Train and evaluate the credit-risk classifier on one data commit.",
)
def training_pipeline(
    data_store: str,
    data_ref: str = "loans@master",
    test_size: float = 0.25,
    seed: int = 42,
    n_estimators: int = 120,
    max_depth: int = 3,
    learning_rate: float = 0.1,
    subsample: float = 1.0,
):
    raw = ingest(data_store=data_store, data_ref=data_ref)
    checked = validate(raw=raw.outputs["raw"])
    split = featurize(validated=checked.outputs["validated"], test_size=test_size, seed=seed)
    fitted = train(
        train_set=split.outputs["train_set"],
        n_estimators=n_estimators,
        max_depth=max_depth,
        learning_rate=learning_rate,
        subsample=subsample,
        seed=seed,
    )
    evaluate(test_set=split.outputs["test_set"], model=fitted.outputs["model"])
