"""The registry is the one source of truth: a backend registered by one line (a test-only
one here, with nothing else edited) is a config choice with its own section, a ``--target``,
a name in the errors, a row of the docs table and, on a cluster, the environment's manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from onepipe import plugins
from onepipe.config import load_settings
from onepipe.config.base import BackendSection, ConfigProblem
from onepipe.data.protocol import load_data_store
from onepipe.errors import ConfigError, UsageError
from onepipe.k8s.helm import effective_values
from onepipe.k8s.manifests import MANAGE, BackendManifests, Manifest, environment_manifests, rule
from onepipe.pipeline.protocol import load_runner
from onepipe.serve.protocol import load_deployer
from onepipe.sweep.protocol import load_sweeper

REPO = Path(__file__).resolve().parents[2]
LOADERS = {
    "data": load_data_store,
    "runner": load_runner,
    "sweep": load_sweeper,
    "serve": load_deployer,
}


# ---- a backend that exists only in this module -----------------------------------------------
class FakeConfig(BackendSection):
    replicas: int = Field(1, ge=0)

    def check_chosen(self, cfg: Any) -> None:
        if self.replicas == 0:
            raise ConfigProblem("serve.fake.replicas: 0 serves nothing (expected at least 1)")


class FakeDeployer:
    backend = "fake"

    def __init__(self, settings) -> None:
        self.settings = settings

    @classmethod
    def from_settings(cls, settings) -> FakeDeployer:
        return cls(settings)

    def apply(self, state, models) -> str:
        return "nothing applied"

    def live(self):
        return None


def _fake_manifests(settings) -> list[Manifest]:
    obj = {"apiVersion": "fake.example/v1", "kind": "Fake", "metadata": {"name": "f"}}
    return [Manifest("fake.yaml", [obj])]


MANIFESTS = BackendManifests(
    render=_fake_manifests,
    kinds={"Fake": "fakes"},
    rules=(rule("fake.example.com", ["fakes"], MANAGE),),
)

FAKE = plugins.Backend(
    "serve",
    "fake",
    f"{__name__}:FakeDeployer",
    "cluster",
    "a deployer that exists only in a test",
    section="serve.fake",
    config=f"{__name__}:FakeConfig",
    manifests=f"{__name__}:MANIFESTS",
)


@pytest.fixture
def with_fake(monkeypatch):
    monkeypatch.setattr(plugins, "BACKENDS", (*plugins.BACKENDS, FAKE))


def _load(*overrides: str, env: str = "dev"):
    return load_settings(REPO / "onepipe.yaml", env=env, overrides=list(overrides))


# ---- the tests -------------------------------------------------------------------------------
def test_a_registered_backend_is_a_config_choice_with_its_own_section(with_fake):
    settings = _load("backends.serve=fake", "serve.fake.replicas=3")
    assert settings.backends.serve == "fake" and settings.serve.fake.replicas == 3
    assert _load().serve.fake.replicas == 1  # the section's defaults, where no file names it
    assert settings.show()["serve"]["fake"] == {"replicas": 3}
    with pytest.raises(ConfigError) as wrong:
        _load("backends.serve=fakee")
    *others, last = plugins.names("serve")  # the registry's lines, the fake one last
    assert others[:2] == ["mlserver", "seldon"] and last == "fake"
    choices = ", ".join(repr(n) for n in others) + f" or {last!r}"
    assert str(wrong.value) == f"-p backends.serve: expected one of {choices}, found 'fakee'"
    with pytest.raises(ConfigError, match=r"serve\.fake\.replicaz: unknown key"):
        _load("serve.fake.replicaz=3")
    # Its own checks hold once an environment chooses it, and only then.
    assert _load("serve.fake.replicas=0").serve.fake.replicas == 0
    with pytest.raises(ConfigError, match=r"serve\.fake\.replicas: 0 serves nothing"):
        _load("backends.serve=fake", "serve.fake.replicas=0")


def test_a_registered_backend_is_a_target(with_fake):
    from onepipe.serve.deployments import deployer_for

    targets = plugins.target_choices("serve")
    assert targets[:4] == ["local", "cluster", "mlserver", "seldon"] and targets[-1] == "fake"
    chose_fake, chose_local = _load("backends.serve=fake"), _load()
    assert isinstance(deployer_for(chose_local, "fake"), FakeDeployer)
    # cluster: the environment's own cluster backend, else the stage's first one (seldon)
    assert isinstance(deployer_for(chose_fake, "cluster"), FakeDeployer)
    assert deployer_for(chose_local, "cluster").backend == "seldon"
    assert deployer_for(chose_fake, "local").backend == "mlserver"
    with pytest.raises(UsageError) as wrong:
        deployer_for(chose_local, "nosuch")
    assert str(wrong.value) == f"--target nosuch: unknown (expected one of: {', '.join(targets)})"
    assert "fake" in plugins.target_help("serve")


def test_the_cli_names_a_registered_target_in_its_one_line_error(with_fake, cli):
    res = cli("deploy", "--target", "nosuch", cwd=REPO)
    assert res.code == 2
    serve = ", ".join(plugins.target_choices("serve"))
    assert "fake" in serve
    assert res.err.splitlines() == [f"error: --target nosuch: unknown (expected one of: {serve})"]
    res = cli("sweep", "status", "--target", "nosuch", cwd=REPO)
    assert res.code == 2
    assert res.err.splitlines() == [
        "error: --target nosuch: unknown (expected one of: local, cluster, optuna, katib)"
    ]


def test_an_environment_renders_its_own_cluster_backend(with_fake):
    def files(settings) -> list[str]:
        return [m.file for m in environment_manifests(settings)]

    assert files(_load()) == ["experiment.yaml", "seldondeployment.yaml", "pachyderm-pipeline.yaml"]
    assert files(_load("backends.serve=fake")) == [
        "experiment.yaml",
        "pachyderm-pipeline.yaml",
        "fake.yaml",
    ]
    assert "| serve | `fake` | cluster | a deployer that exists only in a test |" in plugins.table()


def test_the_chart_role_grants_what_the_environments_backends_declare(with_fake):
    def granted(settings) -> set[tuple[str, str]]:
        rules = effective_values(settings)["rbac"]["backendRules"]  # checked by values.schema
        return {(g, r) for x in rules for g in x["apiGroups"] for r in x["resources"]}

    seldon = ("machinelearning.seldon.io", "seldondeployments")
    fake = ("fake.example.com", "fakes")
    assert seldon in granted(_load()) and fake not in granted(_load())
    chose_fake = granted(_load("backends.serve=fake"))
    assert fake in chose_fake and seldon not in chose_fake
    assert ("kubeflow.org", "experiments") in chose_fake  # the sweep stage's are kept


def test_typed_loaders_give_each_registered_class_and_name_the_choices():
    for stage, loader in LOADERS.items():
        for name in plugins.names(stage):
            cls = loader(name)
            assert cls is plugins.load(plugins.backend(stage, name).class_path)
            assert callable(getattr(cls, "from_settings", None)), (stage, name)
        with pytest.raises(ConfigError) as wrong:
            loader("nope")
        assert str(wrong.value) == (
            f"backends.{stage}: unknown backend 'nope' (expected one of: "
            f"{', '.join(plugins.names(stage))})"
        )


def test_each_stage_defaults_to_its_first_local_backend():
    settings = load_settings(REPO / "onepipe.yaml", env="dev")
    base = {"data": "local", "runner": "inprocess", "sweep": "optuna", "serve": "mlserver"}
    assert {stage: plugins.default(stage) for stage in plugins.STAGES} == base
    assert {stage: plugins.default(stage, "cluster") for stage in plugins.STAGES} == {
        "data": "pachyderm",
        "runner": "kfp",
        "sweep": "katib",
        "serve": "seldon",
    }
    assert settings.backends.sweep == "optuna"


def test_the_docs_page_holds_the_registry_table():
    page = (REPO / "docs" / "backends.md").read_text()
    assert plugins.table() in page, "docs/backends.md: paste plugins.table() (see the page)"
