"""Serving errors a user can act on."""

from __future__ import annotations

from onepipe.errors import OnepipeError


class DeployError(OnepipeError):
    """A deployment change could not be made; the previous routing keeps serving."""

    exit_code = 1


class GatewayUnavailable(OnepipeError):
    """No gateway answers on the configured admin address."""
