"""The whole schema of onepipe.yaml: the core sections plus what the registry declares.

``backends.<stage>`` takes the registry's names for the stage (its first local backend
by default), and every backend's own section (``Backend.section``, modelled by
``Backend.config``, a ``BackendSection`` in the backend's folder) joins the section it
names: ``serve.seldon`` inside ``serve``, ``kfp`` at the top. The models are imported
by their registry path when a config is first validated, never when this package is
imported, so the config package imports no backend code, and a registry with another
line (a test's) gets a schema of its own.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, create_model

from onepipe import plugins
from onepipe.config.base import BackendSection
from onepipe.config.schema import ENV_OVERLAY_KEYS, Backends, ProjectConfig


def project_schema() -> type[ProjectConfig]:
    """``ProjectConfig`` with ``backends`` and the backend sections of the registry."""
    return _schema(plugins.BACKENDS)


def overlay_keys() -> tuple[str, ...]:
    """Sections an environment overlay may touch: the core ones, then backends' top-level ones."""
    return ENV_OVERLAY_KEYS + top_level_sections()


def top_level_sections() -> tuple[str, ...]:
    """Backend sections at the top of the file (``kfp``), in registry order."""
    return tuple(key for key in plugins.sections() if "." not in key)


def check_chosen(cfg: Any) -> None:
    """The checks of each stage's chosen backend on the whole config (``check_chosen``)."""
    for stage in plugins.STAGES:
        line = plugins.backend(stage, getattr(cfg.backends, stage))
        if line.section and line.config:
            _at(cfg, line.section).check_chosen(cfg)


def _at(cfg: Any, dotted: str) -> Any:
    node = cfg
    for key in dotted.split("."):
        node = getattr(node, key)
    return node


@lru_cache(maxsize=4)
def _schema(lines: tuple[plugins.Backend, ...]) -> type[ProjectConfig]:
    nested: dict[str, dict[str, type[BackendSection]]] = {}
    for key, line in plugins.sections().items():
        model = plugins.load(line.config)
        if not (isinstance(model, type) and issubclass(model, BackendSection)):
            raise TypeError(f"onepipe.plugins: {line.config} is not a config.base.BackendSection")
        parent, _, name = key.rpartition(".")
        nested.setdefault(parent, {})[name] = model
    fields: dict[str, Any] = {"backends": _default(_backends())}
    for parent, models in nested.items():
        if parent:  # a core section with backend sections inside (serve.seldon)
            fields[parent] = _default(_with(ProjectConfig.model_fields[parent].annotation, models))
    fields.update({name: _default(model) for name, model in nested.get("", {}).items()})
    return create_model("ProjectConfig", __base__=ProjectConfig, **fields)


def _backends() -> type[Backends]:
    fields: dict[str, Any] = {
        stage: (Literal[tuple(plugins.names(stage))], plugins.default(stage))
        for stage in plugins.STAGES
    }
    return create_model("Backends", __base__=Backends, **fields)


def _with(base: Any, models: dict[str, type[BackendSection]]) -> type:
    """``base`` with one more field per backend section."""
    return create_model(base.__name__, __base__=base, **{k: _default(m) for k, m in models.items()})


def _default(model: type) -> tuple[type, Any]:
    """A field holding ``model``, its defaults when the file does not mention it."""
    return (model, Field(default_factory=model))
