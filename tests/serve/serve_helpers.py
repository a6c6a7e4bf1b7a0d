"""Helpers shared by the serve tests (importable: pytest puts this folder on sys.path)."""

from __future__ import annotations

import time
from pathlib import Path

from onepipe_testkit import free_port, private_copy  # noqa: F401 - the serve tests import them here

from onepipe.app.background import BackgroundGateway

REPO = Path(__file__).resolve().parents[2]

ROW = {
    "age": 52,
    "annual_income": 88700.0,
    "employment_type": "contract",
    "home_ownership": "rent",
    "region": "south",
    "purpose": "car",
    "loan_amount": 12950.0,
    "loan_term_months": 36,
    "interest_rate": 11.33,
    "credit_score": 642,
    "num_open_accounts": 6,
    "num_late_payments_2y": 0,
    "debt_to_income": 0.3,
}


def load(project: Path, env: str = "dev"):
    from onepipe.config import load_settings

    return load_settings(project / "onepipe.yaml", env=env, user="tester")


# The tests run serving exactly as the demo does.
RunningGateway = BackgroundGateway


def wait_until(predicate, timeout: float = 30.0, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def start_serve(project: Path, port: int | None = None, user: str = "tester", timeout: float = 120):
    """``onepipe serve`` as a user starts it, in a subprocess; (process, gateway URL) once
    the gateway answers ready. Its stderr is a pipe the caller may read."""
    import os
    import subprocess
    import sys

    import httpx

    extra = ["--port", str(port)] if port else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "onepipe", "serve", "-c", str(project / "onepipe.yaml"), *extra],
        cwd=project,
        env={**os.environ, "ONEPIPE_USER": user},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port or load(project).serve.gateway.port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None

    assert wait_until(ready, timeout=timeout), "gateway did not come up"
    assert proc.poll() is None, proc.stderr.read()
    return proc, url
