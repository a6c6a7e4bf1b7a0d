"""Deploy, promote, rollback, history: backend-agnostic, every change recorded.

Where every change starts (callers never see a backend). Each runs as a transaction
(serve/transaction.py): its intent is written first, the registry aliases move,
the deployer makes it live (or, for the local backend with no gateway running,
accepts it for the next ``onepipe serve``), and only then is it confirmed in the
history. A change a killed process left half-done is repaired by the next one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from onepipe import plugins
from onepipe.errors import NotFoundError, UsageError
from onepipe.history import Change, DeploymentState, Intent, IntentLog, open_history
from onepipe.serve import transaction
from onepipe.serve.protocol import Deployer, load_deployer
from onepipe.tracking.registry import (
    CHALLENGER,
    CHAMPION,
    note_previous_champion,
    resolve_model,
    role_versions,
)
from onepipe.tracking.registry import promote as registry_promote

if TYPE_CHECKING:
    from onepipe.config import Settings
    from onepipe.tracking.registry import ModelRef


def deployer_for(settings: Settings, target: str | None = None) -> Deployer:
    """``target``: local, cluster or a backend's name (``plugins.target_backend``);
    default: the environment's ``backends.serve``."""
    backend = settings.backends.serve
    if target is not None:
        backend = plugins.target_backend("serve", target, backend)
    return load_deployer(backend).from_settings(settings)


def history(
    settings: Settings, target: str | None = None, limit: int | None = None
) -> list[Change]:
    deployer = deployer_for(settings, target)
    return open_history(settings).list(
        env=settings.env, backend=deployer.backend, model=settings.model_name, limit=limit
    )


def unfinished(settings: Settings, target: str | None = None) -> list[Intent]:
    """Changes begun but neither confirmed nor rolled back: running now, or left by a kill."""
    deployer = deployer_for(settings, target)
    return IntentLog(open_history(settings)).pending(
        env=settings.env, backend=deployer.backend, model=settings.model_name
    )


def recover(settings: Settings, target: str | None = None) -> None:
    """Repair a change a killed process left half-done (says what it did on stderr)."""
    with transaction.session(settings, deployer_for(settings, target)):
        pass


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
    deployer = deployer_for(settings, target)
    with transaction.session(settings, deployer) as tx:
        state = _deploy_state(settings, canary, shadow, sticky, champion, challenger)
        return tx.run("deploy", state, reason)


def _deploy_state(
    settings: Settings,
    canary: int | None,
    shadow: bool | None,
    sticky: bool | None,
    champion: str | None,
    challenger: str | None,
) -> DeploymentState:
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
    return DeploymentState(name, champ, challenger, 0 if shadow else canary, shadow, sticky)


def promote(
    settings: Settings,
    version: str | None = None,
    target: str | None = None,
    reason: str = "",
    name: str | None = None,
) -> tuple[ModelRef, str | None, tuple[Change, str] | None]:
    """Registry promote (challenger -> champion) + route 100% to it when deployed.

    One transaction: the aliases and the routing move together or not at all. Another
    model than the project's (``name``) has no deployment here: only its aliases move.
    """
    name = name or settings.model_name
    if name != settings.model_name:
        return (*registry_promote(settings, name, version), None)
    deployer = deployer_for(settings, target)
    with transaction.session(settings, deployer) as tx:
        live = current(settings, deployer)
        if live is None:  # nothing deployed: a registry change alone
            return (*registry_promote(settings, name, version), None)
        spec = f"{name}/{version}" if version else f"{name}@{CHALLENGER}"
        new = str(resolve_model(settings, spec).version)
        roles = role_versions(settings, name)
        previous = roles[CHAMPION]
        aliases = {CHAMPION: new, **({CHALLENGER: None} if roles[CHALLENGER] == new else {})}
        state = DeploymentState(name, new, None, 0, False, live.sticky)
        was = f" (was {previous})" if previous and previous != new else ""
        routed = tx.run("promote", state, reason or f"registry champion -> v{new}{was}", aliases)
    note_previous_champion(settings, name, new, previous)
    return resolve_model(settings, f"{name}/{new}"), previous, routed


def rollback(
    settings: Settings, to: int | None = None, target: str | None = None, reason: str = ""
) -> tuple[Change, str]:
    """Restore the state before the latest change, or change ``to``; registry aliases follow."""
    deployer = deployer_for(settings, target)
    with transaction.session(settings, deployer) as tx:
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
        # The challenger alias stays where it is when the restored state has none.
        aliases = {
            CHAMPION: state.champion,
            **({CHALLENGER: state.challenger} if state.challenger else {}),
        }
        return tx.run("rollback", state, reason or f"back to #{source.id}", aliases)


def withdraw_challenger(
    settings: Settings, version: str, target: str | None = None, reason: str = ""
) -> tuple[Change, str]:
    """A canary rolled back: the champion answers everything again, the challenger gets none.

    Refused unless ``version`` is the challenger the deployment routes to right now,
    so a verdict computed on an older window never undoes some other, later change.
    """
    deployer = deployer_for(settings, target)
    with transaction.session(settings, deployer) as tx:
        live = current(settings, deployer)
        if live is None or live.challenger != str(version) or not (live.canary or live.shadow):
            now = live.describe() if live else "nothing deployed"
            raise UsageError(
                f"canary rollback: the deployment does not route to challenger v{version} "
                f"(now: {now}); nothing applied"
            )
        state = DeploymentState(live.model, live.champion, None, 0, False, live.sticky)
        return tx.run("rollback", state, reason or f"withdraw v{version}")
