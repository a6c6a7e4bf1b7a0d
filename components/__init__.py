"""The credit-risk example model: its steps as KFP v2 components on one training image.

The logic lives in ``components.lib`` (plain Python); ``components.steps`` wraps
it as components. ``STEPS`` maps each step name to its component, in pipeline order.
"""

STEP_NAMES = ("ingest", "validate", "featurize", "train", "evaluate")

__all__ = ["STEPS", "STEP_NAMES", *STEP_NAMES]


def __getattr__(name: str):
    # Imported on first use, never at package import: inside a KFP container
    # (_KFP_RUNTIME=true) kfp.dsl has no `component`, and every step body imports
    # components.lib, which runs this file first.
    if name == "STEPS" or name in STEP_NAMES:
        from components import steps

        globals().update({n: getattr(steps, n) for n in STEP_NAMES})
        globals()["STEPS"] = {n: getattr(steps, n) for n in STEP_NAMES}
        return globals()[name]
    raise AttributeError(f"module 'components' has no attribute {name!r}")
