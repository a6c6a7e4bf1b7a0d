"""How each ``Deployer`` backend is stood up for test_deployer_contract.py.

A stand-in is ``build(request, project) -> list[str]``. ``project`` is this backend's
private copy of the session's served template (tests/conftest.py: a real MLflow
registry holding versions 1 and 2 of ``credit-risk``; the suite adds a missing and a
broken version). The stand-in starts what the backend talks to and returns the config
overrides (env ``dev``) that point the backend at it; the suite adds
``backends.serve=<name>`` and builds the deployer with ``load_deployer(name).from_settings``.
It runs once per backend and module (``request`` is module-scoped: session fixtures
and ``request.addfinalizer`` only).

A cluster backend works against the session's Kubernetes API emulator (``kube``),
which stores objects and nothing more: its stand-in plays the operator with
``kube.operate(group, plural, reconcile)``, reporting ready when every model the object
names loads (``load_error``) and failed, naming the model, when one does not.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from contract_registry import StandIn


@cache
def load_error(uri: str) -> str | None:
    """Why the model at ``uri`` does not load, as MLServer's MLflow runtime loads it in a
    pod (``mlflow.pyfunc.load_model``); None when it loads."""
    import mlflow.pyfunc

    try:
        mlflow.pyfunc.load_model(uri)
    except Exception as exc:  # noqa: BLE001 - any failure is the pod's failure
        return f"{uri}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    return None


def _use_kubeconfig(request, kube, folder: Path) -> None:
    """The ``kubernetes`` client finds the emulator as it finds a cluster: by $KUBECONFIG
    (which it reads once, when imported: its default location is set here too)."""
    from kubernetes.config import kube_config

    path = str(kube.kubeconfig(folder / "kubeconfig"))
    patch = pytest.MonkeyPatch()
    patch.setenv("KUBECONFIG", path)
    patch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", path)
    request.addfinalizer(patch.undo)


def mlserver(request, project: Path) -> list[str]:
    """The real gateway and MLServer of ``onepipe serve``, on a thread of this process."""
    from onepipe.app.background import BackgroundGateway
    from onepipe.config import load_settings

    settings = load_settings(project / "onepipe.yaml", env="dev", user="tester")
    gateway = BackgroundGateway(settings).start()
    request.addfinalizer(gateway.stop)
    return []


def _seldon_status(obj: dict) -> dict:
    """What Seldon Core's operator reports: Available once every predictor's model loads."""
    for predictor in obj["spec"]["predictors"]:
        error = load_error(predictor["graph"]["modelUri"])
        if error:
            return {"state": "Failed", "description": f"predictor {predictor['name']}: {error}"}
    return {"state": "Available"}


def seldon(request, project: Path) -> list[str]:
    from onepipe.serve.seldon.render import GROUP, PLURAL

    kube = request.getfixturevalue("kube")
    kube.operate(GROUP, PLURAL, _seldon_status)
    _use_kubeconfig(request, kube, project)
    return []


@cache
def _kserve_operator():
    """KServe's controller played on the emulator (tests/kserve_operator.py, which
    tests/serve/test_kserve.py uses too): one per session, as the emulator is."""
    from kserve_operator import KServeOperator

    return KServeOperator(load_error)


def kserve(request, project: Path) -> list[str]:
    from onepipe.serve.kserve.names import GROUP, PLURAL

    kube = request.getfixturevalue("kube")
    kube.operate(GROUP, PLURAL, _kserve_operator())
    _use_kubeconfig(request, kube, project)
    return []


STANDINS = {
    "mlserver": StandIn(mlserver, slow=True),
    "seldon": StandIn(seldon, slow=True),
    "kserve": StandIn(kserve, slow=True),
}
