"""Compile the pipeline with KFP's own compiler, stamping the training image from config.

The IR is cached by the hash of the pipeline's source and the project code it
imports, so a run whose code did not change never imports KFP at all.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

from onepipe.config import Settings
from onepipe.errors import UsageError
from onepipe.pipeline import cluster_cache
from onepipe.pipeline.codehash import project_imports
from onepipe.pipeline.context import ENV_VAR as CONTEXT_ENV
from onepipe.pipeline.context import StepContext
from onepipe.pipeline.loader import import_project_module
from onepipe.version import __version__

try:  # libyaml makes re-reading the cached IR ~10x faster
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader


def pipeline_file(settings: Settings) -> Path:
    rel = Path(*settings.pipeline.module.split("."))
    for candidate in (settings.root / rel.with_suffix(".py"), settings.root / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    raise UsageError(
        f"pipeline.module: {settings.pipeline.module!r} not found under {settings.root} "
        f"(expected {rel.with_suffix('.py')})"
    )


def source_hash(settings: Settings) -> str:
    path = pipeline_file(settings)
    h = hashlib.sha256()
    files = {path, *project_imports(path.read_text(), settings.root.resolve())}
    for f in sorted(files):
        h.update(str(f).encode() + b"\0" + f.read_bytes())
    h.update(f"{settings.pipeline.function}\0{settings.image.pinned}".encode())
    h.update(StepContext.from_settings(settings).to_json().encode())
    h.update(_kfp_version().encode())
    # The IR carries each step's code identity (cluster_cache.stamp), onepipe's version in it.
    h.update(f"onepipe=={__version__}\0{cluster_cache.IDENTITY_FLAG}".encode())
    return h.hexdigest()[:24]


def _kfp_version() -> str:
    return version("kfp")


def compile_ir(settings: Settings) -> dict[str, Any]:
    """The pipeline's IR as a dict (from the compile cache when the code is unchanged)."""
    cache = settings.state_dir / "compiled" / f"{source_hash(settings)}.yaml"
    if cache.is_file():
        return yaml.load(cache.read_text(), Loader=_Loader)
    ir = _compile(settings)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(yaml.safe_dump(ir, sort_keys=False))
    os.replace(tmp, cache)
    return ir


def write_ir(settings: Settings, dest: Path) -> Path:
    ir = compile_ir(settings)
    dest.parent.mkdir(parents=True, exist_ok=True)
    header = f"# PIPELINE DEFINITION (compiled by onepipe from {settings.pipeline.module})\n"
    dest.write_text(header + yaml.safe_dump(ir, sort_keys=False))
    return dest


def load_pipeline_function(settings: Settings):
    try:
        module = import_project_module(settings.pipeline.module, settings.root)
    except ImportError as exc:
        raise UsageError(
            f"pipeline.module: cannot import {settings.pipeline.module!r} ({exc})"
        ) from None
    func = getattr(module, settings.pipeline.function, None)
    if func is None:
        raise UsageError(
            f"pipeline.function: {settings.pipeline.function!r} not found in {settings.pipeline.module}"
        )
    return func


def _compile(settings: Settings) -> dict[str, Any]:
    from kfp import compiler  # lazy: a run whose code did not change never imports KFP

    func = load_pipeline_function(settings)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pipeline.yaml"
        compiler.Compiler().compile(func, str(out))
        ir = yaml.load(out.read_text(), Loader=_Loader)
    # Every step's pod reads the step context (task, label, metrics) from its environment.
    context = {"name": CONTEXT_ENV, "value": StepContext.from_settings(settings).to_json()}
    for executor in ir.get("deploymentSpec", {}).get("executors", {}).values():
        if "container" in executor:
            container = executor["container"]
            container["image"] = settings.image.pinned  # repo@sha256 when pinned
            env = [e for e in container.get("env", []) if e.get("name") != CONTEXT_ENV]
            container["env"] = [*env, context]
    # Each executor's args carry its step's code identity: KFP's cache fingerprint sees it.
    cluster_cache.stamp(ir, settings.root.resolve(), context["value"])
    return ir
