"""Build the Katib ``kubeflow.org/v1beta1`` Experiment from the one ``sweep:`` declaration.

The trial template is a batch Job on the shared training image running exactly
the command the local sweeper runs (``trial_spec``), with
``${trialParameters.<name>}`` where the local sweeper puts sampled values. The
project file travels in a ConfigMap mounted where the command expects it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from onepipe.config import Settings
from onepipe.k8s.resources import ResourceKind
from onepipe.k8s.schema import validate_swagger
from onepipe.sweep.algorithms import sampler_kwargs
from onepipe.sweep.metrics import KATIB_METRICS_FORMAT
from onepipe.sweep.naming import sweep_name
from onepipe.sweep.space import SearchParam, check_space, medianstop_settings
from onepipe.sweep.trial import TrialSpec, pinned_data, trial_spec

EXPERIMENT = ResourceKind("kubeflow.org", "v1beta1", "experiments", "Experiment")
SWAGGER = Path(__file__).resolve().parent / "schemas" / "swagger-v1beta1.json"  # see SOURCES.md
CONTAINER = "training-container"  # Katib's default primaryContainerName
PROJECT_DIR = "/opt/onepipe"  # WORKDIR of the training image, where components/ and pipelines/ live
# GJSON conditions Katib evaluates on a batch Job (its documented defaults, stated explicitly).
JOB_SUCCEEDED = 'status.conditions.#(type=="Complete")#|#(status=="True")#'
JOB_FAILED = 'status.conditions.#(type=="Failed")#|#(status=="True")#'


def feasible_space(p: SearchParam) -> dict[str, Any]:
    """Katib's FeasibleSpace: every bound a string."""
    if p.choices:
        return {"list": [p.cli_value(v) for v in p.choices]}
    space = {"min": _num(p.low), "max": _num(p.high)}
    if p.step is not None:
        space["step"] = _num(p.step)
    if p.distribution:
        space["distribution"] = p.distribution
    return space


def _num(value: float | int) -> str:
    return (
        str(int(value))
        if float(value).is_integer() and isinstance(value, int)
        else repr(float(value))
    )


def placeholder_command(
    settings: Settings,
    *,
    sweep: str,
    parent_run_id: str | None,
    data_commits: dict[str, str],
    use_cache: bool = True,
) -> TrialSpec:
    space = check_space(settings)
    values = {p.name: "${trialParameters." + p.name + "}" for p in space}
    spec = trial_spec(
        settings,
        values=values,
        sweep=sweep,
        trial_name="${trialSpec.Name}",
        parent_run_id=parent_run_id,
        data_commits=data_commits,
    )
    if not use_cache:
        spec = TrialSpec([*spec.argv, "--no-cache"], spec.env)
    return spec


def config_map(settings: Settings, sweep: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"{sweep}-config",
            "namespace": settings.kubernetes.namespace,
            "labels": _labels(settings, sweep),
        },
        "data": {settings.config_file.name: settings.config_file.read_text()},
    }


def _labels(settings: Settings, sweep: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/part-of": "onepipe",
        "onepipe.io/project": settings.project,
        "onepipe.io/env": settings.env,
        "onepipe.io/sweep": sweep,
    }


def build_experiment(
    settings: Settings,
    *,
    name: str | None = None,
    parent_run_id: str | None,
    pin_data: bool,
    use_cache: bool = True,
) -> dict[str, Any]:
    """The Experiment as a plain object, validated against Katib's v1beta1 schema."""
    space = check_space(settings)
    sampler_kwargs(settings)  # Katib's suggestion service knows the same settings names
    cfg = settings.sweep
    sweep = sweep_name(settings, name)
    commits = pinned_data(settings) if pin_data else {}
    cmd = placeholder_command(
        settings,
        sweep=sweep,
        parent_run_id=parent_run_id,
        data_commits=commits,
        use_cache=use_cache,
    )
    objective: dict[str, Any] = {
        "type": cfg.objective.type,
        "objectiveMetricName": cfg.objective.objectiveMetricName,
        # The trial prints the objective per iteration (validation) and last the held-out
        # value: "latest" makes the held-out value the trial's result, as locally.
        "metricStrategies": [{"name": cfg.objective.objectiveMetricName, "value": "latest"}],
    }
    if cfg.objective.additionalMetricNames:
        objective["additionalMetricNames"] = list(cfg.objective.additionalMetricNames)
    if cfg.objective.goal is not None:
        objective["goal"] = cfg.objective.goal
    spec: dict[str, Any] = {
        "objective": objective,
        "algorithm": {"algorithmName": cfg.algorithm.algorithmName},
        "parallelTrialCount": cfg.parallelTrialCount,
        "maxTrialCount": cfg.maxTrialCount,
        "maxFailedTrialCount": cfg.maxFailedTrialCount,
        "metricsCollectorSpec": {
            "collector": {"kind": "StdOut"},
            "source": {"filter": {"metricsFormat": [KATIB_METRICS_FORMAT]}},
        },
        "parameters": [
            {"name": p.name, "parameterType": p.type, "feasibleSpace": feasible_space(p)}
            for p in space
        ],
        "trialTemplate": _trial_template(settings, sweep, space, cmd),
    }
    if cfg.algorithm.algorithmSettings:
        spec["algorithm"]["algorithmSettings"] = [
            {"name": k, "value": _setting(v)} for k, v in cfg.algorithm.algorithmSettings.items()
        ]
    stop = medianstop_settings(settings)
    if stop is not None:
        spec["earlyStopping"] = {
            "algorithmName": "medianstop",
            "algorithmSettings": [{"name": k, "value": str(v)} for k, v in stop.items()],
        }
    annotations = {
        "onepipe.io/config-hash": settings.config_hash,
        "onepipe.io/variant": settings.variant or "",
    }
    if parent_run_id:
        annotations["onepipe.io/parent-run"] = parent_run_id
    experiment = {
        "apiVersion": EXPERIMENT.api_version,
        "kind": EXPERIMENT.kind,
        "metadata": {
            "name": sweep,
            "namespace": settings.kubernetes.namespace,
            "labels": _labels(settings, sweep),
            "annotations": annotations,
        },
        "spec": spec,
    }
    validate_swagger(experiment, SWAGGER, "v1beta1.Experiment")
    return experiment


def _setting(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _trial_template(
    settings: Settings, sweep: str, space: list[SearchParam], cmd: TrialSpec
) -> dict[str, Any]:
    config_name = settings.config_file.name
    container = {
        "name": CONTAINER,
        "image": settings.image.training,
        "workingDir": PROJECT_DIR,
        "command": cmd.argv,
        "env": [{"name": k, "value": v} for k, v in sorted(cmd.env.items())],
        "volumeMounts": [
            {
                "name": "onepipe-config",
                "mountPath": f"{PROJECT_DIR}/{config_name}",
                "subPath": config_name,
                "readOnly": True,
            },
            # The image runs as a non-root uid and PROJECT_DIR belongs to root: the step
            # cache and run scratch (.onepipe/) need a writable place of their own.
            {"name": "onepipe-state", "mountPath": f"{PROJECT_DIR}/.onepipe"},
        ],
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "spec": {
            "backoffLimit": 0,  # a failed trial is Katib's to count, not the Job's to retry
            "template": {
                "metadata": {
                    "labels": {"onepipe.io/sweep": sweep},
                    "annotations": {"sidecar.istio.io/inject": "false"},
                },
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [container],
                    "volumes": [
                        {"name": "onepipe-config", "configMap": {"name": f"{sweep}-config"}},
                        {"name": "onepipe-state", "emptyDir": {}},
                    ],
                },
            },
        },
    }
    return {
        "primaryContainerName": CONTAINER,
        "successCondition": JOB_SUCCEEDED,
        "failureCondition": JOB_FAILED,
        "trialParameters": [
            {
                "name": p.name,
                "reference": p.name,
                "description": f"pipeline param {p.name} ({p.type})",
            }
            for p in space
        ],
        "trialSpec": job,
    }
