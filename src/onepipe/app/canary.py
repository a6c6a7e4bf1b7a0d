"""One cycle of the canary loop: judge the live canary, act on the verdict, record why.

A person runs it with ``onepipe canary analyze --auto``; on a cluster the Helm chart's
canary CronJob runs the same command on a schedule in each environment whose serve
backend routes traffic through a cluster object (its own ServiceAccount, a Role that may
get and patch that one object). Either way the verdict is computed on the prediction
store's window since the last deployment change (``monitor.report.analyze_canary``) and
a decisive one goes through ``serve.deployments`` (promote, or withdraw the challenger),
whose transaction writes the deployment history row. That row's reason carries the
verdict's reason and its evidence as JSON after ``EVIDENCE`` (``evidence_of`` reads it
back), so every automatic action can be audited with the numbers it was taken on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from onepipe.monitor.report import analyze_canary
from onepipe.serve import deployments

if TYPE_CHECKING:
    from onepipe.config import Settings
    from onepipe.history import Change
    from onepipe.monitor.canary import Verdict
    from onepipe.monitor.protocol import PredictionStore

EVIDENCE = " evidence="  # what precedes the evidence JSON in a history row's reason
SUMMARY_CHARS = 500  # the readable part of the reason; the evidence follows in full


@dataclass(frozen=True)
class Cycle:
    """What one cycle decided and, for promote or rollback when acting, what it applied."""

    verdict: Verdict
    applied: str | None

    def to_dict(self) -> dict[str, Any]:
        return {**self.verdict.to_dict(), "applied": self.applied}


def _plain(value: Any) -> Any:
    """numpy scalars and anything else json cannot write, as plain values."""
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


def evidence_json(verdict: Verdict) -> str:
    return json.dumps(verdict.evidence, sort_keys=True, separators=(",", ":"), default=_plain)


def reason_for(verdict: Verdict, source: str) -> str:
    """The history row's reason: who decided what and why, then the evidence as JSON."""
    summary = f"{source}: {verdict.verdict} ({verdict.reason})"[:SUMMARY_CHARS]
    return summary + EVIDENCE + evidence_json(verdict)


def summary(reason: str) -> str:
    """A history reason without the evidence JSON a canary action appends (for tables)."""
    return reason.partition(EVIDENCE)[0]


def evidence_of(change: Change) -> dict[str, Any] | None:
    """The verdict's evidence a canary action recorded with ``change``, else None."""
    _, sep, tail = change.reason.partition(EVIDENCE)
    if not sep:
        return None
    try:
        return json.loads(tail)
    except ValueError:
        return None


def apply_verdict(
    settings: Settings, verdict: Verdict, source: str = "canary analyze --auto"
) -> str:
    """Promote or roll back through the deployer; the history row carries the reason and
    the evidence. A rollback is refused (UsageError) unless the verdict's challenger is the
    one routed now, so a verdict on an older window never undoes a later change."""
    reason = reason_for(verdict, source)
    if verdict.verdict == "promote":
        ref, previous, routed = deployments.promote(
            settings, version=verdict.challenger, reason=reason
        )
        where = f"; deployment #{routed[0].id}: {routed[1]}" if routed else ""
        return f"promoted {ref.name} v{ref.version} to champion (was {previous}){where}"
    if verdict.verdict != "rollback":
        raise ValueError(f"apply_verdict: nothing to apply for a {verdict.verdict} verdict")
    change, message = deployments.withdraw_challenger(settings, verdict.challenger, reason=reason)
    return f"#{change.id} rollback: {change.state.describe()} ({message})"


def cycle(
    settings: Settings,
    store: PredictionStore,
    since: float,
    *,
    act: bool = True,
    source: str = "canary analyze --auto",
) -> Cycle:
    """Judge the canary on the window from ``since`` (or the last change, if later); with
    ``act``, apply a promote or rollback. A wait changes nothing and writes no history."""
    verdict = analyze_canary(settings, store, since=since)
    applied = None
    if act and verdict.verdict in ("promote", "rollback"):
        applied = apply_verdict(settings, verdict, source)
    return Cycle(verdict, applied)
