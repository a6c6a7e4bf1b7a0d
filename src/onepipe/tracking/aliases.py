"""Registry alias names per environment: ``champion`` in ``acc`` is not ``champion`` in ``prod``.

The registry (one registered model per project) may be shared by every
environment; the aliases that say which version plays which role are not.
``dev`` keeps the bare role names (``champion``, ``challenger``); every other
environment prefixes them with its name: ``acc-champion``, ``prod-challenger``.

Everything that reads or moves a role alias goes through :func:`alias`, and
:func:`resolve_alias` maps a role written by a user (``credit-risk@champion``)
to the current environment's alias. An alias that is not a bare role
(``acc-champion``, ``best``) is used as written, so another environment's alias
can always be addressed explicitly.
"""

from __future__ import annotations

from typing import Any

CHAMPION, CHALLENGER = "champion", "challenger"
ROLES = (CHAMPION, CHALLENGER)
BARE_ENV = "dev"  # the environment whose aliases carry no prefix


def _env_of(where: Any) -> str:
    return where if isinstance(where, str) else where.env


def alias(where: Any, role: str) -> str:
    """The registry alias for ``role`` in an environment (a Settings, TrackingTarget or env name)."""
    if role not in ROLES:
        raise ValueError(f"alias role {role!r}: expected one of {', '.join(ROLES)}")
    env = _env_of(where)
    return role if env == BARE_ENV else f"{env}-{role}"


def resolve_alias(where: Any, name: str) -> str:
    """``champion``/``challenger`` -> this environment's alias; any other alias unchanged."""
    return alias(where, name) if name in ROLES else name


def role_of(where: Any, name: str) -> str | None:
    """The role an alias plays in this environment (``None`` for another env's or a custom alias)."""
    for role in ROLES:
        if alias(where, role) == name:
            return role
    return None
