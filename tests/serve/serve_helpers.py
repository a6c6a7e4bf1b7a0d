"""Helpers shared by the serve tests (importable: pytest puts this folder on sys.path)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(project: Path, env: str = "dev"):
    from onepipe.config import load_settings

    return load_settings(project / "onepipe.yaml", env=env, user="tester")


class RunningGateway:
    """``run_gateway`` on a thread of this process: real uvicorn, real MLServer subprocess."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.gateway = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.serve.gateway.port}"

    def _run(self) -> None:
        from onepipe.serve.server import run_gateway

        def ready(gateway, state, url) -> None:
            self.gateway = gateway
            self._ready.set()

        try:
            run_gateway(self.settings, on_ready=ready, install_signal_handlers=False)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc
        finally:
            self._ready.set()

    def start(self, timeout: float = 120) -> RunningGateway:
        self.thread.start()
        self._ready.wait(timeout)
        if self.error or self.gateway is None:
            raise RuntimeError(f"gateway did not start: {self.error!r}")
        return self

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.request_stop()
        self.thread.join(60)


def wait_until(predicate, timeout: float = 30.0, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False
