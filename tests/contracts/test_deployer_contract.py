"""The ``Deployer`` contract, run against every serve backend the registry declares.

On a real MLflow registry holding versions 1 and 2 of ``credit-risk`` (and, added
here, a version whose model folder is missing and one whose model file is garbage):
a champion-only state is applied and ``live()`` reports it; a canary split too, with
its weights; applying the same state again changes nothing; a state naming a model
that does not load raises ``DeployError`` and the previous routing keeps serving.
Stand-ins: deployer_standins.py (``mlserver``: the real gateway and MLServer;
``seldon``: the API emulator with an operator stand-in that loads the models).

What the suite does not cover is each backend's own: traffic actually answered,
shadow and sticky routing (tests/serve/test_gateway.py), rendered objects against the
CRD, the restored spec (tests/serve/test_seldon.py), changes killed half-way
(tests/serve/test_change_recovery.py).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from contract_registry import backend_params, check_coverage, registered, standin_for
from deployer_standins import STANDINS
from onepipe_testkit import free_port, private_copy

from onepipe.config import load_settings
from onepipe.history import DeploymentState
from onepipe.serve.errors import DeployError
from onepipe.serve.protocol import Deployer, load_deployer
from onepipe.tracking.registry import resolve_model

STAGE = "serve"
WHERE = "tests/contracts/deployer_standins.py"
MODEL = "credit-risk"


@dataclass
class Served:
    name: str
    settings: Any
    deployer: Deployer
    faulty: dict[str, str]  # "missing" | "broken" -> a registered version that does not load

    def apply(self, state: DeploymentState) -> str:
        """What a deployment change hands the deployer: the state and its models' refs."""
        refs = {v: resolve_model(self.settings, f"{state.model}/{v}") for v in state.versions}
        return self.deployer.apply(state, refs)


def _register_faulty(settings, folder) -> dict[str, str]:
    """Two versions of the model that cannot serve: one whose folder does not exist, one
    whose model file is garbage (copied from version 2, so its MLmodel is right)."""
    from onepipe.tracking.client import client_for

    client = client_for(settings)
    v2 = resolve_model(settings, f"{MODEL}/2")
    broken = folder / "broken-model"
    shutil.copytree(urlsplit(v2.source).path, broken)
    for payload in broken.glob("model.*"):
        payload.write_bytes(b"not a model")
    sources = {"missing": folder / "no-such-model", "broken": broken}
    return {
        fault: str(
            client.create_model_version(MODEL, source=path.as_uri(), run_id=v2.run_id).version
        )
        for fault, path in sources.items()
    }


@pytest.fixture(scope="module", params=backend_params(registered(STAGE), STANDINS))
def served(request, template, tmp_path_factory) -> Served:
    name = request.param
    standin = standin_for(name, STANDINS, WHERE)
    project = private_copy(template, tmp_path_factory.mktemp(f"deploy-{name}"), free_port())
    overrides = standin.build(request, project)
    settings = load_settings(
        project / "onepipe.yaml",
        env="dev",
        user="tester",
        overrides=[f"backends.{STAGE}={name}", *overrides],
    )
    faulty = _register_faulty(settings, project)
    return Served(name, settings, load_deployer(name).from_settings(settings), faulty)


def test_every_registered_deployer_has_a_standin():
    check_coverage(registered(STAGE), STANDINS, WHERE)


def test_it_is_a_deployer_filed_under_its_registry_name(served):
    assert isinstance(served.deployer, Deployer)
    assert served.deployer.backend == served.name


def test_a_champion_only_state_is_live_as_applied(served):
    state = DeploymentState(MODEL, "1")
    said = served.apply(state)
    assert said.strip() and "\n" not in said
    assert served.deployer.live() == state
    assert served.deployer.live().weights == {"1": 100}


def test_a_canary_split_is_live_with_its_weights(served):
    canary = DeploymentState(MODEL, "1", "2", 25)
    served.apply(canary)
    assert served.deployer.live() == canary
    assert served.deployer.live().weights == {"1": 75, "2": 25}
    promoted = canary.promoted()  # the challenger alone: the canary's model goes away
    served.apply(promoted)
    assert served.deployer.live() == promoted and promoted.weights == {"2": 100}


def test_applying_the_live_state_again_changes_nothing(served):
    state = DeploymentState(MODEL, "2", "1", 10)
    served.apply(state)
    again = served.apply(state)
    assert again.strip() and "\n" not in again
    assert served.deployer.live() == state


@pytest.mark.parametrize("fault", ["missing", "broken"])
def test_a_model_that_does_not_load_is_refused_and_the_previous_routing_keeps_serving(
    served, fault
):
    before = DeploymentState(MODEL, "1", "2", 10)
    served.apply(before)
    bad = DeploymentState(MODEL, "1", served.faulty[fault], 50)
    with pytest.raises(DeployError) as refused:
        served.apply(bad)
    assert str(refused.value).strip()
    assert served.deployer.live() == before
