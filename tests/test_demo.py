"""``make demo`` end to end in a tmp copy of the project: the whole loop, real MLServer.

train -> serve the champion -> traffic with feedback -> drifted batch -> drift alert ->
``watch --once`` retrains -> 10% canary -> analysis -> promote or rollback -> report.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_full_loop(tmp_path):
    root = tmp_path / "clone"
    for part in ("components", "pipelines"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "data" / "loans", root / "data" / "loans")
    cfg = yaml.safe_load((REPO / "onepipe.yaml").read_text())
    cfg["serve"]["gateway"]["port"] = _free_port()
    (root / "onepipe.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEPIPE_")}
    env["COLUMNS"] = "200"
    done = subprocess.run(
        [sys.executable, "-m", "onepipe.demo", "--requests", "300"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    for command in (
        "$ onepipe data put loans data/loans/batch_1.csv",
        "$ onepipe promote",
        "$ onepipe serve",
        "$ onepipe data put loans data/loans/batch_4.csv",
        "$ onepipe monitor drift-check",
        "$ onepipe watch --once",
        "$ onepipe deploy --canary 10",
        "$ onepipe canary analyze",
        "$ onepipe canary analyze --auto",
        "$ onepipe report -o .onepipe/report.html",
    ):
        assert command in log, command
    assert re.search(r"drift alert v1: .*interest_rate", log)
    assert "trigger: data-commit loans@" in log
    assert "credit-risk v1 90% / v2 10%" in log
    assert re.search(r"(promoted credit-risk v2|rollback)", log)
    assert "stopping the gateway and MLServer" in log
    last = done.stderr.rstrip().splitlines()[-1]  # the demo's console is stderr
    assert re.fullmatch(r"demo done in \d+\.\d s \(wall time\)", last), last
    html = (root / ".onepipe" / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 4 and "data-commit loans@" in html
