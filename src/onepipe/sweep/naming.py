"""A sweep's name: the study's name locally, the Experiment's name on Katib."""

from __future__ import annotations

import re

from onepipe.config import Settings
from onepipe.errors import UsageError

# Katib Experiments are Kubernetes objects: DNS-1123 labels (and trial names append "-xxxxxxxx").
_DNS = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def user_prefix(settings: Settings) -> str:
    """The user's name as a DNS-1123 label fragment (``Alice.B`` -> ``alice-b``)."""
    return re.sub(r"[^a-z0-9-]+", "-", settings.user.lower()).strip("-")[:20].strip("-") or "user"


def sweep_name(settings: Settings, name: str | None = None) -> str:
    """``name`` if given, else ``<project>-<env>[-<variant>]``, checked as a Kubernetes name.

    In team mode (a shared tracking server, a known user) the name gets the user's prefix,
    ``<user>-<name>``, so two people's Katib Experiments in one namespace never collide.
    """
    if name is None:
        parts = [settings.project, settings.env, settings.variant or ""]
        name = re.sub(r"[^a-z0-9-]+", "-", "-".join(p for p in parts if p).lower()).strip("-")
    if settings.per_user and not name.startswith(f"{user_prefix(settings)}-"):
        name = f"{user_prefix(settings)}-{name}"
    if not _DNS.fullmatch(name) or len(name) > 40:  # fullmatch: '$' would let a newline in
        raise UsageError(
            f"sweep name {name!r}: expected lowercase letters, digits and '-', "
            "starting and ending with a letter or digit, at most 40 characters"
        )
    return name
