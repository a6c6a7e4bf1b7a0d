"""The registry: every backend, one line each, and what is derived from those lines.

A line says what the rest of onepipe needs to know about a backend without importing
it: its stage and name, the class implementing the stage's protocol, whether it runs
here or on a cluster, its section of ``onepipe.yaml`` and the model checking it, and
its optional hooks (the commands it adds, what it renders for ``manifests/`` and
``onepipe up``, the events it feeds the prediction log). Paths are ``module:attribute``
strings, imported only when something asks for them.

Derived from the lines, never written elsewhere: the choices and defaults of
``backends.<stage>`` and their errors, what ``--target`` accepts, the schema's backend
sections, an environment's cluster manifests, the event routes of ``onepipe monitor
serve``, the commands backends add, and the table in ``docs/backends.md``.

The order of lines means something: a stage's first local line is its default, its
first cluster line is what ``--target cluster`` means when the environment chose a
local backend, and cluster manifests are written in line order. Adding a backend is
one line here and a folder of its own: see ``docs/backends.md``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

from onepipe.errors import ConfigError, UsageError

Runs = Literal["local", "cluster"]


@dataclass(frozen=True)
class Backend:
    stage: str  # one of STAGES
    name: str  # what backends.<stage> and --target say; history rows are filed under it
    class_path: str  # "module:Class" implementing the stage's protocol (PROTOCOLS)
    runs: Runs  # "local": on this machine; "cluster": on Kubernetes
    about: str  # one line for --help and docs/backends.md
    section: str | None = None  # its key in onepipe.yaml: "kfp" (top level) or "serve.seldon"
    config: str | None = None  # "module:Model": the section's model (a config.base.BackendSection)
    commands: str | None = None  # "module:function": function(cli) adds its CLI commands
    manifests: str | None = None  # "module:object": a k8s.manifests.BackendManifests
    intake: str | None = None  # "module:function": function(settings) -> monitor.intake.EventIntake


# The stages an environment picks a backend for (``backends.<stage>``), and the protocol
# each backend of the stage implements. (The prediction store is one store on the SQL
# layer, its engine picked by ``monitor.store_url``: not a plug-in.)
PROTOCOLS = {
    "data": "onepipe.data.protocol:DataStore",
    "runner": "onepipe.pipeline.protocol:Runner",
    "sweep": "onepipe.sweep.protocol:Sweeper",
    "serve": "onepipe.serve.protocol:Deployer",
}
STAGES = tuple(PROTOCOLS)

BACKENDS: tuple[Backend, ...] = (
    # -- on this machine ------------------------------------------------------------------
    Backend("data", "local", "onepipe.data.local:LocalDataStore", "local",
            "a content-addressed folder with Pachyderm's repos, branches and commits"),
    Backend("runner", "inprocess", "onepipe.pipeline.runners.inprocess:InProcessRunner", "local",
            "every step a function call in this process, each one cached"),
    Backend("runner", "kfp-local", "onepipe.pipeline.runners.kfp_local:KfpLocalRunner", "local",
            "kfp.local's subprocess runner: a fresh process per step"),
    Backend("sweep", "optuna", "onepipe.sweep.optuna_sweeper:OptunaSweeper", "local",
            "Optuna, trials as local subprocesses"),
    Backend("serve", "mlserver", "onepipe.serve.local:LocalDeployer", "local",
            "the gateway in front of MLServer (onepipe serve)"),
    # -- on a cluster ---------------------------------------------------------------------
    Backend("runner", "kfp", "onepipe.pipeline.runners.kfp.runner:KfpRunner", "cluster",
            "Kubeflow Pipelines (onepipe submit, onepipe runs)",
            section="kfp", config="onepipe.pipeline.runners.kfp.config:KfpConfig",
            commands="onepipe.pipeline.runners.kfp.commands:register"),
    Backend("sweep", "katib", "onepipe.sweep.katib.sweeper:KatibSweeper", "cluster",
            "a Katib Experiment (onepipe render sweep)",
            commands="onepipe.sweep.katib.commands:register",
            manifests="onepipe.sweep.katib.manifests:MANIFESTS"),
    Backend("serve", "seldon", "onepipe.serve.seldon.deployer:SeldonDeployer", "cluster",
            "a SeldonDeployment (Seldon Core v1, V2 protocol)",
            section="serve.seldon", config="onepipe.serve.seldon.config:SeldonConfig",
            manifests="onepipe.serve.seldon.manifests:MANIFESTS",
            intake="onepipe.serve.seldon.intake:intake"),
    Backend("serve", "kserve", "onepipe.serve.kserve.deployer:KServeDeployer", "cluster",
            "a KServe InferenceService (MLServer runtime, V2 protocol)",
            section="serve.kserve", config="onepipe.serve.kserve.config:KServeConfig",
            manifests="onepipe.serve.kserve.manifests:MANIFESTS",
            intake="onepipe.serve.kserve.intake:intake"),
    Backend("data", "pachyderm", "onepipe.data.pachyderm.store:PachydermDataStore", "cluster",
            "Pachyderm's PFS (pachyderm-sdk)",
            section="data.pachyderm", config="onepipe.data.pachyderm.config:PachydermConfig",
            manifests="onepipe.data.pachyderm.manifests:MANIFESTS"),
)  # fmt: skip


# ---- reading the lines ------------------------------------------------------------------


def _stage(stage: str) -> tuple[Backend, ...]:
    if stage not in PROTOCOLS:
        raise ConfigError(f"backends.{stage}: unknown stage (expected one of: {', '.join(STAGES)})")
    return tuple(line for line in BACKENDS if line.stage == stage)


def lines(stage: str | None = None) -> tuple[Backend, ...]:
    """Every line, or ``stage``'s, in registry order."""
    return BACKENDS if stage is None else _stage(stage)


def names(stage: str) -> list[str]:
    """``stage``'s backend names, in registry order (its config choices)."""
    return [line.name for line in _stage(stage)]


def backend(stage: str, name: str) -> Backend:
    """``stage``'s line named ``name``; ConfigError naming the choices otherwise."""
    for line in _stage(stage):
        if line.name == name:
            return line
    raise ConfigError(
        f"backends.{stage}: unknown backend {name!r} (expected one of: {', '.join(names(stage))})"
    )


def default(stage: str, runs: Runs = "local") -> str:
    """The name of ``stage``'s first backend that runs ``runs``."""
    for line in _stage(stage):
        if line.runs == runs:
            return line.name
    raise ConfigError(f"backends.{stage}: no backend runs {runs} (registry: onepipe/plugins.py)")


def target_choices(stage: str) -> list[str]:
    """What ``--target`` accepts for ``stage``: local, cluster, or a backend's name."""
    return ["local", "cluster", *names(stage)]


def target_backend(stage: str, target: str, chosen: str) -> str:
    """The backend ``--target target`` means when the environment chose ``chosen``.

    ``local``/``cluster``: the environment's own backend when it runs there, else the
    stage's first backend that does; a backend's name: that backend.
    """
    if target in ("local", "cluster"):
        return chosen if backend(stage, chosen).runs == target else default(stage, target)
    if target in names(stage):
        return target
    raise UsageError(
        f"--target {target}: unknown (expected one of: {', '.join(target_choices(stage))})"
    )


def target_help(stage: str) -> str:
    """The ``--target`` help text, from the lines."""
    local, cluster = default(stage, "local"), default(stage, "cluster")
    return (
        f"local, cluster or a backend ({', '.join(names(stage))}); local/cluster: the "
        f"environment's backend when it runs there, else {local}/{cluster}; default "
        f"backends.{stage}."
    )


def sections() -> dict[str, Backend]:
    """Backend sections of onepipe.yaml (``"serve.seldon"`` -> its line), in registry order."""
    return {line.section: line for line in BACKENDS if line.section and line.config}


# ---- loading what a line names ----------------------------------------------------------


def load(path: str) -> Any:
    """The attribute a ``module:attribute`` path names (a class, a model, a hook)."""
    module, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        # A broken registry line is a bug of ours, but say which line.
        raise ImportError(f"onepipe.plugins: cannot load {path!r} ({exc})") from exc


def load_backend(stage: str, name: str) -> type:
    """The class implementing ``stage``'s protocol for backend ``name`` (untyped).

    Stages type it: ``data.protocol.load_data_store``, ``pipeline.protocol.load_runner``,
    ``sweep.protocol.load_sweeper``, ``serve.protocol.load_deployer``.
    """
    return load(backend(stage, name).class_path)


def hooks(
    kind: Literal["commands", "manifests", "intake"], stage: str | None = None
) -> list[tuple[Backend, Any]]:
    """(line, loaded hook) of every line that has hook ``kind``, in registry order."""
    return [(line, load(getattr(line, kind))) for line in lines(stage) if getattr(line, kind)]


def table() -> str:
    """The Markdown table of ``docs/backends.md`` (a test checks the page holds it)."""
    rows = [
        "| stage | backend | runs | what | `onepipe.yaml` section | hooks |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for stage in STAGES:
        for line in _stage(stage):
            hooked = [k for k in ("commands", "manifests", "intake") if getattr(line, k)]
            section = f"`{line.section}`" if line.section else "-"
            rows.append(
                f"| {stage} | `{line.name}` | {line.runs} | {line.about} | {section} | "
                f"{', '.join(hooked) or '-'} |"
            )
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # `python -m onepipe.plugins`: the table for docs/backends.md
    print(table(), end="")
