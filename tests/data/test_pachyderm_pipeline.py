"""The Pachyderm retraining pipeline: the committed overlays hold the request it renders, and
a wrong field is refused against Pachyderm's schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from onepipe.data.pachyderm.pipeline import pipeline_request, validate_request
from onepipe.k8s.schema import SchemaError

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
ENVS = ("dev", "test", "acc", "prod")


def _settings(env: str):
    from onepipe.config import load_settings

    return load_settings(REPO / "onepipe.yaml", env=env)


@pytest.mark.parametrize("env", ENVS)
def test_pachyderm_pipeline_spec(env):
    s = _settings(env)
    request = pipeline_request(s)
    here = MANIFESTS / "overlays" / env
    assert json.loads((here / "pachyderm-pipeline.json").read_text()) == request
    (cm,) = yaml.safe_load_all((here / "pachyderm-pipeline.yaml").read_text())
    assert json.loads(cm["data"]["pipeline.json"]) == request
    assert request["input"]["pfs"] == {
        "project": "default",
        "name": "loans",
        "repo": "loans",
        "branch": "master",
        "glob": "/",
    }
    assert request["transform"]["image"] == s.image.training
    cmd = request["transform"]["cmd"]
    assert cmd[:2] == ["sh", "-c"]
    assert (
        f"onepipe run --config onepipe.yaml --env {env} -p data_ref=loans@${{loans_COMMIT}}"
        in cmd[2]
    )
    assert cmd[2].endswith('--trigger "pachyderm-commit loans@${loans_COMMIT}"')
    patch = json.loads(request["podPatch"])
    assert {op["path"] for op in patch} == {"/volumes/-", "/containers/0/volumeMounts/-"}


def test_a_wrong_pachyderm_field_is_refused():
    request = pipeline_request(_settings("acc"))
    bad = copy.deepcopy(request)
    bad["transform"]["command"] = bad["transform"].pop("cmd")  # cmd is the field's name
    with pytest.raises(SchemaError, match=r"transform: Additional properties.*'command'"):
        validate_request(bad)
    bad = copy.deepcopy(request)
    bad["datumTries"] = "1"
    with pytest.raises(SchemaError, match="datumTries"):
        validate_request(bad)
    bad = copy.deepcopy(request)
    del bad["input"]
    with pytest.raises(SchemaError, match="input: required"):
        validate_request(bad)


@pytest.mark.slow
def test_the_worker_command_runs_and_tags_the_run_with_its_pachyderm_commit(tmp_path):
    """The rendered command itself, run by a shell as Pachyderm's worker runs it (with the
    commit in ``$loans_COMMIT``): the MLflow run says Pachyderm started it, on which commit."""
    import os
    import subprocess
    import sys

    from onepipe_testkit import FAST, copy_project

    from onepipe.config import load_settings
    from onepipe.data import open_store
    from onepipe.tracking.client import client_for, experiment_id

    root = copy_project(tmp_path / "proj")
    settings = load_settings(root / "onepipe.yaml", env="dev")
    commit = open_store(settings).put("loans", [root / "data/loans/batch_1.csv"])
    command = pipeline_request(settings)["transform"]["cmd"]
    fast = " ".join(f"-p {p}" for p in FAST)
    env = {
        **os.environ,
        "loans_COMMIT": commit.id,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    proc = subprocess.run(
        [*command[:2], f"{command[2]} {fast}"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    client = client_for(settings)
    (run,) = client.search_runs(
        [experiment_id(settings)], "tags.`onepipe.kind` = 'pipeline'", max_results=5
    )
    assert run.data.tags["onepipe.trigger"] == f"pachyderm-commit loans@{commit.id}"
    assert run.data.tags["onepipe.data.data_ref"] == f"loans@{commit.id}"
