"""How each ``Sweeper`` backend is stood up for test_sweeper_contract.py.

A stand-in is ``build(request, project, sweep) -> dict``: for the suite's tiny project
at ``project`` and the sweep named ``sweep``, it starts what the backend talks to and
returns the ``SweepOptions`` fields that point the backend at it (``kubeconfig``,
``timeout_s``, ...). The suite adds ``name`` and ``child_env`` and builds the sweeper
with ``load_sweeper(name).from_settings(settings, options)``. ``request`` may be
module-scoped: session fixtures and ``request.addfinalizer`` only.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from contract_registry import StandIn


def optuna(request, project: Path, sweep: str) -> dict:
    return {}  # trials are subprocesses of this machine: nothing to stand up


class KatibStandIn:
    """Plays Katib's controller for one Experiment on the API emulator: runs its trials
    from the Experiment's own trial template (the command as a subprocess in the project
    folder, the 'pod'), at most ``parallelTrialCount`` at once and ``maxTrialCount`` in
    all, reads each trial's stdout with the Experiment's own ``metricsFormat``, and
    writes the status Katib writes (trial counts, ``currentOptimalTrial``, conditions)."""

    GROUP, VERSION, PLURAL = "kubeflow.org", "v1beta1", "experiments"

    def __init__(self, api, root: Path, name: str) -> None:
        from kubernetes import client

        self.api = client.CustomObjectsApi(api)
        self.root, self.name = root, name
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(60)
        assert self.error is None, f"the Katib stand-in failed: {self.error!r}"

    # ---- the controller -------------------------------------------------------------
    def _run(self) -> None:
        try:
            exp = self._wait_for_experiment()
            if exp is not None:
                self._run_experiment(exp)
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def _wait_for_experiment(self) -> dict | None:
        from kubernetes.client.exceptions import ApiException

        while not self._stop.wait(0.1):
            try:
                found = self.api.list_cluster_custom_object(self.GROUP, self.VERSION, self.PLURAL)
            except ApiException as exc:  # kmock knows a resource once one object exists
                assert exc.status == 404, exc
                continue
            for exp in found["items"]:
                if exp["metadata"]["name"] == self.name:
                    return exp
        return None

    def _run_experiment(self, exp: dict) -> None:
        spec = exp["spec"]
        self.namespace = exp["metadata"]["namespace"]
        self.objective = spec["objective"]
        self.pattern = re.compile(
            spec["metricsCollectorSpec"]["source"]["filter"]["metricsFormat"][0]
        )
        self.status: dict = {
            "conditions": [{"type": "Created", "status": "True"}, {"type": "Running", "status": "True"}],
            "trials": 0, "trialsRunning": 0, "trialsSucceeded": 0, "trialsFailed": 0,
        }  # fmt: skip
        self._patch()
        assignments = itertools.cycle(itertools.product(*(_choices(p) for p in spec["parameters"])))
        names = [p["name"] for p in spec["parameters"]]
        trials = [
            dict(zip(names, next(assignments), strict=True)) for _ in range(spec["maxTrialCount"])
        ]
        with ThreadPoolExecutor(max_workers=spec["parallelTrialCount"]) as pool:
            list(pool.map(lambda values: self._trial(spec, values), trials))
        done = "Succeeded" if self.status["trialsSucceeded"] else "Failed"
        self.status["conditions"] = [
            {"type": "Created", "status": "True"},
            {"type": "Running", "status": "False"},
            {"type": done, "status": "True", "reason": f"Experiment{done}"},
        ]
        self._patch()

    def _trial(self, spec: dict, values: dict[str, str]) -> None:
        trial = f"{self.name}-{uuid.uuid4().hex[:8]}"
        pod = spec["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"][0]
        argv = [_fill(arg, values, trial) for arg in pod["command"]]
        env = {e["name"]: _fill(e["value"], values, trial) for e in pod.get("env", [])}
        with self._lock:
            self.status["trialsRunning"] += 1
            self.status["trials"] += 1
            self._patch()
        proc = subprocess.run(
            [sys.executable, "-m", "onepipe", *argv[1:]],
            cwd=self.root,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        metrics: dict[str, list[str]] = {}
        for found in self.pattern.finditer(proc.stdout):
            metrics.setdefault(found.group(1), []).append(found.group(2))
        with self._lock:
            self.status["trialsRunning"] -= 1
            name = self.objective["objectiveMetricName"]
            if proc.returncode != 0 or name not in metrics:
                self.status["trialsFailed"] += 1
            else:
                self.status["trialsSucceeded"] += 1
                self._offer(trial, values, metrics)
            self._patch()

    def _offer(self, trial: str, values: dict[str, str], metrics: dict[str, list[str]]) -> None:
        """Keep the trial as the optimal one when its objective is better."""
        name = self.objective["objectiveMetricName"]
        value = float(metrics[name][-1])
        best = self.status.get("currentOptimalTrial")
        if best is not None:
            held = next(m for m in best["observation"]["metrics"] if m["name"] == name)
            better = (
                value > float(held["latest"])
                if self.objective["type"] == "maximize"
                else value < float(held["latest"])
            )
            if not better:
                return
        self.status["currentOptimalTrial"] = {
            "bestTrialName": trial,
            "parameterAssignments": [{"name": k, "value": v} for k, v in values.items()],
            "observation": {
                "metrics": [
                    {"name": n, "latest": v[-1], "min": min(v, key=float), "max": max(v, key=float)}
                    for n, v in metrics.items()
                ]
            },
        }

    def _patch(self) -> None:
        self.api.patch_namespaced_custom_object_status(
            self.GROUP,
            self.VERSION,
            self.namespace,
            self.PLURAL,
            self.name,
            {"status": self.status},
        )


def _choices(param: dict) -> list[str]:
    """The values Katib may assign (as the strings it assigns them as)."""
    space = param["feasibleSpace"]
    if "list" in space:
        return [str(v) for v in space["list"]]
    low, high = float(space["min"]), float(space["max"])
    if param["parameterType"] == "int":
        return [str(v) for v in range(int(low), int(high) + 1, int(float(space.get("step", 1))))]
    return [repr(low + (high - low) * k / 4) for k in range(5)]


def _fill(text: str, values: dict[str, str], trial: str) -> str:
    """What Katib does to the trial template: ``${trialParameters.x}``, ``${trialSpec.Name}``."""
    text = text.replace("${trialSpec.Name}", trial)
    return re.sub(r"\$\{trialParameters\.(\w+)\}", lambda m: values[m.group(1)], text)


def katib(request, project: Path, sweep: str) -> dict:
    kube = request.getfixturevalue("kube")
    controller = KatibStandIn(kube.api_client(), project, sweep)
    request.addfinalizer(controller.stop)
    return {"kubeconfig": str(kube.kubeconfig(project / "kubeconfig")), "timeout_s": 240.0}


STANDINS = {
    "optuna": StandIn(optuna, slow=True),
    "katib": StandIn(katib, slow=True),
}
