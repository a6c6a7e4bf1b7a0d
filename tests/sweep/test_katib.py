"""The Katib backend: the Experiment against Katib's schema, and apply/follow/register over HTTP (kmock)."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
import threading
import time

import pytest

from onepipe.config import load_settings
from onepipe.k8s.schema import SchemaError, validate_swagger
from onepipe.sweep.katib.experiment import SWAGGER, build_experiment
from onepipe.sweep.metrics import KATIB_METRICS_FORMAT, parse_text
from onepipe.sweep.trial import trial_spec


def test_experiment_matches_katib_schema_and_job_schema(sweep_project):
    import kubernetes_validate

    settings = load_settings(sweep_project / "onepipe.yaml", env="acc")
    exp = build_experiment(settings, parent_run_id="abc123", pin_data=False)
    validate_swagger(exp, SWAGGER, "v1beta1.Experiment")  # again, explicitly
    spec = exp["spec"]
    assert exp["metadata"]["namespace"] == "onepipe-acc"
    assert spec["metricsCollectorSpec"]["collector"] == {"kind": "StdOut"}
    assert spec["objective"]["metricStrategies"] == [{"name": "roc_auc", "value": "latest"}]
    assert [p["name"] for p in spec["parameters"]] == ["n_estimators", "learning_rate"]
    job = spec["trialTemplate"]["trialSpec"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == settings.image.training
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["ONEPIPE_TRACKING_URI"] == "http://mlflow.onepipe-acc.svc:5000"
    assert env["ONEPIPE_ENV"] == "acc"
    # The trial Job is a valid batch/v1 Job for Kubernetes itself.
    kubernetes_validate.validate(
        {**job, "metadata": {"name": "t", "namespace": "x"}}, "1.30", strict=True
    )


def test_schema_rejects_a_wrong_field(sweep_project):
    settings = load_settings(sweep_project / "onepipe.yaml")
    exp = build_experiment(settings, parent_run_id=None, pin_data=False)
    bad = copy.deepcopy(exp)
    bad["spec"]["parameters"][0]["feasibleSpace"]["minimum"] = "1"
    with pytest.raises(
        SchemaError, match=r"spec.parameters.0.feasibleSpace: Additional properties"
    ):
        validate_swagger(bad, SWAGGER, "v1beta1.Experiment")
    bad = copy.deepcopy(exp)
    bad["spec"]["maxTrialCount"] = "3"
    with pytest.raises(SchemaError, match=r"spec.maxTrialCount: '3' is not of type 'integer'"):
        validate_swagger(bad, SWAGGER, "v1beta1.Experiment")


def _substitute(argv: list[str], values: dict[str, str], trial_name: str) -> list[str]:
    """What Katib does to the trial template: fill ${trialParameters.x} and ${trialSpec.Name}."""
    out = []
    for arg in argv:
        arg = arg.replace("${trialSpec.Name}", trial_name)
        out.append(re.sub(r"\$\{trialParameters\.(\w+)\}", lambda m: values[m.group(1)], arg))
    return out


def test_parity_identical_trial_command_and_parser(sweep_project):
    """From one declaration, both backends run the same command and read it with the same regex."""
    settings = load_settings(sweep_project / "onepipe.yaml")
    exp = build_experiment(settings, parent_run_id="p1", pin_data=False)
    container = exp["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"][
        0
    ]
    values = {"n_estimators": "10", "learning_rate": "0.1"}
    katib = _substitute(container["command"], values, "credit-risk-dev-abc")
    local = trial_spec(
        settings,
        values=values,
        sweep="credit-risk-dev",
        trial_name="credit-risk-dev-abc",
        parent_run_id="p1",
        data_commits={},
    )
    assert katib == local.argv
    assert {e["name"]: e["value"] for e in container["env"]} == local.env
    assert exp["spec"]["metricsCollectorSpec"]["source"]["filter"]["metricsFormat"] == [
        KATIB_METRICS_FORMAT
    ]


class FakeKatib:
    """Plays Katib's controller against the emulated API: runs one trial of the Experiment's
    own template as a subprocess (the 'pod'), parses stdout with the Experiment's own
    metricsFormat, then writes the status Katib would write."""

    def __init__(self, api, root, namespace="default") -> None:
        from kubernetes import client

        self.api = client.CustomObjectsApi(api)
        self.root, self.namespace = root, namespace
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _patch_status(self, name, status):
        self.api.patch_namespaced_custom_object_status(
            "kubeflow.org", "v1beta1", self.namespace, "experiments", name, {"status": status}
        )

    def _run(self):
        try:
            exp = None
            from kubernetes.client.exceptions import ApiException

            for _ in range(600):
                try:
                    items = self.api.list_namespaced_custom_object(
                        "kubeflow.org", "v1beta1", self.namespace, "experiments"
                    )["items"]
                except ApiException as exc:  # kmock knows a resource once one object exists
                    assert exc.status == 404
                    items = []
                if items:
                    exp = items[0]
                    break
                time.sleep(0.1)
            assert exp is not None, "no Experiment was applied"
            name = exp["metadata"]["name"]
            self._patch_status(
                name,
                {
                    "conditions": [
                        {"type": "Created", "status": "True"},
                        {"type": "Running", "status": "True"},
                    ],
                    "trialsRunning": 1,
                },
            )
            spec = exp["spec"]
            values = {
                p["name"]: p["feasibleSpace"].get("min") or p["feasibleSpace"]["list"][0]
                for p in spec["parameters"]
            }
            trial = f"{name}-x7k2p9qz"
            container = spec["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"][
                "containers"
            ][0]
            argv = _substitute(container["command"], values, trial)
            env = {e["name"]: e["value"] for e in container["env"]}
            import os

            proc = subprocess.run(
                [sys.executable, "-m", "onepipe", *argv[1:]],
                cwd=self.root,
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert proc.returncode == 0, proc.stderr[-2000:]
            names = [
                spec["objective"]["objectiveMetricName"],
                *spec["objective"]["additionalMetricNames"],
            ]
            regex = spec["metricsCollectorSpec"]["source"]["filter"]["metricsFormat"][0]
            assert regex == KATIB_METRICS_FORMAT
            obs = parse_text(proc.stdout, names)
            metrics = [
                {"name": n, "latest": str(v[-1]), "min": str(min(v)), "max": str(max(v))}
                for n, v in obs.series.items()
            ]
            self._patch_status(
                name,
                {
                    "conditions": [
                        {"type": "Created", "status": "True"},
                        {"type": "Running", "status": "False"},
                        {
                            "type": "Succeeded",
                            "status": "True",
                            "reason": "ExperimentMaxTrialsReached",
                        },
                    ],
                    "trials": 1,
                    "trialsSucceeded": 1,
                    "trialsRunning": 0,
                    "currentOptimalTrial": {
                        "bestTrialName": trial,
                        "parameterAssignments": [
                            {"name": k, "value": v} for k, v in values.items()
                        ],
                        "observation": {"metrics": metrics},
                    },
                },
            )
        except BaseException as exc:  # reported by the test
            self.error = exc


@pytest.mark.slow
def test_cluster_sweep_applies_follows_and_registers(sweep_project, kmock_server, cli, tmp_path):
    from onepipe.tracking.client import client_for
    from onepipe.tracking.registry import resolve_model

    kubeconfig = kmock_server.kubeconfig(tmp_path / "kubeconfig")
    fake = FakeKatib(kmock_server.api(), sweep_project)
    result = cli(
        "sweep",
        "--target",
        "cluster",
        "--kubeconfig",
        str(kubeconfig),
        "--json",
        "--timeout",
        "120",
        cwd=sweep_project,
    )
    fake.thread.join(5)
    assert fake.error is None, fake.error
    assert result.code == 0, result.err
    import json

    status = json.loads(result.out)
    assert status["state"] == "Succeeded" and status["backend"] == "katib"
    assert status["best"]["name"] == "credit-risk-dev-x7k2p9qz"
    assert status["best"]["params"] == {"n_estimators": 5, "learning_rate": 0.05}

    # What was applied: the ConfigMap with the project file and a schema-valid Experiment.
    kinds = {
        key.resource.plural if hasattr(key, "resource") else key[0].plural
        for key in kmock_server.emulator.objects
    }
    assert {"experiments", "configmaps"} <= kinds

    settings = load_settings(sweep_project / "onepipe.yaml")
    model = resolve_model(settings, f"{settings.model_name}@challenger")
    client = client_for(settings)
    version = client.get_model_version(model.name, model.version)
    assert version.tags["onepipe.trial"] == "credit-risk-dev-x7k2p9qz"
    assert version.tags["onepipe.sweep"] == "credit-risk-dev"
    trial_run = client.get_run(model.run_id)
    parent = status["parent_run_id"]
    assert trial_run.data.tags["mlflow.parentRunId"] == parent
    assert client.get_run(parent).data.tags["onepipe.best_trial"] == "credit-risk-dev-x7k2p9qz"
    assert client.get_run(parent).info.status == "FINISHED"

    # Following again shows the stored status; a second start without --resume is refused.
    again = cli("sweep", "--target", "cluster", "--kubeconfig", str(kubeconfig), cwd=sweep_project)
    assert again.code == 2 and "already exists" in again.err
    best = cli(
        "sweep",
        "--target",
        "cluster",
        "--kubeconfig",
        str(kubeconfig),
        "best",
        "--json",
        cwd=sweep_project,
    )
    assert best.code == 0 and json.loads(best.out)["name"] == "credit-risk-dev-x7k2p9qz"
