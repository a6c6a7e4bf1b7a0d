"""What the step helpers record about a model inside its MLmodel file, read back.

``steps.save_model`` writes ``metadata.onepipe`` into the MLmodel file: the task,
the label column, the input features and (for a classifier) the classes.
Registration copies task and label onto the model version as ``onepipe.task`` and
``onepipe.label`` tags, where monitoring, the canary verdict and the report read
them when onepipe.yaml does not declare them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

FACTS_KEY = "onepipe"  # the key under the MLmodel file's ``metadata``
TAGS = {"task": "onepipe.task", "label": "onepipe.label"}


def read_facts(model_dir: str | Path) -> dict[str, Any]:
    """``metadata.onepipe`` of an MLflow model directory; {} when absent or unreadable."""
    try:
        text = (Path(model_dir) / "MLmodel").read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError):
        return {}
    facts = (data.get("metadata") or {}).get(FACTS_KEY)
    return facts if isinstance(facts, dict) else {}


def facts_tags(model_dir: str | Path | None) -> dict[str, str]:
    """The registry tags for a model directory's recorded facts."""
    if model_dir is None:
        return {}
    facts = read_facts(model_dir)
    return {tag: str(facts[key]) for key, tag in TAGS.items() if facts.get(key)}
