"""Helpers shared by the test modules (imported by name: keep this module name unique)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
FAST = ["n_estimators=15", "max_depth=2"]


def copy_project(dest: Path) -> Path:
    """The example project (config, components, pipelines, data batches) under ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "onepipe.yaml", dest / "onepipe.yaml")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("components", "pipelines", "data"):
        shutil.copytree(REPO / folder, dest / folder, ignore=ignore, dirs_exist_ok=True)
    return dest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def private_copy(template: Path, root: Path, port: int) -> Path:
    """A copy of ``template`` at ``root``: own registry DB and history, artifacts shared read-only."""
    shutil.copytree(
        template,
        root,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("mlartifacts", "serve", "deployments.db*"),
    )
    (root / ".onepipe" / "mlartifacts").symlink_to(template / ".onepipe" / "mlartifacts")
    cfg = yaml.safe_load((root / "onepipe.yaml").read_text())
    cfg["serve"]["gateway"]["port"] = port
    (root / "onepipe.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return root


def git_init(root: Path) -> str:
    """Make ``root`` a git checkout with one commit; returns the commit id."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    (root / ".gitignore").write_text(".onepipe/\n__pycache__/\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env, capture_output=True)
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_onepipe(*args: str, cwd: Path, timeout: float = 300, env: dict | None = None) -> CliResult:
    """``python -m onepipe ARGS`` as a real subprocess (what a user's shell does)."""
    proc = subprocess.run(
        [sys.executable, "-m", "onepipe", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


class Emulator:
    """kmock's KubernetesEmulator on its own event loop thread.

    It stores objects and nothing more: no controller acts on them. ``operate`` adds a
    stand-in for one (an operator's status, written as the object is applied).
    """

    def __init__(self) -> None:
        self.url = ""
        self.kube = None  # the kmock.KubernetesEmulator, once started
        self._operators: dict[tuple[str, str], object] = {}
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(self._main(),), daemon=True
        )

    async def _main(self) -> None:
        import kmock

        self._stop = asyncio.Event()
        async with kmock.KubernetesEmulator() as k, kmock.Server(k):
            self.kube = k
            self.url = str(k.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> Emulator:
        self._thread.start()
        assert self._ready.wait(20)
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def api_client(self):
        from kubernetes import client

        conf = client.Configuration()
        conf.host = self.url
        return client.ApiClient(conf)

    def kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        """A kubeconfig file whose current context is this emulator."""
        cluster = {"name": "kmock", "cluster": {"server": self.url}}
        context = {
            "name": "kmock",
            "context": {"cluster": "kmock", "user": "t", "namespace": namespace},
        }
        config = {"apiVersion": "v1", "kind": "Config", "current-context": "kmock",
                  "clusters": [cluster], "contexts": [context],
                  "users": [{"name": "t", "user": {"token": "not-checked"}}]}  # fmt: skip
        path.write_text(yaml.safe_dump(config))
        return path

    def operate(self, group: str, plural: str, reconcile) -> None:
        """Play the controller of ``plural.group``: each create or apply of such an object
        (not of its status) gets ``status = reconcile(object)`` before the API answers,
        as if the operator had acted at once (a reader never sees the status lag).
        Asking again with the same ``reconcile`` does nothing."""
        import kmock

        if (group, plural) in self._operators:
            assert self._operators[group, plural] is reconcile, f"{plural}.{group}: two operators"
            return
        self._operators[group, plural] = reconcile
        kube = self.kube

        def react(request):
            if request.subresource is not None:
                raise NotImplementedError  # a status write: kmock's own handling
            meta = (request.data or {}).get("metadata") or {}
            key = (
                request.resource,
                request.namespace or meta.get("namespace"),
                request.name or meta["name"],
            )
            obj = kube.objects[key]
            obj.patch({"status": reconcile(obj.raw)})
            return obj.raw

        kind = kmock.resource(group=group, plural=plural)
        kube[kind, kmock.action.CREATE] << react
        kube[kind, kmock.action.UPDATE] << react


@dataclass
class Trained:
    root: Path
    git_commit: str
    data_ref: str
    result: object  # RunResult of the first run

    def settings(self, *overrides: str, env: str | None = None):
        from onepipe.config import load_settings

        return load_settings(
            self.root / "onepipe.yaml", overrides=[*FAST, *overrides], env=env, user="tester"
        )


def make_trained(folder: Path) -> Trained:
    """A project in ``folder``, committed to git, with batch 1 put and the pipeline run once
    (fast params)."""
    from onepipe.config import load_settings
    from onepipe.data import open_store
    from onepipe.pipeline.execute import run_pipeline

    root = copy_project(folder / "proj")
    commit = git_init(root)
    settings = load_settings(root / "onepipe.yaml", overrides=FAST, user="tester")
    data = open_store(settings).put("loans", [root / "data/loans/batch_1.csv"], message="batch 1")
    result = run_pipeline(settings, command="pytest trained fixture")
    return Trained(root, commit, data.ref, result)


@contextmanager
def mlflow_server(root: Path, timeout: float = 120):
    """A real ``mlflow server`` (SQLite store, artifacts proxied over HTTP) under ``root``;
    yields its URL once ``/health`` answers, stops it on the way out."""
    import time

    import httpx
    import pytest

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
        + ["--backend-store-uri", f"sqlite:///{root}/mlflow.db"]
        + ["--artifacts-destination", str(root / "artifacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not become healthy in {timeout:g} s")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def labelled_traffic(store, correct: dict[str, int], prefix: str, n: int = 1000) -> None:
    """``n`` one-row credit-risk requests per version, each answered 1, in ``store`` (a
    prediction store), with feedback 1 for the first ``correct[version]`` of them and 0
    for the rest: each version's live accuracy is ``correct[version] / n``."""
    import time

    from onepipe.monitor.protocol import PredictionRecord

    now = time.time()
    store.write_batch(
        [
            PredictionRecord(
                f"{prefix}{version}-{i}",
                now,
                "credit-risk",
                version,
                "",
                latency_ms=4.0,
                n_rows=1,
                inputs={"age": [40]},
                outputs=[1],
            )
            for version in correct
            for i in range(n)
        ]
    )
    for version, good in correct.items():
        for i in range(n):
            store.add_feedback(f"{prefix}{version}-{i}", [1 if i < good else 0])
