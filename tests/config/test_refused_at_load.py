"""Broken onepipe.yaml files are refused when loaded: exit 2, one short `error:` line, no traceback.

Each file is written by the test into its own tmp dir and loaded by the CLI in-process
(`config show`, and `run` for the sweep cases). The fragments are what tells the user
what is wrong; every line must also stay short, whatever the file holds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from onepipe.config import load_settings
from onepipe.errors import ConfigError

BASE = """\
project: demo
model: {name: m}
pipeline: {params: {seed: 1, depth: 3}}
"""
SWEEP = (
    "sweep: {parameters: [{name: depth, parameterType: int, feasibleSpace: {min: 1, max: 5}}]}\n"
)
MAX_LINE = 300


def _alias_bomb() -> str:
    lines = [
        "project: demo",
        "model: {name: m}",
        "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
    ]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


CASES = {
    "binary": (bytes(range(256)) * 8, "not UTF-8 text"),
    "utf16": (BASE.encode("utf-16"), "not UTF-8 text"),
    "utf16-no-bom": (BASE.encode("utf-16-le"), "not UTF-8 text"),
    "latin1": (BASE.replace("demo", "démo").encode("latin-1"), "onepipe.yaml:1: not UTF-8 text"),
    "deep-flow-5000": (BASE + "x: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 50 levels"),
    "deep-flow-60": (BASE + "x: " + "[" * 60 + "]" * 60 + "\n", "nested more than 50 levels"),
    "alias-bomb": (_alias_bomb(), "aliases expand it to more than"),
    "recursive-alias": (BASE + "x: &a [1, *a]\n", "recursive aliases"),
    "huge-file": (BASE + "# " + "x" * (2 << 20) + "\n", "larger than 1 MiB"),
    "duplicate-section": (
        BASE + "model: {name: other}\n",
        "onepipe.yaml:4: duplicate key 'model' (first at line 2",
    ),
    "duplicate-in-flow": (
        BASE.replace("seed: 1,", "seed: 1, seed: 2,"),
        "onepipe.yaml:3: duplicate key 'seed'",
    ),
    "tracking-scheme": (
        BASE + "tracking: {uri: 'ftp://host/mlflow'}\n",
        "tracking.uri: unsupported scheme 'ftp'",
    ),
    "model-name-empty": (
        BASE.replace("{name: m}", "{name: ''}"),
        "model.name: expected a registered model name",
    ),
    "model-name-slash": (
        BASE.replace("{name: m}", "{name: 'team/model'}"),
        "model.name: expected a name MLflow",
    ),
    "model-name-dotdot": (
        BASE.replace("{name: m}", "{name: '..'}"),
        "model.name: expected a name MLflow",
    ),
    "model-name-newline": (BASE.replace("{name: m}", '{name: "a\\nb"}'), "control characters"),
    "project-name": (
        BASE.replace("project: demo", "project: Credit_Risk"),
        "project: expected a Kubernetes name",
    ),
    "project-too-long": (
        BASE.replace("project: demo", "project: " + "a" * 60),
        "at most 53 characters",
    ),
    "repo-name": (
        BASE + "data: {repos: {'loans/../x': {}}}\n",
        "data.repos: expected a data repo name",
    ),
    "seldon-name": (
        BASE.replace("{name: m}", "{name: Credit_Risk}") + "backends: {serve: seldon}\n",
        "it names the SeldonDeployment",
    ),
    "long-found-value": (
        BASE.replace("seed: 1", "seed: [" + "x" * 100_000 + "]"),
        "pipeline.params.seed",
    ),
    "bad-timestamp": (BASE + "data: {default_branch: 2024-13-45}\n", "invalid YAML value"),
    "sweep-min-over-max": (
        BASE + SWEEP.replace("min: 1, max: 5", "min: 5, max: 2"),
        "sweep.parameters.depth: feasibleSpace.min 5 is greater than max 2",
    ),
    "sweep-unknown-param": (
        BASE + SWEEP.replace("name: depth", "name: dept"),
        "sweep.parameters.dept: not a param of the pipeline (did you mean: depth?)",
    ),
}


def one_error_line(result) -> str:
    assert result.code == 2, (result.code, result.out[:300], result.err[:300])
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err[:500]
    assert "internal error" not in lines[0] and "Traceback" not in result.err
    assert len(lines[0]) < MAX_LINE, lines[0][:500]
    return lines[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_file_is_one_short_error_line(cli, tmp_path: Path, case: str):
    content, fragment = CASES[case]
    path = tmp_path / "onepipe.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    line = one_error_line(cli("config", "show", "--config", str(path), cwd=tmp_path))
    assert fragment in line, line


@pytest.mark.parametrize("case", ["sweep-min-over-max", "sweep-unknown-param"])
def test_run_refuses_a_bad_sweep_space_before_doing_anything(cli, tmp_path: Path, case: str):
    content, fragment = CASES[case]
    (tmp_path / "onepipe.yaml").write_text(content)
    assert fragment in one_error_line(cli("run", cwd=tmp_path))
    assert not (tmp_path / ".onepipe").exists()


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("tracking.uri=ftp://host/x", "unsupported scheme 'ftp'"),
        ("model.name=team/model", "expected a name MLflow"),
        ("serve.seldon.name=Bad_Name", "expected a Kubernetes name"),
        ("sweep.maxTrialCount=1", "sweep.parallelTrialCount: 2 is greater than maxTrialCount 1"),
        ("pipeline.params.depth=deep", "sweep.parameters.depth: the pipeline param is str"),
        ("sweep.x=" + "[" * 5000 + "]" * 5000, "nested more than 50 levels"),
    ],
)
def test_an_override_error_names_the_override(cli, tmp_path: Path, override: str, fragment: str):
    path = tmp_path / "onepipe.yaml"
    path.write_text(BASE + SWEEP)
    assert cli("config", "show", "--config", str(path), cwd=tmp_path).code == 0
    line = one_error_line(
        cli("config", "show", "--config", str(path), "-p", override, cwd=tmp_path)
    )
    assert line.startswith(f"error: -p {override.split('=')[0]}") and fragment in line, line
    assert "onepipe.yaml" not in line


def test_the_pure_python_yaml_loader_keeps_the_same_limits(tmp_path: Path, monkeypatch):
    """Without libyaml, PyYAML composes recursively: the guard stops it first."""
    import onepipe.config.reader as reader

    monkeypatch.setattr(reader, "_LOADER", reader._GuardedSafeLoader)
    for name in ("deep-flow-5000", "duplicate-in-flow", "alias-bomb"):
        content, fragment = CASES[name]
        (tmp_path / "onepipe.yaml").write_text(content)
        with pytest.raises(ConfigError, match=fragment.split(" (")[0].replace(".", r"\.")):
            load_settings(tmp_path / "onepipe.yaml")


def test_anchors_merge_keys_and_supported_uris_still_load(tmp_path: Path):
    path = tmp_path / "onepipe.yaml"
    path.write_text(
        BASE
        + "environments:\n  test: &test {tracking: {uri: 'sqlite:///.onepipe/t.db'}}\n"
        + "  acc: {<<: *test, kubernetes: {namespace: acc}}\n"
    )
    s = load_settings(path, env="acc")
    assert s.tracking.uri == "sqlite:///.onepipe/t.db" and s.kubernetes.namespace == "acc"
    for uri in ("postgresql+psycopg://u@h/db", "http://127.0.0.1:5000", "file:///tmp/x", "mlruns"):
        assert load_settings(path, overrides=[f"tracking.uri={uri}"]).tracking.uri == uri
