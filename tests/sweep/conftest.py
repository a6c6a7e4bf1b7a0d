"""A throwaway copy of the example project with batch 1 put, for sweep tests.

Sweeps use a tiny space (n_estimators 5-15, 3-4 trials) so the slow tests stay
well under a minute each on a shared two-core machine.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

TINY_SWEEP = {
    "objective": {
        "type": "maximize",
        "objectiveMetricName": "roc_auc",
        "additionalMetricNames": ["accuracy", "f1"],
    },
    "algorithm": {"algorithmName": "random", "algorithmSettings": {"random_state": 7}},
    "parameters": [
        {
            "name": "n_estimators",
            "parameterType": "int",
            "feasibleSpace": {"min": 5, "max": 15, "step": 5},
        },
        {
            "name": "learning_rate",
            "parameterType": "double",
            "feasibleSpace": {"min": 0.05, "max": 0.3, "distribution": "logUniform"},
        },
    ],
    "maxTrialCount": 3,
    "parallelTrialCount": 2,
    "maxFailedTrialCount": 2,
}


def make_project(root: Path, sweep: dict | None = None) -> Path:
    """The example project under ``root`` with ``sweep`` as its sweep section and batch 1 put."""
    from onepipe.config import load_settings
    from onepipe.data import open_store

    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "onepipe.yaml", root / "onepipe.yaml")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("components", "pipelines"):
        shutil.copytree(REPO / folder, root / folder, ignore=ignore)
    (root / "data/loans").mkdir(parents=True)
    shutil.copy2(REPO / "data/loans/batch_1.csv", root / "data/loans/batch_1.csv")
    cfg = yaml.safe_load((root / "onepipe.yaml").read_text())
    cfg["sweep"] = sweep if sweep is not None else TINY_SWEEP
    cfg["pipeline"]["params"].update({"max_depth": 2})
    (root / "onepipe.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    settings = load_settings(root / "onepipe.yaml", user="tester")
    open_store(settings).put("loans", [root / "data/loans/batch_1.csv"], message="batch 1")
    return root


@pytest.fixture
def sweep_project(tmp_path) -> Path:
    return make_project(tmp_path / "proj")


@pytest.fixture
def edit_sweep():
    return write_sweep


def write_sweep(root: Path, **changes) -> None:
    """Change keys of the sweep section in place (``parameters=[...]``, ``algorithm=...``)."""
    cfg = yaml.safe_load((root / "onepipe.yaml").read_text())
    cfg["sweep"].update(changes)
    (root / "onepipe.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


class KMockServer:
    """kmock's Kubernetes emulator on a real port, its asyncio loop on a background thread.

    (kmock's own pytest fixture is async; the kubernetes client is sync, so the server
    gets a loop of its own and tests talk to it over HTTP like to any API server.)
    """

    def __init__(self) -> None:
        import asyncio
        import threading

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)

    async def _start(self) -> None:
        import kmock

        self.emulator = kmock.KubernetesEmulator()
        await self.emulator.__aenter__()
        self.server = kmock.Server(self.emulator)
        await self.server.__aenter__()
        self.url = str(self.server.url).rstrip("/")

    async def _stop(self) -> None:
        await self.server.__aexit__(None, None, None)
        await self.emulator.__aexit__(None, None, None)

    def stop(self) -> None:
        import asyncio

        try:
            asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)

    def kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "kmock",
                    "clusters": [{"name": "kmock", "cluster": {"server": self.url}}],
                    "users": [{"name": "tester", "user": {"token": "not-checked"}}],
                    "contexts": [
                        {
                            "name": "kmock",
                            "context": {
                                "cluster": "kmock",
                                "user": "tester",
                                "namespace": namespace,
                            },
                        }
                    ],
                }
            )
        )
        return path

    def api(self):
        from kubernetes import client

        return client.ApiClient(client.Configuration(host=self.url))


@pytest.fixture
def kmock_server():
    server = KMockServer()
    yield server
    server.stop()
