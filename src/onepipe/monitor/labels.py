"""What a feedback label may be for one model version: a class it knows, or a finite number.

A label that cannot be the model's (10^30 or "yes" for a 0/1 classifier, a 2 MB
string) would count in live quality and canary verdicts as a wrong answer, so
``/feedback`` refuses it. The rule comes from what the version recorded:

- regression (``task_for``): a finite number;
- a classifier with recorded classes (``modelfacts.read_facts(dir)["classes"]``,
  written by ``steps.save_model``): one of them. A number equal to an integer
  class (``1.0`` for ``1``) is stored as that class, so it compares equal to the
  answers;
- otherwise the type of the signature's output (an integer, a number, a string or
  a boolean), and for a classifier without one any integer, string or boolean.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from onepipe.errors import OnepipeError
from onepipe.monitor.task import task_for
from onepipe.tracking.artifacts import local_path
from onepipe.tracking.modelfacts import read_facts
from onepipe.tracking.registry import resolve_model

if TYPE_CHECKING:
    from onepipe.config import Settings

log = logging.getLogger("onepipe.monitor.labels")
MAX_TEXT = 256  # characters in a string label: a class name, never a document
CLASSIFIERS = ("binary", "multiclass")
_KINDS = {  # signature output type -> what a label must be
    "long": "integer",
    "integer": "integer",
    "double": "number",
    "float": "number",
    "string": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "str": "string",
    "object": "string",
}
_EXPECT = {
    "integer": "an integer",
    "number": "a finite number",
    "string": f"a string of at most {MAX_TEXT} characters",
    "boolean": "true or false",
    "label": f"a class label (an integer, or a string of at most {MAX_TEXT} characters)",
    "scalar": f"a finite number, a boolean or a string of at most {MAX_TEXT} characters",
}


class LabelError(ValueError):
    """A label that cannot be this model's; the message says what was expected."""


def _show(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integral(value: Any) -> bool:
    """A whole number an int64 output could hold (1e30 is a float with no fraction)."""
    return (
        _number(value)
        and math.isfinite(value)
        and float(value).is_integer()
        and -(2**63) <= value < 2**63
    )


@dataclass(frozen=True)
class LabelRule:
    """What one version's labels may be; ``check`` returns the value to store."""

    model: str  # "name/version", for the message
    task: str | None
    classes: tuple[Any, ...] | None = None
    kind: str = "scalar"  # integer | number | string | boolean | label | scalar

    def expected(self) -> str:
        if self.classes is not None:
            shown = ", ".join(_show(c) for c in self.classes[:20])
            more = f" and {len(self.classes) - 20} more" if len(self.classes) > 20 else ""
            return f"one of: {shown}{more}"
        what = _EXPECT[self.kind]
        return f"{what}: a {self.task} model" if self.task else what

    def check(self, value: Any) -> Any:
        if self.classes is not None:
            return self._class(value)
        kind = self.kind
        ok = {
            "integer": _integral(value),
            "number": _number(value) and math.isfinite(value),
            "string": isinstance(value, str) and 0 < len(value) <= MAX_TEXT,
            "boolean": isinstance(value, bool),
            "label": (isinstance(value, str) and 0 < len(value) <= MAX_TEXT)
            or isinstance(value, bool)
            or _integral(value),
            "scalar": (isinstance(value, str) and len(value) <= MAX_TEXT)
            or isinstance(value, bool)
            or (_number(value) and math.isfinite(value)),
        }[kind]
        if not ok:
            raise LabelError(
                f"{_show(value)} cannot be a label of {self.model} (expected {self.expected()})"
            )
        if kind in ("integer", "label") and isinstance(value, float):
            return int(value)
        return value

    def _class(self, value: Any) -> Any:
        for known in self.classes or ():
            if isinstance(known, bool) or isinstance(value, bool):
                if isinstance(known, bool) and isinstance(value, bool) and known == value:
                    return known
            elif _number(known) and _number(value):
                if math.isfinite(value) and known == value:
                    return known
            elif isinstance(known, str) and isinstance(value, str) and known == value:
                return known
        raise LabelError(
            f"{_show(value)} is not a class of {self.model} (expected {self.expected()})"
        )


def rule_for(settings: Settings, version: str) -> LabelRule:
    """The label rule of ``version`` of the project's model, from its recorded facts."""
    task = task_for(settings, version)
    name = f"{settings.model_name}/{version}"
    if task == "regression":
        return LabelRule(name, task, kind="number")
    facts, output = _recorded(settings, version)
    classes = facts.get("classes")
    if isinstance(classes, list) and classes:
        return LabelRule(name, task, classes=tuple(classes))
    if output is not None:
        return LabelRule(name, task, kind=output)
    return LabelRule(name, task, kind="label" if task in CLASSIFIERS else "scalar")


def _recorded(settings: Settings, version: str) -> tuple[dict[str, Any], str | None]:
    """(the version's recorded facts, the kind of its signature's output)."""
    try:
        path = local_path(settings, resolve_model(settings, f"{settings.model_name}/{version}"))
    except (OnepipeError, OSError) as exc:
        log.warning("feedback: cannot read the facts of version %s (%s)", version, exc)
        return {}, None
    return read_facts(path), _output_kind(path)


def _output_kind(path: Path) -> str | None:
    try:
        meta = yaml.safe_load((path / "MLmodel").read_text(encoding="utf-8")) or {}
        raw = (meta.get("signature") or {}).get("outputs")
        specs = json.loads(raw) if isinstance(raw, str) else raw
    except (OSError, ValueError, yaml.YAMLError):
        return None
    if not isinstance(specs, list) or len(specs) != 1 or not isinstance(specs[0], dict):
        return None
    spec = specs[0]
    dtype = str(spec.get("type") if spec.get("type") != "tensor" else "")
    if not dtype:
        dtype = str((spec.get("tensor-spec") or {}).get("dtype", ""))
        dtype = "".join(ch for ch in dtype if ch.isalpha())  # int64 -> int, float32 -> float
        dtype = {"int": "long", "uint": "long"}.get(dtype, dtype)
    return _KINDS.get(dtype)


class LabelRules:
    """``rule_for`` per version, remembered: a version's facts never change. A version
    whose facts could not be read is asked again after ``retry_s``."""

    def __init__(self, settings: Settings, retry_s: float = 60.0) -> None:
        self.settings = settings
        self.retry_s = retry_s
        self._rules: dict[str, tuple[LabelRule, float | None]] = {}

    def __call__(self, version: str) -> LabelRule:
        cached = self._rules.get(version)
        if cached is not None and (cached[1] is None or time.monotonic() < cached[1]):
            return cached[0]
        try:
            rule = rule_for(self.settings, version)
        except Exception:  # noqa: BLE001 - a registry hiccup never refuses feedback
            log.exception("feedback: no label rule for version %s; checking scalars only", version)
            rule = LabelRule(f"{self.settings.model_name}/{version}", None)
        known = rule.classes is not None or rule.kind != "scalar" or rule.task is not None
        self._rules[version] = (rule, None if known else time.monotonic() + self.retry_s)
        return rule
