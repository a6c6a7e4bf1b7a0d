"""With ``--json``, stdout carries the JSON alone, whatever a runner, library or child prints."""

from __future__ import annotations

import json

import pytest
from onepipe_testkit import FAST, copy_project, git_init, run_onepipe


@pytest.mark.slow
def test_kfp_local_run_json_is_all_of_stdout_and_the_step_log_goes_to_stderr(tmp_path):
    root = copy_project(tmp_path / "proj")
    git_init(root)
    put = run_onepipe("data", "put", "loans", "data/loans/batch_1.csv", cwd=root)
    assert put.code == 0, put.err

    res = run_onepipe(
        "run", *[a for p in FAST for a in ("-p", p)], "--runner", "kfp-local", "--json", cwd=root
    )
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert data["runner"] == "kfp-local" and data["status"] == "succeeded"
    assert data["executed"] == 5 and data["model_version"] == "1"
    # What kfp.local logs and what the step subprocesses print is still shown, on stderr.
    assert "Executing task 'train'" in res.err.replace("\x1b[96m", "").replace("\x1b[0m", "")
    assert "[KFP Executor" in res.err
    assert "✓ train" in res.err and "Traceback" not in res.err
