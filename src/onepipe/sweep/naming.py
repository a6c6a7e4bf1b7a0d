"""A sweep's name: the study's name locally, the Experiment's name on Katib."""

from __future__ import annotations

import re

from onepipe.config import Settings
from onepipe.errors import UsageError

# Katib Experiments are Kubernetes objects: DNS-1123 labels (and trial names append "-xxxxxxxx").
_DNS = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def sweep_name(settings: Settings, name: str | None = None) -> str:
    """``name`` if given, else ``<project>-<env>[-<variant>]``, checked as a Kubernetes name."""
    if name is None:
        parts = [settings.project, settings.env, settings.variant or ""]
        name = re.sub(r"[^a-z0-9-]+", "-", "-".join(p for p in parts if p).lower()).strip("-")
    if not _DNS.match(name) or len(name) > 40:
        raise UsageError(
            f"sweep name {name!r}: expected lowercase letters, digits and '-', "
            "starting and ending with a letter or digit, at most 40 characters"
        )
    return name
