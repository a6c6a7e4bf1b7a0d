"""Helpers shared by the serve tests (importable: pytest puts this folder on sys.path)."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

import yaml

from onepipe.serve.background import BackgroundGateway

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(project: Path, env: str = "dev"):
    from onepipe.config import load_settings

    return load_settings(project / "onepipe.yaml", env=env, user="tester")


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


# The tests run serving exactly as the demo does.
RunningGateway = BackgroundGateway


def wait_until(predicate, timeout: float = 30.0, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False
