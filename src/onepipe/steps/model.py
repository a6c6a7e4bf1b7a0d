"""Save a trained model the way onepipe serves, monitors and registers it.

``save_model`` writes an MLflow model (scikit-learn flavor, skops format) that
loads in a fresh process and in MLServer: a signature and an input example taken
from the training frame, the skops types the model needs trusted (found by
serializing it once, so a project never meets MLflow's "untrusted types" error),
the project code its pickle references shipped with it, pinned requirements, the
task/label/features/classes recorded for onepipe, and the training features'
drift profile (``reference_profile.json``) beside it.
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onepipe.steps.context import context
from onepipe.tracking.modelfacts import FACTS_KEY

if TYPE_CHECKING:
    import pandas as pd

EXAMPLE_ROWS = 5


def _path(artifact: Any) -> Path:
    return Path(str(getattr(artifact, "path", artifact)))


def save_model(
    estimator: Any,
    artifact: Any,
    train_frame: pd.DataFrame,
    *,
    label: str | None = None,
    task: str | None = None,
    features: list[str] | None = None,
    ids: tuple[str, ...] | list[str] = (),
    code_paths: list[str] | None = None,
    trusted_types: list[str] | None = None,
    requirements: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    profile: bool = True,
) -> dict[str, Any]:
    """Save ``estimator`` (fitted, scikit-learn API) as an MLflow model at ``artifact``.

    ``train_frame`` is the training table: its feature columns give the signature,
    the input example and the drift profile. Features are ``features``, else every
    column but the label and ``ids``. ``label`` and ``task`` default to the step
    context (``model.label``/``model.task``); an undeclared task is read from the
    estimator. ``code_paths``: project code the pickle needs (default: found from
    the types the model references). Returns the recorded facts.
    """
    # lazy: MLflow, scikit-learn, pandas and numpy stay off `import onepipe.steps`, which every
    # step's process does; only the training step saves a model
    import mlflow
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    import sklearn
    from mlflow.models import infer_signature

    from onepipe.quality.tasks import task_of_estimator, task_of_values

    ctx = context()
    label = label or ctx.label
    if features is None:
        skip = {label, *ids}
        features = [c for c in train_frame.columns if c not in skip]
    missing = [c for c in features if c not in train_frame.columns]
    if missing:
        raise ValueError(f"save_model: feature columns not in the training frame: {missing}")
    found = task_of_estimator(estimator)
    declared = task or ctx.task
    if declared and found and declared != found:
        raise ValueError(
            f"save_model: the task is {declared!r} (model.task) but the model is a {found} model"
        )
    task = declared or found
    if task is None and label is not None and label in train_frame:
        task = task_of_values(train_frame[label].tolist())

    path = _path(artifact)
    if path.exists():  # MLflow refuses an existing directory: a rerun into the same output
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = train_frame[list(features)]
    example = x.head(EXAMPLE_ROWS).reset_index(drop=True)
    signature = infer_signature(example, np.asarray(estimator.predict(example)))
    trusted = sorted({*_untrusted_types(estimator), *(trusted_types or [])})
    facts: dict[str, Any] = {"task": task, "label": label, "features": list(map(str, features))}
    classes = getattr(estimator, "classes_", None)
    if classes is not None:
        facts["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
    pins = [
        f"mlflow=={mlflow.__version__}",
        f"scikit-learn=={sklearn.__version__}",
        f"numpy=={np.__version__}",
        f"pandas=={pd.__version__}",
        f"skops=={_version('skops')}",
        *(requirements or []),
    ]
    with tempfile.TemporaryDirectory(prefix="onepipe-code-") as staging:
        shipped = (
            list(code_paths) if code_paths is not None else _project_code(trusted, Path(staging))
        )
        mlflow.sklearn.save_model(
            estimator,
            str(path),
            signature=signature,
            input_example=example,
            code_paths=shipped or None,
            # Pinned here: inferring requirements would load the model again in a subprocess.
            pip_requirements=pins,
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
            skops_trusted_types=trusted or None,
            metadata={**(metadata or {}), FACTS_KEY: facts},
        )
    if profile:
        write_profile(train_frame, path, features=list(features), label=label)
    meta = getattr(artifact, "metadata", None)
    if meta is not None:
        meta.update(flavor="mlflow.sklearn", framework="scikit-learn", task=task or "")
    return facts


def write_profile(
    frame: pd.DataFrame,
    model_dir: str | Path,
    *,
    features: list[str] | None = None,
    label: str | None = None,
) -> Path:
    """The training features' drift profile, saved as ``reference_profile.json`` in the model
    directory (numeric columns binned, the others counted as categories)."""
    # lazy: pandas and the monitor's profile code (MLflow, numpy) stay off `import onepipe.steps`
    import pandas as pd

    from onepipe.monitor.profile import build_profile, save_profile

    label = label or context().label
    columns = features or [c for c in frame.columns if c != label]
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(frame[c])]
    numeric = [c for c in numeric if not pd.api.types.is_bool_dtype(frame[c])]
    categorical = [c for c in columns if c not in numeric]
    profile = build_profile(frame, numeric=numeric, categorical=categorical, label=label)
    return save_profile(profile, model_dir)


def load_model(artifact: Any) -> Any:
    """The estimator saved by ``save_model`` (from a KFP ``Input[Model]`` or a path)."""
    import mlflow.sklearn  # lazy: MLflow stays off `import onepipe.steps`

    return mlflow.sklearn.load_model(str(_path(artifact)))


def _version(package: str) -> str:
    from importlib.metadata import version  # lazy: ~20 ms, off `import onepipe.steps`

    return version(package)


def _untrusted_types(estimator: Any) -> list[str]:
    """The types skops refuses to load unless told to trust them: found by serializing once
    (a fraction of the save's own cost) rather than failing at the first load."""
    import skops.io  # lazy: skops stays off `import onepipe.steps`

    return list(skops.io.get_untrusted_types(data=skops.io.dumps(estimator)))


def _installed_roots() -> list[Path]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return [Path(p).resolve() for p in roots if p]


def _project_code(types: list[str], staging: Path) -> list[str]:
    """Project modules the pickle references, as MLflow ``code_paths``.

    A type named ``pkg.sub.module.func`` lives in project code when its module's file
    is outside the interpreter's installed packages. The module's package directory
    travels with the model, wrapped in empty parent packages, so loading needs
    neither the project nor anything its other modules import (KFP, say).
    """
    installed = _installed_roots()
    packages: dict[str, Path] = {}
    for name in types:
        module = _module_of(name)
        if module is None:
            continue
        file = getattr(sys.modules[module], "__file__", None)
        if not file:
            continue
        resolved = Path(file).resolve()
        if any(resolved.is_relative_to(root) for root in installed):
            continue
        parts = module.split(".")
        if resolved.name != "__init__.py":
            parts = parts[:-1]  # a module: ship the package it is in
        # (a top-level module file ships alone: its "package" is the file itself)
        packages[".".join(parts) or module] = resolved.parent if parts else resolved
    shipped: list[str] = []
    top_levels: set[str] = set()
    for dotted, source in sorted(packages.items()):
        parts = dotted.split(".")
        if any(dotted.startswith(other + ".") for other in packages):
            continue  # inside a package that is shipped whole
        if len(parts) == 1:
            shipped.append(str(source))
            continue
        root = staging / parts[0]
        target = root.joinpath(*parts[1:])
        for depth in range(1, len(parts)):
            folder = root.joinpath(*parts[1:depth])
            folder.mkdir(parents=True, exist_ok=True)
            init = folder / "__init__.py"
            if not init.exists():
                init.write_text('"""Shipped with the model: only what its pickle needs."""\n')
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if parts[0] not in top_levels:
            top_levels.add(parts[0])
            shipped.append(str(root))
    return shipped


def _module_of(type_name: str) -> str | None:
    """The longest imported module prefix of a dotted type name."""
    parts = type_name.split(".")
    for end in range(len(parts) - 1, 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in sys.modules:
            return candidate
    return None
