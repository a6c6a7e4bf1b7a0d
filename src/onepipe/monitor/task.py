"""Which task a served model version has, for judging it: declared, recorded, or unknown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from mlflow.exceptions import MlflowException

from onepipe.tracking.client import client_for
from onepipe.tracking.modelfacts import TAGS

if TYPE_CHECKING:
    from onepipe.config import Settings


def task_for(settings: Settings, version: str | None = None) -> str | None:
    """``model.task`` when declared, else the ``onepipe.task`` tag the step helpers'
    facts put on ``version`` at registration, else None (callers then judge from the
    values, ``quality.task_of_values``, and never assume a classifier)."""
    if settings.task:
        return settings.task
    if not version:
        return None
    key = (settings.tracking_uri, settings.model_name, str(version))
    if key not in _RECORDED:  # a version's tags never change its task: ask once per process
        _RECORDED[key] = _recorded(settings, str(version))
    return _RECORDED[key]


_RECORDED: dict[tuple[str, str, str], str | None] = {}


def newest_task(tasks: Mapping[str, str | None]) -> str | None:
    """The task of the newest version that has one, from version -> task: what a view
    over several versions (the report, ``onepipe models``) is judged by."""
    for version in sorted(tasks, key=_version_order, reverse=True):
        if tasks[version]:
            return tasks[version]
    return None


def _version_order(version: str) -> tuple[int, int, str]:
    return (1, int(version), "") if version.isdigit() else (0, 0, version)


def _recorded(settings: Settings, version: str) -> str | None:
    try:
        mv = client_for(settings).get_model_version(settings.model_name, version)
    except MlflowException:
        return None
    return (mv.tags or {}).get(TAGS["task"]) or None
