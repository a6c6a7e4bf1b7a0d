"""The notebook API: the same objects and code paths the CLI uses.

from onepipe import Project
p = Project()                       # finds onepipe.yaml upward
result = p.run(params={"max_depth": 4})
df = p.data("loans@master").to_pandas()
model = p.load_model("credit-risk@champion")
train_df, test_df = p.step("featurize")(df).values()
"""

from __future__ import annotations

import getpass
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onepipe.config import Settings, load_settings
from onepipe.data import open_store, read_table
from onepipe.errors import UsageError
from onepipe.monitor.store import open_store as open_predictions
from onepipe.pipeline.compile import compile_ir
from onepipe.pipeline.context import StepContext, use
from onepipe.pipeline.execute import run_pipeline
from onepipe.pipeline.graph import PipelineGraph, coerce_param
from onepipe.pipeline.outbox import catch_up
from onepipe.pipeline.runners.inprocess import load_component_functions
from onepipe.tracking.lineage import lineage as get_lineage
from onepipe.tracking.registry import load_pyfunc


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "anonymous"


@dataclass(frozen=True)
class DataRef:
    """A resolved data commit; ``to_pandas()`` reads its tables."""

    store: Any
    ref: str
    commit: Any

    def to_pandas(self):
        return read_table(self.store, self.commit.ref)

    @property
    def files(self) -> list[str]:
        return [f.path for f in self.commit.files]

    def __repr__(self) -> str:
        return f"DataRef({self.commit.repo}@{self.commit.short}, {len(self.commit.files)} files)"


class StepOutputs(dict):
    """A step's outputs by name, loaded (DataFrame, dict of metrics, model); ``.paths`` keeps the files."""

    def __init__(self, values: dict[str, Any], paths: dict[str, Path]) -> None:
        super().__init__(values)
        self.paths = paths


class Project:
    def __init__(
        self,
        path: str | Path | None = None,
        *,
        env: str | None = None,
        variant: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        start = Path(path) if path else None
        config = start if start and start.is_file() else None
        self._base = dict(env=env, variant=variant, params=params or {})
        self.settings: Settings = self._resolve(
            config=config, start=start if not config else None, **self._base
        )

    def _resolve(self, *, config=None, start=None, env=None, variant=None, params=None) -> Settings:
        overrides = [f"{k}={v}" for k, v in (params or {}).items()]
        return load_settings(
            config or (getattr(self, "settings", None) and self.settings.config_file),
            env=env,
            variant=variant,
            overrides=overrides,
            user=_user(),
            start=start,
            environ=os.environ,  # an entry point like the CLI: ${NAME} references in URL keys
        )

    def __repr__(self) -> str:
        s = self.settings
        return f"Project({s.project!r}, env={s.env!r}, variant={s.variant!r}, root={str(s.root)!r})"

    def configure(
        self,
        *,
        env: str | None = None,
        variant: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> Settings:
        """Settings for another env/variant/params, resolved exactly as the CLI would."""
        return self._resolve(
            env=env or self._base["env"],
            variant=variant or self._base["variant"],
            params={**self._base["params"], **(params or {})},
        )

    # ---- the pipeline ------------------------------------------------------
    def run(
        self,
        *,
        env: str | None = None,
        variant: str | None = None,
        params: dict[str, Any] | None = None,
        use_cache: bool = True,
        register: bool = True,
    ):
        settings = self.configure(env=env, variant=variant, params=params)
        catch_up(settings)  # each method is a command: its tracking store is brought current first
        return run_pipeline(
            settings,
            use_cache=use_cache,
            register=register,
            command=f"Project.run(env={settings.env!r}, variant={settings.variant!r}, params={params!r})",
        )

    def step(self, name: str, **params: Any) -> Callable[..., StepOutputs]:
        """A pipeline step as a plain function: artifact inputs positionally, params from config."""
        settings = self.configure(params=params) if params else self.settings
        graph = PipelineGraph.from_ir(compile_ir(settings))
        try:
            task = graph.task(name)
        except KeyError:
            raise UsageError(
                f"no step {name!r} (steps: {', '.join(t.name for t in graph.tasks)})"
            ) from None
        func = load_component_functions(settings.pipeline.module, settings.root)[task.function]
        args = {**settings.params, "data_store": settings.data_store_uri}

        def call(*inputs: Any, **overrides: Any) -> StepOutputs:
            names = list(task.artifacts)
            if len(inputs) != len(names):
                raise UsageError(
                    f"step {name!r} takes {len(names)} input(s) ({', '.join(names) or 'none'}), got {len(inputs)}"
                )
            kwargs = {
                p: coerce_param(
                    overrides.get(p, args.get(src[1]) if src[0] == "pipeline" else src[1]),
                    task.param_types.get(p, ""),
                    f"{name}: {p}",
                )
                for p, src in task.params.items()
            }
            with use(StepContext.from_settings(settings)):
                return _call_step(func, task, dict(zip(names, inputs, strict=True)), kwargs)

        call.__name__ = name
        call.__doc__ = func.__doc__
        return call

    # ---- data and models -----------------------------------------------------
    def put(self, repo: str, files: list[str | Path], message: str = "") -> DataRef:
        """Commit files to a data repo (created if new), as ``onepipe data put`` does."""
        store = open_store(self.settings)
        commit = store.put(repo, [Path(f) for f in files], message=message)
        return DataRef(store, commit.ref, commit)

    def data(self, ref: str) -> DataRef:
        store = open_store(self.settings)
        return DataRef(store, ref, store.resolve(ref))

    def load_model(self, spec: str):
        """The registered model as an MLflow pyfunc, e.g. ``"credit-risk@champion"`` or ``"credit-risk/3"``."""
        catch_up(self.settings)
        return load_pyfunc(self.settings, spec)[1]

    def lineage(self, spec: str) -> dict[str, Any]:
        catch_up(self.settings)
        return get_lineage(self.settings, spec)

    # ---- monitoring ------------------------------------------------------------
    def predictions(self, model: str | None = None, since: Any = None, **kw: Any):
        """Logged predictions joined with feedback, one row per scored row, as a DataFrame.

        ``model``: a version (``"3"``), ``"credit-risk/3"`` or None (all); ``since``: ``"1h"``,
        a datetime or epoch seconds.
        """
        # lazy: pandas and numpy load here, not on `from onepipe import Project`
        from onepipe.monitor.notebook import predictions

        store = open_predictions(self.settings)
        try:
            return predictions(self.settings, store, model=model, since=since, **kw)
        finally:
            store.close()

    def replay(self, request_ids: list[str] | str, model: str):
        """Score logged requests again with any registered version, e.g. ``model="credit-risk/3"``."""
        # lazy: pandas and numpy load here, not on `from onepipe import Project`
        from onepipe.monitor.notebook import replay

        catch_up(self.settings)
        store = open_predictions(self.settings)
        try:
            return replay(self.settings, store, request_ids, model=model)
        finally:
            store.close()


def _call_step(func, task, inputs: dict[str, Any], params: dict[str, Any]) -> StepOutputs:
    # lazy: pandas (~0.3 s) and KFP (~0.4 s) load when a step is called, not on
    # `from onepipe import Project`
    import pandas as pd
    from kfp.dsl.types.artifact_types import _SCHEMA_TITLE_TO_TYPE, Artifact

    work = Path(tempfile.mkdtemp(prefix=f"onepipe-{task.name}-"))
    kwargs: dict[str, Any] = dict(params)
    for name, value in inputs.items():
        if isinstance(value, pd.DataFrame):
            path = work / f"in-{name}.parquet"
            value.to_parquet(path, index=False)
        elif isinstance(value, StepOutputs) and len(value.paths) == 1:
            path = next(iter(value.paths.values()))
        else:
            path = Path(getattr(value, "path", value))
        schema = "system.Dataset"
        kwargs[name] = _SCHEMA_TITLE_TO_TYPE.get(schema, Artifact)(name=name, uri=str(path))
    outs = {
        n: _SCHEMA_TITLE_TO_TYPE.get(s, Artifact)(name=n, uri=str(work / "out" / n), metadata={})
        for n, s in task.outputs.items()
    }
    (work / "out").mkdir()
    func(**kwargs, **outs)
    values: dict[str, Any] = {}
    for n, art in outs.items():
        schema, path = task.outputs[n], Path(art.path)
        if schema == "system.Dataset" and path.is_file():
            values[n] = pd.read_parquet(path)
        elif schema.endswith("Metrics"):
            values[n] = dict(art.metadata)
        else:
            values[n] = path
    return StepOutputs(values, {n: Path(a.path) for n, a in outs.items()})
