"""What the Katib backend adds to ``manifests/overlays/<env>`` and ``onepipe up``.

``experiment.yaml``: the environment's Experiment (the one ``onepipe render sweep``
prints) with its trials running as the shared trial identity, and the ConfigMap
carrying the project file its trials read.
"""

from __future__ import annotations

from typing import Any

from onepipe.config import Settings
from onepipe.k8s.manifests import MANAGE, READ, TRIAL_SA, BackendManifests, Manifest, rule
from onepipe.k8s.schema import validate_swagger
from onepipe.sweep.katib.experiment import EXPERIMENT, SWAGGER, build_experiment, config_map


def documents(settings: Settings) -> list[dict[str, Any]]:
    """The Katib ConfigMap and Experiment of ``onepipe render sweep``, trials as ``onepipe-trial``."""
    experiment = build_experiment(settings, parent_run_id=None, pin_data=False)
    pod = experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]
    pod["serviceAccountName"] = TRIAL_SA
    validate(experiment)
    return [config_map(settings, experiment["metadata"]["name"]), experiment]


def validate(experiment: dict[str, Any]) -> None:
    """SchemaError naming the first wrong field (Katib's v1beta1 Swagger, strict)."""
    validate_swagger(experiment, SWAGGER, "v1beta1.Experiment")


def render(settings: Settings) -> list[Manifest]:
    return [Manifest("experiment.yaml", documents(settings))]


MANIFESTS = BackendManifests(
    render=render,
    kinds={EXPERIMENT.kind: EXPERIMENT.plural},
    validate=validate,
    rules=(  # create, follow and stop Experiments; read their Trials and Suggestions
        rule(EXPERIMENT.group, [EXPERIMENT.plural], MANAGE),
        rule(EXPERIMENT.group, ["trials", "suggestions"], READ),
    ),
)
