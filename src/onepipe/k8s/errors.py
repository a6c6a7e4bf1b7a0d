"""How a refusal of the Kubernetes API reaches the user: one line naming what and why."""

from __future__ import annotations

import json

from onepipe.errors import OnepipeError


class ClusterError(OnepipeError):
    """The Kubernetes API refused or could not be reached; the message says which and why."""


def error_message(exc) -> str:
    """The API server's own message in an ``ApiException`` (its JSON body), else the body."""
    try:
        return json.loads(exc.body).get("message", "") or str(exc.body)[:200]
    except (TypeError, ValueError):
        return str(exc.body or "")[:200]
