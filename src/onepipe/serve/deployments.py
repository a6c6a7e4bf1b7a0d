"""Deploy, promote, rollback, history: backend-agnostic, every change recorded.

The one caller of the ``Deployer`` protocol. A change is recorded in the history
only after the deployer made it live (or, for the local backend with no gateway
running, accepted it for the next ``onepipe serve``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from onepipe.errors import NotFoundError, UsageError
from onepipe.serve.history import Change, open_history
from onepipe.serve.protocol import Deployer
from onepipe.serve.state import DeploymentState

if TYPE_CHECKING:
    from onepipe.config import Settings
    from onepipe.tracking.registry import ModelRef

TARGETS = {"local": "mlserver", "cluster": "seldon"}


def deployer_for(settings: Settings, target: str | None = None) -> Deployer:
    """``target`` local/cluster (or a backend name); default: ``backends.serve``."""
    from onepipe.plugins import load_backend

    if target is None:
        backend = settings.backends.serve
    elif target in TARGETS:
        backend = TARGETS[target]
    elif target in TARGETS.values():
        backend = target
    else:
        raise UsageError(f"--target {target}: unknown (expected local or cluster)")
    return load_backend("serve", backend).from_settings(settings)


def history(
    settings: Settings, target: str | None = None, limit: int | None = None
) -> list[Change]:
    deployer = deployer_for(settings, target)
    return open_history(settings).list(
        env=settings.env, backend=deployer.backend, model=settings.model_name, limit=limit
    )


def _refs(settings: Settings, state: DeploymentState) -> dict[str, ModelRef]:
    from onepipe.tracking.registry import resolve_model

    return {v: resolve_model(settings, f"{state.model}/{v}") for v in state.versions}


def _apply(
    settings: Settings, deployer: Deployer, action: str, state: DeploymentState, reason: str
) -> tuple[Change, str]:
    message = deployer.apply(state, _refs(settings, state))
    change = open_history(settings).record(
        env=settings.env,
        backend=deployer.backend,
        action=action,
        user=settings.user,
        state=state,
        reason=reason,
    )
    return change, message


def current(settings: Settings, deployer: Deployer) -> DeploymentState | None:
    live = deployer.live()
    if live is not None:
        return live
    last = open_history(settings).list(
        env=settings.env, backend=deployer.backend, model=settings.model_name, limit=1
    )
    return last[0].state if last else None


def deploy(
    settings: Settings,
    *,
    canary: int | None = None,
    shadow: bool | None = None,
    sticky: bool | None = None,
    champion: str | None = None,
    challenger: str | None = None,
    target: str | None = None,
    reason: str = "",
) -> tuple[Change, str]:
    """Route ``canary``% to the challenger (registry aliases unless versions are given)."""
    from onepipe.tracking.registry import CHALLENGER, CHAMPION, resolve_model

    name = settings.model_name
    champ = str(
        resolve_model(settings, f"{name}/{champion}" if champion else f"{name}@{CHAMPION}").version
    )
    if challenger is None:
        try:
            challenger = str(resolve_model(settings, f"{name}@{CHALLENGER}").version)
        except NotFoundError:
            if canary or shadow:
                raise UsageError(
                    f"{name}: no challenger to route to (expected a version with alias "
                    "challenger: train one with `onepipe run`, or pass --challenger VERSION)"
                ) from None
    else:
        challenger = str(resolve_model(settings, f"{name}/{challenger}").version)
    if challenger == champ:
        challenger = None
    shadow = settings.serve.shadow if shadow is None else shadow
    sticky = settings.serve.sticky if sticky is None else sticky
    if canary is None:
        canary = settings.serve.canary if challenger and not shadow else 0
    if challenger is None:
        if canary:
            raise UsageError(
                f"--canary {canary}: version {champ} is champion and no other version is "
                "challenger (expected a challenger to send traffic to)"
            )
        shadow = False
    state = DeploymentState(name, champ, challenger, 0 if shadow else canary, shadow, sticky)
    deployer = deployer_for(settings, target)
    return _apply(settings, deployer, "deploy", state, reason)


def route_to_champion(
    settings: Settings,
    ref: ModelRef,
    previous: str | None,
    target: str | None = None,
    reason: str = "",
) -> tuple[Change, str] | None:
    """After the registry moved ``champion``: route 100% to it if a deployment exists."""
    deployer = deployer_for(settings, target)
    version, previous = str(ref.version), (str(previous) if previous is not None else None)
    live = current(settings, deployer)
    if live is None:
        return None
    state = DeploymentState(ref.name, version, None, 0, False, live.sticky)
    was = f" (was {previous})" if previous and previous != version else ""
    return _apply(
        settings, deployer, "promote", state, reason or f"registry champion -> v{version}{was}"
    )


def on_promote(
    settings: Settings, ref: ModelRef, previous: str | None
) -> tuple[Change, str] | None:
    """Hook for ``onepipe promote``: keep serving in step with the registry.

    If routing fails the registry aliases are put back, so registry and serving agree.
    """
    from onepipe.serve.errors import DeployError

    try:
        return route_to_champion(settings, ref, previous)
    except DeployError:
        _set_aliases(settings, _undo(ref, previous))
        raise


def promote(
    settings: Settings, version: str | None = None, target: str | None = None, reason: str = ""
) -> tuple[ModelRef, str | None, tuple[Change, str] | None]:
    """Registry promote (challenger -> champion) + route 100% to it when deployed."""
    from onepipe.tracking.registry import promote as registry_promote

    ref, previous = registry_promote(settings, settings.model_name, version)
    try:
        routed = route_to_champion(settings, ref, previous, target, reason)
    except Exception:
        _set_aliases(settings, _undo(ref, previous))
        raise
    return ref, previous, routed


def rollback(
    settings: Settings, to: int | None = None, target: str | None = None, reason: str = ""
) -> tuple[Change, str]:
    """Restore the state before the latest change, or change ``to``; registry aliases follow."""
    deployer = deployer_for(settings, target)
    store = open_history(settings)
    kw = {"env": settings.env, "backend": deployer.backend, "model": settings.model_name}
    if to is not None:
        source = store.get(to, **kw)
    else:
        changes = store.list(limit=2, **kw)
        if len(changes) < 2:
            raise UsageError(
                f"rollback: {len(changes)} deployment change(s) recorded for "
                f"{settings.model_name} ({deployer.backend}); nothing to return to "
                "(expected at least two, see `onepipe history`)"
            )
        source = changes[1]
    state = source.state
    change, message = _apply(
        settings, deployer, "rollback", state, reason or f"back to #{source.id}"
    )
    _set_aliases(settings, state)
    return change, message


def withdraw_challenger(
    settings: Settings, version: str, target: str | None = None, reason: str = ""
) -> tuple[Change, str]:
    """A canary rolled back: the champion answers everything again, the challenger gets none.

    Refused unless ``version`` is the challenger the deployment routes to right now,
    so a verdict computed on an older window never undoes some other, later change.
    """
    deployer = deployer_for(settings, target)
    live = current(settings, deployer)
    if live is None or live.challenger != str(version) or not (live.canary or live.shadow):
        now = live.describe() if live else "nothing deployed"
        raise UsageError(
            f"canary rollback: the deployment does not route to challenger v{version} "
            f"(now: {now}); nothing applied"
        )
    state = DeploymentState(live.model, live.champion, None, 0, False, live.sticky)
    return _apply(settings, deployer, "rollback", state, reason or f"withdraw v{version}")


def _undo(ref: ModelRef, previous: str | None) -> DeploymentState | None:
    """The registry aliases as they were before a promote of ``ref``."""
    if previous is None or str(previous) == str(ref.version):
        return None
    return DeploymentState(ref.name, str(previous), str(ref.version))


def _set_aliases(settings: Settings, state: DeploymentState | None) -> None:
    if state is None:
        return
    from onepipe.tracking.aliases import CHALLENGER, CHAMPION, alias
    from onepipe.tracking.client import client_for

    client = client_for(settings)
    client.set_registered_model_alias(state.model, alias(settings, CHAMPION), state.champion)
    if state.challenger:
        client.set_registered_model_alias(
            state.model, alias(settings, CHALLENGER), state.challenger
        )
