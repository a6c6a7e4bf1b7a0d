"""Declared backends, one per stage, loaded lazily by name.

A new backend is one module behind an existing protocol plus one line here;
callers ask ``load_backend(stage, name)`` and never branch on the name.
"""

from __future__ import annotations

import importlib
from typing import Any

from onepipe.errors import ConfigError

BACKENDS: dict[str, dict[str, str]] = {
    "data": {
        "local": "onepipe.data.local:LocalDataStore",
        "pachyderm": "onepipe.data.pachyderm:PachydermDataStore",
    },
    "runner": {
        "inprocess": "onepipe.pipeline.runners.inprocess:InProcessRunner",
        "kfp-local": "onepipe.pipeline.runners.kfp_local:KfpLocalRunner",
        "kfp": "onepipe.pipeline.runners.kfp:KfpRunner",
    },
    "sweep": {
        "optuna": "onepipe.sweep.optuna_sweeper:OptunaSweeper",
        "katib": "onepipe.sweep.katib.sweeper:KatibSweeper",
    },
    "serve": {
        "mlserver": "onepipe.serve.local:LocalDeployer",
        "seldon": "onepipe.serve.seldon.deployer:SeldonDeployer",
    },
    "monitor": {
        "sqlite": "onepipe.monitor.sqlite_store:SqlitePredictionStore",
        "postgres": "onepipe.monitor.postgres_store:PostgresPredictionStore",
    },
}

# Named in the config schema, built in a later stage of the roadmap.
PLANNED: set[tuple[str, str]] = set()


def load_backend(stage: str, name: str) -> Any:
    """The class implementing ``stage``'s protocol for backend ``name``."""
    table = BACKENDS.get(stage)
    if table is None:
        raise ConfigError(
            f"backends.{stage}: unknown stage (expected one of: {', '.join(BACKENDS)})"
        )
    target = table.get(name)
    if target is None:
        if (stage, name) in PLANNED:
            raise ConfigError(
                f"backends.{stage}: {name!r} is a cluster backend this build does not ship yet "
                f"(available here: {', '.join(table)})"
            )
        raise ConfigError(
            f"backends.{stage}: unknown backend {name!r} (expected one of: {', '.join(table)})"
        )
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
