"""A project of one's own, as a user makes it: onepipe from a wheel of this checkout in a
fresh virtualenv, `onepipe init` outside this repository, then every command in it.

Regression runs the long loop (the task whose canary once promoted a worse model):
data put, run, cached rerun, sweep, promote, serve, a deliberately worse challenger on a
50% canary with live traffic and feedback, `canary analyze --auto` rolling it back,
monitor, report, models, compile, render, up --dry-run. Binary runs `make demo` and
`make test` as its README says; multiclass a shorter tour.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ok(venv, *args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = venv.run(*args, cwd=cwd, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done


def _json(venv, *args: str, cwd: Path, timeout: float = 300):
    done = _ok(venv, *args, "--json", cwd=cwd, timeout=timeout)
    return json.loads(done.stdout)


def _init(venv, where: Path, name: str, task: str) -> Path:
    assert not where.resolve().is_relative_to(REPO)
    _ok(venv, "onepipe", "init", name, "--task", task, cwd=where)
    root = where / name
    # A free gateway port: tests (and other programs) may hold 8000.
    cfg = yaml.safe_load((root / "onepipe.yaml").read_text())
    cfg.setdefault("serve", {})["gateway"] = {"port": _free_port()}
    # The canary verdicts below are about quality (the task's loss); on a shared 2-core
    # machine a p99 latency ratio is noise and would otherwise decide first.
    canary = cfg.setdefault("monitor", {}).setdefault("canary", {})
    canary["max_p99_ratio"] = 1000.0
    (root / "onepipe.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return root


def _put_and_run_twice(venv, root: Path, primary: str) -> dict:
    _ok(
        venv,
        "onepipe",
        "data",
        "put",
        "records",
        "data/records/batch_1.csv",
        "-m",
        "first",
        cwd=root,
    )
    first = _json(venv, "onepipe", "run", cwd=root)
    assert first["status"] == "succeeded" and first["executed"] == 5
    assert first["model_version"] == "1" and primary in first["metrics"]
    again = _json(venv, "onepipe", "run", cwd=root)
    assert again["executed"] == 0 and again["cache_hits"] == 5 and again["model_version"] == "1"
    return first


def _render_and_up(venv, root: Path, live_metric: str) -> None:
    _ok(venv, "onepipe", "compile", "-o", "pipeline.yaml", cwd=root)
    assert "ONEPIPE_STEP_CONTEXT" in (root / "pipeline.yaml").read_text()
    _ok(venv, "onepipe", "render", "overlays", cwd=root)
    values = yaml.safe_load((root / "manifests/overlays/acc/helm-values.yaml").read_text())
    assert values["liveQuality"]["metric"] == live_metric
    up = _ok(venv, "onepipe", "up", "--env", "acc", "--dry-run", cwd=root)
    assert "kind: Experiment" in up.stdout and "kind: SeldonDeployment" in up.stdout
    chart = re.search(r"helm upgrade --install \S+ (\S+)", up.stderr.replace("\n", " "))
    assert chart, up.stderr
    assert (Path(chart.group(1)) / "Chart.yaml").is_file(), chart.group(1)


class Gateway:
    """``onepipe serve`` as a background process of the venv, stopped like Ctrl-C."""

    def __init__(self, venv, root: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [str(venv.bin / "onepipe"), "serve", "--port", str(port)],
            cwd=root,
            env=venv.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait_ready(self, timeout: float = 180) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"onepipe serve exited:\n{self.proc.stdout.read()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/v2/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError("onepipe serve did not become ready")

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.stdout.read()


def _traffic(url: str, batch: Path, requests: int, rows: int = 20, seed: int = 0) -> dict[str, int]:
    """Predictions with their truths as feedback, as a client would send them."""
    import httpx
    import numpy as np

    frame = pd.read_csv(batch)
    truth = frame.pop("target").to_numpy()
    records = frame.to_dict(orient="records")
    rng = np.random.default_rng(seed)
    answered, per_version = [], {}
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(requests):
            index = rng.choice(len(records), size=rows, replace=False)
            resp = client.post("/predict", json={"instances": [records[i] for i in index]})
            assert resp.status_code == 200, resp.text
            body = resp.json()
            per_version[str(body["model_version"])] = (
                per_version.get(str(body["model_version"]), 0) + 1
            )
            answered.append((body["id"], truth[index].tolist()))
        for request_id, values in answered:
            deadline = time.monotonic() + 20  # the log is written off the request path
            while True:
                fb = client.post("/feedback", json={"request_id": request_id, "truth": values})
                if fb.status_code != 404 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert fb.status_code == 200, fb.text
    return per_version


def test_regression_project_from_init_to_a_rolled_back_canary(onepipe_venv, tmp_path):
    venv = onepipe_venv
    root = _init(venv, tmp_path, "diabetes", "regression")
    _put_and_run_twice(venv, root, "rmse")

    sweep = _json(venv, "onepipe", "sweep", "-p", "sweep.maxTrialCount=2", cwd=root, timeout=600)
    assert sweep["state"] == "Succeeded" and sweep["objective"] == "rmse"
    assert sweep["direction"] == "minimize" and sweep["model_version"]
    promoted = _json(venv, "onepipe", "promote", cwd=root)
    champion = promoted["champion"]
    assert champion == sweep["model_version"]

    port = yaml.safe_load((root / "onepipe.yaml").read_text())["serve"]["gateway"]["port"]
    gateway = Gateway(venv, root, port)
    try:
        gateway.wait_ready()
        # A deliberately worse challenger: one shallow tree barely beats the mean.
        worse = _json(venv, "onepipe", "run", "-p", "n_estimators=2", "-p", "max_depth=1", cwd=root)
        assert worse["model_is_new"] and worse["model_version"] not in ("1", champion)
        _ok(venv, "onepipe", "deploy", "--canary", "50", cwd=root)
        answered = _traffic(gateway.url, root / "data/records/batch_2.csv", 240)
        assert set(answered) == {champion, worse["model_version"]}

        metrics = __import__("httpx").get(f"{gateway.url}/metrics", timeout=30).text
        assert re.search(r'onepipe_live_metric\{[^}]*metric="rmse"', metrics)
        assert 'metric="accuracy"' not in metrics

        monitor = _json(venv, "onepipe", "monitor", "--no-drift", cwd=root)
        by_version = {v["version"]: v for v in monitor["versions"]}
        assert by_version[champion]["task"] == "regression"
        assert (
            by_version[worse["model_version"]]["metrics"]["rmse"]
            > by_version[champion]["metrics"]["rmse"]
        )

        verdict = _json(venv, "onepipe", "canary", "analyze", "--auto", cwd=root)
        assert verdict["verdict"] == "rollback", verdict["reason"]
        assert verdict["evidence"]["loss"] == "squared_error" and verdict["applied"]
        history = _json(venv, "onepipe", "history", cwd=root)
        assert history[0]["action"] == "rollback"
        assert history[0]["weights"] == {champion: 100}
    finally:
        log = gateway.stop()
    assert "Traceback" not in log, log[-3000:]

    report = _json(venv, "onepipe", "report", "-o", "report.html", cwd=root)
    assert report["task"] == "regression" and report["quality_metric"] == "rmse"
    html = (root / "report.html").read_text()
    assert "rmse" in html and "No feedback" not in html
    models = _json(venv, "onepipe", "models", cwd=root)
    assert [m["name"] for m in models["metrics"]] == ["rmse", "mae", "r2"]
    aliases = {v["version"]: v["aliases"] for v in models["versions"]}
    assert "champion" in aliases[champion]
    _render_and_up(venv, root, "rmse")


def test_binary_project_make_demo_and_make_test(onepipe_venv, tmp_path):
    venv = onepipe_venv
    root = _init(venv, tmp_path, "churn", "binary")
    demo = venv.run("make", "demo", cwd=root, timeout=900)
    log = demo.stdout + demo.stderr
    assert demo.returncode == 0, log[-4000:]
    for stage in (
        "$ onepipe data put records data/records/batch_1.csv",
        "All 5 steps were cache hits",
        "$ onepipe deploy --canary 10",
        "$ onepipe canary analyze --auto",
        "wrote ",
    ):
        assert stage in log, stage
    assert "Traceback" not in log
    assert (root / ".onepipe" / "report.html").is_file()
    tested = venv.run("make", "test", cwd=root, timeout=600)
    assert tested.returncode == 0, (tested.stdout + tested.stderr)[-3000:]
    assert "Ran 1 test" in tested.stderr and "OK" in tested.stderr


def test_multiclass_project_short_tour(onepipe_venv, tmp_path):
    venv = onepipe_venv
    root = _init(venv, tmp_path, "wine", "multiclass")
    _put_and_run_twice(venv, root, "accuracy")
    _ok(venv, "onepipe", "promote", cwd=root)
    models = _json(venv, "onepipe", "models", cwd=root)
    assert models["task"] == "multiclass"
    assert [m["name"] for m in models["metrics"]] == ["accuracy", "f1_macro", "log_loss"]
    assert models["versions"][0]["aliases"] == ["champion"]
    report = _json(venv, "onepipe", "report", "-o", "report.html", cwd=root)
    assert report["task"] == "multiclass"
    _render_and_up(venv, root, "accuracy")
