"""The MLServer worker: ``mlserver start`` in a subprocess, models loaded one version at a time.

It listens on an owner-only Unix socket unless ``serve.mlserver.port`` is set (see
serve/mlserver_endpoint.py), started through serve/mlserver_main.py for that.

Each registry version becomes one MLServer model named ``<name>-v<version>``
(``mlserver_mlflow.MLflowRuntime``, ``parameters.uri`` = the local artifact
directory), loaded and unloaded through MLServer's repository API so one version
failing to load never touches the others. Models are not loaded at startup (a
failing one would stop the server); the gateway loads what it routes to.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from onepipe.lifecycle.tether import signal_group, tethered
from onepipe.serve.errors import DeployError
from onepipe.serve.mlserver_endpoint import MLServerEndpoint
from onepipe.serve.models import ServedModel

RUNTIME = "mlserver_mlflow.MLflowRuntime"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def model_settings(model: ServedModel) -> dict[str, Any]:
    return {
        "name": model.internal_name,
        "implementation": RUNTIME,
        "parameters": {"uri": str(model.path), "version": model.version},
    }


def server_settings(
    root: Path, endpoint: MLServerEndpoint, grpc_port: int, parallel_workers: int
) -> dict[str, Any]:
    return {
        "debug": False,
        **endpoint.server_settings(grpc_port),
        "metrics_endpoint": None,  # no metrics server: faster start, one port fewer
        "parallel_workers": parallel_workers,
        "load_models_at_startup": False,
        "model_repository_root": str(root / "models"),
        "environments_dir": str(root / "envs"),
        "gzip_enabled": False,
    }


class MLServerWorker:
    """One ``mlserver start`` subprocess; ``url`` once started."""

    def __init__(
        self,
        workdir: Path,
        *,
        port: int = 0,
        parallel_workers: int = 0,
        startup_timeout: float = 60.0,
        load_timeout: float = 120.0,
    ) -> None:
        self.workdir = Path(workdir)
        self.port = port  # 0: the owner-only Unix socket
        self.endpoint = (
            MLServerEndpoint(port=port) if port else MLServerEndpoint.private(self.workdir)
        )
        self.parallel_workers = parallel_workers
        self.startup_timeout = startup_timeout
        self.load_timeout = load_timeout
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / "mlserver.log"

    @property
    def url(self) -> str:
        return self.endpoint.url

    def start(self) -> None:
        if self.workdir.exists():
            shutil.rmtree(self.workdir / "models", ignore_errors=True)
        (self.workdir / "models").mkdir(parents=True, exist_ok=True)
        grpc_port = free_port() if self.port else 0
        settings = server_settings(self.workdir, self.endpoint, grpc_port, self.parallel_workers)
        (self.workdir / "settings.json").write_text(json.dumps(settings, indent=2))
        cmd = [
            sys.executable,
            "-m",
            "onepipe.serve.mlserver_main",
            str(self.workdir),
            *self.endpoint.launch_args(),
        ]
        log = self.log_path.open("ab")
        try:
            # Tethered (lifecycle/tether.py): a gateway killed outright takes MLServer with it.
            self.proc = subprocess.Popen(
                tethered(cmd),
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            raise DeployError(f"cannot start MLServer ({exc.strerror}: {cmd[0]})") from None
        finally:
            log.close()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DeployError(
                    f"MLServer exited with code {self.proc.returncode} at start "
                    f"(last log line: {self._last_log_line()}; log {self.log_path})"
                )
            try:
                with self.endpoint.client(timeout=1) as client:
                    live = client.get(f"{self.endpoint.base_url}/v2/health/live")
                if live.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise DeployError(
            f"MLServer did not become live within {self.startup_timeout:.0f}s (log {self.log_path})"
        )

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            self.endpoint.cleanup()
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            signal_group(proc, signal.SIGKILL)  # MLServer and its inference workers
            proc.wait(timeout=5)
        self.endpoint.cleanup()  # its sockets (and a private temp dir holding them)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def load(self, client: Any, model: ServedModel) -> None:
        """Load one version and wait until MLServer reports it ready; DeployError says why not."""
        folder = self.workdir / "models" / model.internal_name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model-settings.json").write_text(json.dumps(model_settings(model), indent=2))
        name = model.internal_name
        try:
            resp = await client.post(
                f"{self.endpoint.base_url}/v2/repository/models/{name}/load",
                timeout=self.load_timeout,
            )
        except httpx.HTTPError as exc:
            await self._forget(client, name)
            raise DeployError(
                f"{model.name}/{model.version}: MLServer did not answer the load "
                f"request ({type(exc).__name__})"
            ) from None
        if resp.status_code != 200:
            await self._forget(client, name)
            raise DeployError(
                f"{model.name}/{model.version} failed to load in MLServer: "
                f"{_error_text(resp)} (log {self.log_path})"
            )
        ready = await client.get(f"{self.endpoint.base_url}/v2/models/{name}/ready", timeout=10)
        if ready.status_code != 200:
            await self._forget(client, name)
            raise DeployError(
                f"{model.name}/{model.version} loaded but is not ready "
                f"(MLServer answered {ready.status_code})"
            )

    async def unload(self, client: Any, model: ServedModel) -> None:
        await self._forget(client, model.internal_name)

    async def _forget(self, client: Any, name: str) -> None:
        try:
            await client.post(
                f"{self.endpoint.base_url}/v2/repository/models/{name}/unload", timeout=30
            )
        except Exception:  # best effort: the folder below is what matters for the next load
            pass
        shutil.rmtree(self.workdir / "models" / name, ignore_errors=True)

    def _last_log_line(self) -> str:
        try:
            lines = [x for x in self.log_path.read_text(errors="replace").splitlines() if x.strip()]
        except OSError:
            return "no log"
        return lines[-1][:300] if lines else "empty log"


def _error_text(resp: Any) -> str:
    try:
        body = resp.json()
    except ValueError:
        return (
            resp.text.strip().splitlines()[0][:300]
            if resp.text.strip()
            else f"HTTP {resp.status_code}"
        )
    if isinstance(body, dict):
        return str(body.get("error") or body.get("detail") or body)[:300]
    return str(body)[:300]
