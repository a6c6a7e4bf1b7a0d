"""Which backends a contract suite runs against: every one the registry declares.

Each suite (tests/contracts/test_*_contract.py) states one protocol's behaviour once
and runs it against every backend ``onepipe.plugins`` lists for its stage. How a
backend is stood up for the suite (real when it runs on this machine, an emulator
when it needs a cluster) is its *stand-in*, a small function in the suite's
``*_standins.py`` next to it. A registered backend with no stand-in fails the suite,
saying what to add: a new backend cannot skip its contract.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class StandIn:
    """How to stand one backend up for a suite. ``build`` gets the pytest request (for
    the session fixtures it needs) and returns what the suite's docstring asks for."""

    build: Callable[..., Any]
    slow: bool = False  # real servers or subprocesses: left out of `make test-fast`


def registered(stage: str) -> list[str]:
    """The backend names the registry declares for ``stage``, in its order."""
    from onepipe import plugins

    return plugins.names(stage)


def sql_engines() -> list[str]:
    """The SQL layer's engines (``onepipe.sql.Database`` subclasses): the prediction store
    is not a plug-in but one store on any of them, picked by the ``monitor.store_url``
    scheme, so its suite runs on each engine."""
    import onepipe.sql  # noqa: F401 - imports every engine
    from onepipe.sql.database import Database

    return [engine.__name__ for engine in Database.__subclasses__()]


def backend_params(names: list[str], standins: Mapping[str, StandIn]) -> list:
    """One pytest param per backend (its name is the test id); a backend without a
    stand-in is still a param, so its tests fail instead of vanishing."""
    params = []
    for name in names:
        standin = standins.get(name)
        marks = [pytest.mark.slow] if standin is not None and standin.slow else []
        params.append(pytest.param(name, id=name, marks=marks))
    return params


def standin_for(name: str, standins: Mapping[str, StandIn], where: str) -> StandIn:
    """The stand-in of backend ``name``, or a failure naming the file and entry to add."""
    try:
        return standins[name]
    except KeyError:
        pytest.fail(
            f"backend {name!r} has no contract stand-in: add STANDINS[{name!r}] = "
            f"StandIn(...) in {where} (its docstring says what the function returns)",
            pytrace=False,
        )


def check_coverage(names: list[str], standins: Mapping[str, StandIn], where: str) -> None:
    """Every backend has a stand-in, and every stand-in a backend."""
    missing = [n for n in names if n not in standins]
    stale = [n for n in standins if n not in names]
    assert not missing, f"backends without a contract stand-in: {missing}: add them to {where}"
    assert not stale, f"{where}: stand-ins for backends nothing declares: {stale}"
