"""Serving errors a user can act on."""

from __future__ import annotations

from onepipe.errors import OnepipeError


class DeployError(OnepipeError):
    """A deployment change could not be made; the previous routing keeps serving."""

    exit_code = 1


class ForeignGateway(DeployError):
    """The gateway at the configured address serves another project (or refused our key).

    Nothing was applied (a DeployError: the previous routing keeps serving); exit 2,
    as the fix is in the config: point serve.gateway.port at this project's gateway.
    """

    exit_code = 2


class GatewayUnavailable(OnepipeError):
    """No gateway answers on the configured admin address."""
