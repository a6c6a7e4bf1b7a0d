"""Errors a user can act on.

Every error a user can cause is an ``OnepipeError``: the CLI prints its message
as one line and exits with its ``exit_code``; nothing else reaches the terminal.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class OnepipeError(Exception):
    """A problem the user can fix; the message is the whole story, on one line."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()) if "\n" in message else message)


class UsageError(OnepipeError):
    """Bad arguments or bad input data handed to a command."""


class ConfigError(OnepipeError):
    """``onepipe.yaml`` (or an override) is wrong: names the file and the key path."""


class NotFoundError(OnepipeError):
    """A named thing (ref, repo, model, run) does not exist."""


class MissingExtra(OnepipeError):
    """A command needs an optional part of onepipe (an extra) that is not installed."""


class RunFailed(OnepipeError):
    """A pipeline run, a step or a trial failed; exit code 1 as for any failed run."""

    exit_code = 1
    result = None  # the partial RunResult, for callers that report what ran

    def with_result(self, result) -> RunFailed:
        self.result = result
        return self


def closest(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """A ' (did you mean: a, b?)' suffix naming the closest candidates, or ''."""
    pool = sorted(set(candidates))
    matches = difflib.get_close_matches(name, pool, n=n, cutoff=0.6)
    if not matches:
        prefixed = [c for c in pool if c.startswith(name[:3])] if name else []
        matches = prefixed[:n]
    if matches:
        return f" (did you mean: {', '.join(matches)}?)"
    if pool:
        shown = ", ".join(pool[:8]) + (", ..." if len(pool) > 8 else "")
        return f" (existing: {shown})"
    return ""
