"""Credentials in URLs stay secret (issue 11, "Secrets").

Never in a run's ``onepipe/config.json``, a tag, ``config show`` or an error line;
read from the environment (``${NAME}``) rather than written in onepipe.yaml.
"""

from __future__ import annotations

import json
import shlex

import pytest
import yaml
from onepipe_testkit import FAST, copy_project

from onepipe.config import load_settings
from onepipe.config.secrets import mask
from onepipe.errors import ConfigError

PASSWORD = "hunter2-Xq9"
STORE = f"postgresql://onepipe:{PASSWORD}@127.0.0.1:5432/onepipe"


def _project(tmp_path, **sections) -> None:
    cfg = {"project": "credit-risk", "model": {"name": "credit-risk"}, **sections}
    (tmp_path / "onepipe.yaml").write_text(yaml.safe_dump(cfg))


def test_mask_hides_passwords_and_nothing_else():
    assert mask(STORE) == "postgresql://onepipe:***@127.0.0.1:5432/onepipe"
    assert mask("see http://alice:p/w%40x@h:5000/x, then") == "see http://alice:***@h:5000/x, then"
    assert mask("host=db user=u password=s3cret dbname=x") == "host=db user=u password=*** dbname=x"
    assert mask({"a": [STORE, 3]}) == {"a": ["postgresql://onepipe:***@127.0.0.1:5432/onepipe", 3]}
    for kept in (
        "postgresql://onepipe@127.0.0.1:5432/onepipe",  # no password
        "postgresql://onepipe:${ONEPIPE_STORE_PASSWORD}@h/onepipe",  # a reference: no secret
        "http://127.0.0.1:5000/#/experiments/1",
        "mail bob@example.com about http://h:5000",
    ):
        assert mask(kept) == kept


def test_config_show_masks_passwords_and_the_hash_is_unchanged(tmp_path, cli):
    _project(
        tmp_path,
        tracking={"uri": f"http://alice:{PASSWORD}@127.0.0.1:5000"},
        serve={"history_url": STORE},
        monitor={"store_url": STORE},
    )
    shown = cli("config", "show", cwd=tmp_path)
    assert shown.code == 0, shown.err
    assert PASSWORD not in shown.out + shown.err
    assert "onepipe:***@127.0.0.1" in shown.out
    as_json = cli("config", "show", "--json", cwd=tmp_path)
    assert PASSWORD not in as_json.out
    data = json.loads(as_json.out)
    assert data["serve"]["history_url"] == "postgresql://onepipe:***@127.0.0.1:5432/onepipe"
    assert data["monitor"]["store_url"] == data["serve"]["history_url"]
    assert data["tracking"]["uri"] == "http://alice:***@127.0.0.1:5000"
    # The hash is still that of the configuration as written: masking is for display only.
    settings = load_settings(tmp_path / "onepipe.yaml")
    assert data["config_hash"] == settings.config_hash
    assert settings.logical()["config"]["serve"]["history_url"] == STORE
    assert settings.serve.history_url == STORE  # and the stages still get the real URL
    assert PASSWORD not in json.dumps(settings.saved())


def test_a_password_comes_from_the_environment_and_stays_out_of_source(tmp_path, cli, monkeypatch):
    ref = "postgresql://onepipe:${ONEPIPE_STORE_PASSWORD}@127.0.0.1:5432/onepipe"
    _project(tmp_path, serve={"history_url": ref}, monitor={"store_url": ref})
    path = tmp_path / "onepipe.yaml"
    one = load_settings(path, environ={"ONEPIPE_STORE_PASSWORD": PASSWORD})
    assert one.serve.history_url == one.monitor.store_url == STORE
    assert one.source["serve"]["history_url"] == ref  # what is hashed and saved
    other = load_settings(path, environ={"ONEPIPE_STORE_PASSWORD": "rotated"})
    assert other.serve.history_url.startswith("postgresql://onepipe:rotated@")
    assert other.config_hash == one.config_hash  # rotating a password is not a new config

    # The CLI hands its environment to the loader; the reference is shown, the value never.
    monkeypatch.setenv("ONEPIPE_STORE_PASSWORD", PASSWORD)
    shown = cli("config", "show", "--json", cwd=tmp_path)
    assert shown.code == 0 and PASSWORD not in shown.out
    assert json.loads(shown.out)["serve"]["history_url"] == mask(STORE)

    monkeypatch.delenv("ONEPIPE_STORE_PASSWORD")
    missing = cli("config", "show", cwd=tmp_path)
    assert missing.code == 2
    assert missing.err.strip().splitlines() == [
        "error: onepipe.yaml: serve.history_url: environment variable ONEPIPE_STORE_PASSWORD "
        "is not set (expected it to hold the secret the URL refers to as "
        "${ONEPIPE_STORE_PASSWORD})"
    ]
    _project(tmp_path, serve={"history_url": "postgresql://u:${1-x}@h/db"})
    with pytest.raises(ConfigError, match=r"serve.history_url: \$\{1-x\} is not an environment"):
        load_settings(path, environ={})


def test_an_unreachable_tracking_server_error_line_has_no_password(tmp_path, cli, monkeypatch):
    from onepipe.team.server import free_port

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    url = f"http://alice:{PASSWORD}@127.0.0.1:{free_port()}"  # nothing listens there
    _project(tmp_path, tracking={"uri": url})
    result = cli("models", cwd=tmp_path)
    assert result.code == 2
    [line] = result.err.strip().splitlines()
    assert line.startswith("error: cannot reach the tracking server (")
    assert PASSWORD not in line and "alice:***@127.0.0.1" in line


@pytest.mark.slow
def test_a_runs_saved_config_and_tags_hold_no_password(tmp_path):
    """A real pipeline run with passwords in its config and on its command line."""
    from mlflow import MlflowClient

    from onepipe.data import open_store
    from onepipe.pipeline.execute import run_pipeline
    from onepipe.pipeline.reproduce import recorded_settings

    root = copy_project(tmp_path / "proj")
    cfg = yaml.safe_load((root / "onepipe.yaml").read_text())
    cfg["serve"]["history_url"] = STORE
    (root / "onepipe.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    overrides = [*FAST, f"monitor.store_url={STORE}"]
    settings = load_settings(root / "onepipe.yaml", overrides=overrides, user="tester")
    open_store(settings).put("loans", [root / "data/loans/batch_1.csv"], message="batch 1")
    # What `onepipe run -p ...` passes as its command line (pipeline/execute.py).
    command = shlex.join(["onepipe", "run", *(a for p in overrides for a in ("-p", p))])
    run_id = run_pipeline(settings, command=command).run_id

    client = MlflowClient(settings.tracking_uri)
    saved = client.download_artifacts(run_id, "onepipe/config.json", str(tmp_path / "dl"))
    text = open(saved).read()
    assert PASSWORD not in text
    config = json.loads(text)
    assert config["config"]["serve"]["history_url"] == mask(STORE)
    assert config["resolved"]["monitor"]["store_url"] == mask(STORE)
    tags = client.get_run(run_id).data.tags
    assert "monitor.store_url=postgresql://onepipe:***@" in tags["onepipe.command"]
    assert not [k for k, v in tags.items() if PASSWORD in v]
    # The saved hash is the run's: masking changed what is shown, not what is hashed.
    assert config["resolved"]["config_hash"] == tags["onepipe.config_hash"] == settings.config_hash

    # Reproducing that run connects as configured today, not with the mask.
    record = {"config": {"content": config}, "run": {"id": run_id, "params": {}}}
    again = recorded_settings(settings, record)
    assert again.serve.history_url == again.monitor.store_url == STORE


def test_a_trial_gets_the_reference_not_the_secret(tmp_path):
    """Trial commands are rendered into Katib specs: the URL goes there as written."""
    from onepipe.sweep.trial import ENV_TRACKING_URI, trial_spec

    uri = "http://alice:${MLFLOW_PW}@mlflow.team.svc:5000"
    _project(tmp_path, tracking={"uri": uri})
    settings = load_settings(tmp_path / "onepipe.yaml", environ={"MLFLOW_PW": PASSWORD})
    assert settings.tracking.uri == f"http://alice:{PASSWORD}@mlflow.team.svc:5000"
    spec = trial_spec(
        settings, values={}, sweep="s", trial_name="s-0", parent_run_id=None, data_commits={}
    )
    assert spec.env[ENV_TRACKING_URI] == uri
    assert PASSWORD not in json.dumps(spec.env) + spec.shell()
