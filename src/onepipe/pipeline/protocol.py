"""The ``Runner`` protocol: execute a compiled pipeline, report every step to listeners.

A runner only executes; tracking, progress display and model registration are
listeners and post-processing shared by every runner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from onepipe import plugins
from onepipe.pipeline.context import StepContext
from onepipe.pipeline.graph import PipelineGraph


@dataclass(frozen=True)
class ArtifactRecord:
    name: str
    schema: str  # e.g. "system.Model"
    path: Path
    hash: str  # content hash (file, or directory tree)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepResult:
    name: str
    status: str  # "done" | "cached" | "failed" | "skipped"
    duration: float = 0.0
    cache_key: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # input artifact -> content hash
    outputs: dict[str, ArtifactRecord] = field(default_factory=dict)
    source_run: str | None = None  # for a cache hit: the tracking run that produced the outputs
    error: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)  # from the cache entry of a hit

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in vars(self).items() if k != "outputs"}
        data["outputs"] = {
            n: {"schema": a.schema, "path": str(a.path), "hash": a.hash, "metadata": a.metadata}
            for n, a in self.outputs.items()
        }
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepResult:
        outputs = {
            n: ArtifactRecord(n, o["schema"], Path(o["path"]), o["hash"], o["metadata"])
            for n, o in data.get("outputs", {}).items()
        }
        return cls(**{**data, "outputs": outputs})

    @property
    def metrics(self) -> dict[str, float]:
        """Scalar metrics the step logged in its KFP ``Metrics`` outputs."""
        out: dict[str, float] = {}
        for art in self.outputs.values():
            if art.schema == "system.Metrics":
                out.update(
                    {
                        k: float(v)
                        for k, v in art.metadata.items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool)
                    }
                )
        return out


@dataclass
class RunPlan:
    graph: PipelineGraph
    ir: dict[str, Any]
    arguments: dict[str, Any]  # pipeline inputs, coerced, data refs resolved
    run_dir: Path  # scratch space for this run
    cache_dir: Path
    project_root: Path
    pipeline_module: str
    use_cache: bool = True
    context: StepContext = field(default_factory=StepContext)  # what steps may read beyond params


class RunListener(Protocol):
    def step_started(self, task: str, cache_key: str, outputs: Mapping[str, Path]) -> None:
        """A step starts; ``outputs`` are the paths it is about to write (output name -> path).

        Only a runner that executes the step here knows them (for a listener that
        follows an output as it grows); it is empty for a cache hit or a remote step.
        """
        ...

    def step_finished(self, result: StepResult) -> None: ...


class Runner(Protocol):
    name: str

    @classmethod
    def from_settings(cls, settings) -> Runner:
        """The runner for these settings (hosts, namespaces, credentials come from them)."""
        ...

    def fully_cached(self, plan: RunPlan) -> bool:
        """True when every step would be a cache hit (checked without executing anything)."""
        ...

    def run(self, plan: RunPlan, listener: RunListener) -> list[StepResult]:
        """Run every task in dependency order; stop at the first failure (later tasks 'skipped')."""
        ...


class NullListener:
    def step_started(self, task: str, cache_key: str, outputs: Mapping[str, Path]) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        pass


def load_runner(name: str) -> type[Runner]:
    """The runner registered as ``name`` (``backends.runner``); ConfigError naming the choices."""
    return cast("type[Runner]", plugins.load_backend("runner", name))
