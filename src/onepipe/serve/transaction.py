"""A deployment change as a transaction: intent, registry aliases, routing, confirmation.

Every ``deploy``, ``promote``, ``rollback`` (and ``canary analyze --auto``) runs as
one :class:`Transaction` under the model's change lock (``change_lock``):

1. the intent is written (onepipe/history/intents.py): the state to serve and, for each
   registry alias the change moves, its version before and after;
2. the aliases move;
3. the deployer applies the routing;
4. the history row is appended and the intent closed, in one database transaction.

So the history holds confirmed changes only. A change that fails with an error is
undone at once (the aliases go back; the deployer kept the previous routing). A
process killed mid-change leaves a pending intent, which whoever takes the lock
next (any deployment command, and ``onepipe serve`` before it reads the history)
repairs, saying which way on stderr:

- the routing already serves the intent: **completed** (its aliases are set, its
  history row appended);
- otherwise: **rolled back** to the last confirmed change (its state applied again,
  the aliases put back); with no confirmed change, an intent that nothing serves is
  dropped and one that something else serves is applied, as the only known wish.

Aliases are compare-and-set: a role is moved only while it holds one of the
change's two versions, so an alias someone moved meanwhile (a new challenger from
``onepipe run``) is left alone and reported.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

from onepipe.history import Change, DeploymentState, Intent, IntentLog, Moves, open_history
from onepipe.serve.errors import DeployError
from onepipe.serve.protocol import Deployer
from onepipe.sql import LockTimeout
from onepipe.tracking.aliases import alias
from onepipe.tracking.registry import resolve_model, role_versions, set_role

if TYPE_CHECKING:
    from onepipe.config import Settings
    from onepipe.tracking.registry import ModelRef

LOCK_WAIT_S = 600.0  # a change waits this long for another one (loading models takes time)


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


@contextmanager
def session(
    settings: Settings, deployer: Deployer, notify: Callable[[str], None] = _stderr
) -> Iterator[Transaction]:
    """Hold the model's change lock, repair what a dead process left, then hand over."""
    tx = Transaction(settings, deployer, IntentLog(open_history(settings)), notify)
    with change_lock(settings, deployer.backend, notify):
        tx.recover()
        yield tx


@contextmanager
def change_lock(
    settings: Settings, backend: str, notify: Callable[[str], None] = _stderr
) -> Iterator[None]:
    """One change at a time per (env, backend, model); released when the holder dies."""
    what = f"{settings.model_name} (env {settings.env}, {backend})"
    key = f"{settings.env}/{backend}/{settings.model_name}"
    lock = open_history(settings).lock(
        key, LOCK_WAIT_S, lambda: notify(f"waiting for a deployment change of {what}…")
    )
    with ExitStack() as held:
        try:
            held.enter_context(lock)
        except LockTimeout:
            raise DeployError(
                f"another deployment change of {what} is still running after "
                f"{LOCK_WAIT_S:.0f}s (expected it to finish first; try again when it has)"
            ) from None
        yield


def model_refs(settings: Settings, state: DeploymentState) -> dict[str, ModelRef]:
    return {v: resolve_model(settings, f"{state.model}/{v}") for v in state.versions}


class Transaction:
    def __init__(
        self,
        settings: Settings,
        deployer: Deployer,
        log: IntentLog,
        notify: Callable[[str], None],
    ) -> None:
        self.settings, self.deployer, self.log, self.notify = settings, deployer, log, notify
        self.scope = {
            "env": settings.env,
            "backend": deployer.backend,
            "model": settings.model_name,
        }

    def last(self) -> Change | None:
        """The latest confirmed change."""
        changes = self.log.store.list(limit=1, **self.scope)
        return changes[0] if changes else None

    def run(
        self,
        action: str,
        state: DeploymentState,
        reason: str,
        aliases: dict[str, str | None] | None = None,
    ) -> tuple[Change, str]:
        """Make ``state`` live and set the alias roles in ``aliases``; returns (change, message)."""
        refs = model_refs(self.settings, state)
        now = role_versions(self.settings, state.model) if aliases else {}
        moves = {r: (now[r], v) for r, v in (aliases or {}).items() if now[r] != v}
        intent = self.log.begin(
            action=action,
            user=self.settings.user,
            state=state,
            reason=reason,
            moves=moves,
            env=self.settings.env,
            backend=self.deployer.backend,
        )
        applying = False
        try:
            if moves:
                _move_roles(self.settings, state.model, moves, forward=True)
            applying = True
            message = self.deployer.apply(state, refs)
            change = self.log.confirm(intent)
        except Exception as exc:
            # A DeployError means the deployer kept the previous routing (its protocol).
            self._undo(intent, exc, reapply=applying and not isinstance(exc, DeployError))
            raise
        return change, message

    def _undo(self, intent: Intent, exc: Exception, reapply: bool) -> None:
        try:
            base = self.last()
            if reapply and base is not None:
                self.deployer.apply(base.state, model_refs(self.settings, base.state))
            _move_roles(self.settings, intent.state.model, intent.moves, forward=False)
            self.log.roll_back(intent, f"failed: {exc}")
        except Exception as undo:  # noqa: BLE001 - the intent stays pending: repaired next time
            self.notify(
                f"warning: undoing the failed {intent.action} failed too ({undo}); the next "
                "deployment command (or `onepipe serve`) repairs it"
            )

    def recover(self) -> None:
        for intent in self.log.pending(**self.scope):
            try:
                line = self._repair(intent)
            except DeployError as exc:  # its own kind (and exit code), with what was at stake
                raise type(exc)(
                    f"an interrupted {intent.describe()} cannot be repaired now ({exc}); "
                    "it stays pending and this command changed nothing"
                ) from None
            self.notify(line)

    def _repair(self, intent: Intent) -> str:
        live = self.deployer.live()
        base = self.last()
        head = f"recovered: {intent.describe()} was interrupted"
        if live == intent.state or (base is None and live is not None):
            if live != intent.state:
                self.deployer.apply(intent.state, model_refs(self.settings, intent.state))
            moved = _move_roles(self.settings, intent.state.model, intent.moves, forward=True)
            change = self.log.confirm(
                intent, reason=f"{intent.reason} (completed after an interruption)".lstrip()
            )
            return f"{head} after the routing changed; completed it as history #{change.id}{moved}"
        if base is not None:
            # Applied even when it seems live: an apply the dead process sent may still be
            # running in the gateway, and the gateway applies one state at a time.
            self.deployer.apply(base.state, model_refs(self.settings, base.state))
        moved = _move_roles(self.settings, intent.state.model, intent.moves, forward=False)
        back = f"history #{base.id} ({base.state.describe()})" if base else "nothing deployed"
        self.log.roll_back(intent, f"rolled back to {back}")
        return f"{head} before the routing changed; rolled back to {back}{moved}"


def _move_roles(settings: Settings, model: str, moves: Moves, *, forward: bool) -> str:
    """Each alias role to its version after (``forward``) or before the change; what was done."""
    if not moves:
        return ""
    now = role_versions(settings, model)
    done: list[str] = []
    for role, (before, after) in moves.items():
        want, other = (after, before) if forward else (before, after)
        name = alias(settings, role)
        if now[role] == want:
            done.append(f"{name} {_version(want)}")
        elif now[role] == other:
            set_role(settings, model, role, want)
            done.append(f"{name} {_version(want)}")
        else:  # moved by someone else since the change began: theirs stands
            done.append(f"{name} left at {_version(now[role])} (moved meanwhile)")
    return "; registry aliases: " + ", ".join(done)


def _version(version: str | None) -> str:
    return f"v{version}" if version else "unset"
