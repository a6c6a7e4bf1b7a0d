"""onepipe.yaml + environment + variant + overrides -> one Settings; every wrong config one clear line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from onepipe.config import load_settings
from onepipe.errors import ConfigError

BASE = """\
project: demo
model: {name: m}
tracking: {uri: sqlite:///.onepipe/mlflow.db}
pipeline:
  params: {seed: 1, rate: 0.5, name: a, flag: false, data_ref: loans@master}
environments:
  test: {tracking: {uri: "sqlite:///t.db"}}
  prod: {backends: {runner: kfp-local}, kubernetes: {namespace: p}}
variants:
  fast: {params: {seed: 7}}
"""


def write(tmp_path: Path, text: str = BASE) -> Path:
    path = tmp_path / "onepipe.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path: Path, text: str | None = None, **kwargs) -> str:
    path = write(tmp_path, text) if text is not None else write(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_settings(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_defaults_env_variant_and_overrides_resolve_in_order(tmp_path):
    path = write(tmp_path)
    s = load_settings(path)
    assert (s.env, s.variant, s.params["seed"]) == ("dev", None, 1)
    assert s.tracking_uri == f"sqlite:///{tmp_path}/.onepipe/mlflow.db"
    assert s.experiment_name == "demo-dev"

    s = load_settings(
        path, env="prod", variant="fast", overrides=["rate=0.25", "flag=yes", "name=b"]
    )
    assert s.backends.runner == "kfp-local" and s.kubernetes.namespace == "p"
    assert s.params == {
        "seed": 7,
        "rate": 0.25,
        "name": "b",
        "flag": True,
        "data_ref": "loans@master",
    }
    assert isinstance(s.params["rate"], float) and s.params["flag"] is True
    # An override beats the variant, which beats the file.
    assert load_settings(path, variant="fast", overrides=["seed=9"]).params["seed"] == 9


def test_dotted_override_sets_any_config_key(tmp_path):
    s = load_settings(
        write(tmp_path), overrides=["tracking.experiment=exp-x", "kubernetes.namespace=ns"]
    )
    assert s.experiment_name == "exp-x" and s.kubernetes.namespace == "ns"


def test_config_hash_is_stable_and_tracks_what_changes_a_run(tmp_path):
    path = write(tmp_path)
    a, b = load_settings(path), load_settings(path)
    assert a.config_hash == b.config_hash
    assert load_settings(path, overrides=["seed=2"]).config_hash != a.config_hash
    assert load_settings(path, env="test").config_hash != a.config_hash
    assert (
        a.with_params(seed=2).config_hash == load_settings(path, overrides=["seed=2"]).config_hash
    )


def test_found_upward_from_a_subdirectory(tmp_path):
    write(tmp_path)
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    assert load_settings(start=sub).root == tmp_path


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        (BASE + "trackng: {}\n", {}, "onepipe.yaml: trackng: unknown key"),
        (
            BASE.replace("uri: sqlite", "urii: sqlite"),
            {},
            "onepipe.yaml: tracking.urii: unknown key",
        ),
        (BASE.replace("seed: 1,", "seed: [1],"), {}, "onepipe.yaml: pipeline.params.seed"),
        (
            BASE.replace("model: {name: m}", "model: {name: 3}"),
            {},
            "model.name: expected a string, found 3",
        ),
        (BASE.replace("model: {name: m}\n", ""), {}, "onepipe.yaml: model: missing required key"),
        (
            BASE,
            {"env": "staging"},
            "unknown environment 'staging' (expected one of: acc, dev, prod, test)",
        ),
        (BASE, {"variant": "fsat"}, "unknown variant 'fsat' (did you mean: fast?)"),
        (BASE, {"overrides": ["sede=3"]}, "-p sede: unknown param (did you mean: seed?)"),
        (BASE, {"overrides": ["seed=three"]}, "-p seed: expected an integer, found 'three'"),
        (BASE, {"overrides": ["rate=fast"]}, "-p rate: expected a number, found 'fast'"),
        (BASE, {"overrides": ["flag=maybe"]}, "-p flag: expected true or false, found 'maybe'"),
        (BASE, {"overrides": ["seed"]}, "-p seed: expected name=value"),
        (
            BASE.replace("runner: kfp-local", "runner: airflow"),
            {"env": "prod"},
            "onepipe.yaml: environments.prod.backends.runner: expected one of 'inprocess', 'kfp-local' or 'kfp', found 'airflow'",
        ),
        (
            BASE.replace('{tracking: {uri: "sqlite:///t.db"}}', "{trakcing: {}}"),
            {"env": "test"},
            "onepipe.yaml: environments.test.trakcing: unknown key (expected one of:",
        ),
        (
            BASE.replace("{params: {seed: 7}}", "{params: {sed: 7}}"),
            {"variant": "fast"},
            "variants.fast.params.sed: unknown param (did you mean: seed?)",
        ),
        ("project: [unclosed\n", {}, "onepipe.yaml:2: invalid YAML"),
        ("- a list\n", {}, "onepipe.yaml: top level: expected a mapping of sections, found list"),
    ],
)
def test_wrong_config_names_file_key_expected_and_found(tmp_path, text, kwargs, expected):
    assert expected in error_of(tmp_path, text, **kwargs)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"onepipe.yaml: not found in .* or any parent directory"):
        load_settings(start=tmp_path)
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "onepipe.yaml")


def test_repository_config_resolves_for_every_environment_and_variant():
    root = Path(__file__).resolve().parents[2]
    for env in ("dev", "test", "acc", "prod"):
        for variant in (None, "fast", "deep"):
            s = load_settings(root / "onepipe.yaml", env=env, variant=variant)
            assert s.env == env and s.model_name == "credit-risk"
