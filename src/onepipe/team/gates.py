"""Promotion gates: what a model version must show before ``promote --from A --to B`` moves it.

The gates are B's (``promotion:`` of B's resolved config, onepipe.config.promotion):

- **metrics**: the candidate scored on the ``holdout`` data commit (B's data store) with
  onepipe's own metrics; each declared metric no worse than its threshold, in the
  metric's direction (at least 0.8 roc_auc, at most 25 rmse).
- **champion**: the candidate against B's current champion on that same commit, on one
  metric (default: the project's primary); worse by more than the margin fails. With no
  champion in B yet the gate is skipped, and says so.
- **canary**: the candidate's last canary in A, read from A's deployment history (the
  latest change that routed traffic to it as the challenger) and analysed again by the
  canary analysis (onepipe.monitor) on A's prediction store over that change's window,
  up to the next change: the verdict must be promote. No canary ran: the gate fails.

Every gate is evaluated, so a refusal names all that failed, and ``--force`` records
all that it overrode.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import yaml

from onepipe.data import open_store, read_table
from onepipe.errors import NotFoundError, OnepipeError, UsageError
from onepipe.history import Change, open_history
from onepipe.monitor.report import change_time, judge_canary
from onepipe.monitor.store import open_store as open_prediction_store
from onepipe.monitor.task import task_for
from onepipe.quality.metrics import METRICS, offline_metrics
from onepipe.serve.models import read_signature
from onepipe.tracking.aliases import CHAMPION
from onepipe.tracking.artifacts import local_path
from onepipe.tracking.model_code import forget_shadowing_modules
from onepipe.tracking.modelfacts import read_facts
from onepipe.tracking.registry import resolve_model

if TYPE_CHECKING:
    import pandas as pd

    from onepipe.config import Settings
    from onepipe.config.promotion import ChampionGate
    from onepipe.tracking.registry import ModelRef

GATES = ("metrics", "champion", "canary")
EVIDENCE_MAX = 5000  # a registry tag's value: the smallest limit of the stores MLflow runs on


@dataclass
class GateResult:
    gate: str  # metrics | champion | canary
    status: str  # passed | failed | skipped | error (could not be evaluated; only under --force)
    summary: str  # one line with the figures
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "error")

    def line(self) -> str:
        return f"gate {self.gate} {self.status}: {self.summary}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GateReport:
    results: list[GateResult]
    forced: bool = False

    @property
    def failed(self) -> list[GateResult]:
        return [r for r in self.results if r.failed]

    def to_dicts(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.results]

    def reason(self) -> str:
        """What the history row's reason says about the gates (one line, every figure)."""
        if not self.results:
            return ""
        lines = "; ".join(r.line() for r in self.results)
        if self.forced and self.failed:
            names = ", ".join(r.gate for r in self.failed)
            return f"FORCED past failed gate(s) {names}: {lines}"
        return ("forced, " if self.forced else "") + lines

    def evidence(self) -> str:
        """The gates' figures as JSON: a registry tag on the promoted version (the summaries
        alone when the figures would not fit a tag)."""
        text = json.dumps({"forced": self.forced, "gates": self.to_dicts()}, default=str)
        if len(text) <= EVIDENCE_MAX:
            return text
        brief = [{k: r[k] for k in ("gate", "status", "summary")} for r in self.to_dicts()]
        return json.dumps({"forced": self.forced, "gates": brief}, default=str)[:EVIDENCE_MAX]


class PromotionRefused(OnepipeError):
    """A gate said no: exit 1, the report names every failed gate and its figures."""

    exit_code = 1

    def __init__(self, headline: str, report: GateReport) -> None:
        super().__init__(headline + ": " + "; ".join(r.line() for r in report.failed))
        self.headline = headline
        self.report = report


def check_gates(
    src: Settings, dst: Settings, source: ModelRef, *, force: bool = False
) -> GateReport:
    """Evaluate ``dst``'s promotion gates for ``source`` (a version of ``src``'s registry).

    Raises ``PromotionRefused`` when one fails (unless ``force``); a gate that cannot be
    evaluated (holdout commit missing, say) raises its own error unless ``force``, which
    records it as an error instead.
    """
    gates = dst.promotion.gates
    report = GateReport([], forced=force)
    if not gates.declared:
        return report
    scorer = _Scorer(dst)
    steps = []
    if gates.metrics:
        steps.append(("metrics", lambda: _metrics_gate(src, dst, source, scorer)))
    if gates.champion is not None:
        champion = gates.champion
        steps.append(("champion", lambda: _champion_gate(src, dst, source, scorer, champion)))
    if gates.canary:
        steps.append(("canary", lambda: _canary_gate(src, source)))
    for gate, run in steps:
        try:
            report.results.append(run())
        except OnepipeError as exc:
            if not force:
                raise
            report.results.append(GateResult(gate, "error", f"could not be evaluated: {exc}"))
    if report.failed and not force:
        names = ", ".join(r.gate for r in report.failed)
        raise PromotionRefused(
            f"promote {source.name} {src.env} v{source.version} -> {dst.env} refused: "
            f"{len(report.failed)} of {len(report.results)} gate(s) failed ({names}; "
            "--force overrides, and is recorded)",
            report,
        )
    return report


# ---- scoring a version on the holdout commit ----------------------------------------------
class _Scorer:
    """The holdout commit read once from ``dst``'s data store; versions scored on it."""

    def __init__(self, dst: Settings) -> None:
        self.dst = dst
        self._frame: pd.DataFrame | None = None
        self.commit = ""  # the full ref: the figures
        self.shown = ""  # REPO@<12 hex>: the summaries
        self._scores: dict[tuple[str, str], dict[str, Any]] = {}

    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            ref = self.dst.promotion.holdout or ""
            store = open_store(self.dst)
            try:
                commit = store.resolve(ref)
            except NotFoundError as exc:
                raise NotFoundError(f"promotion.holdout {ref}: {exc}") from None
            self.commit, self.shown = commit.ref, f"{commit.repo}@{commit.short}"
            self._frame = read_table(store, commit.ref)
        return self._frame

    def score(self, settings: Settings, ref: ModelRef) -> dict[str, Any]:
        """{"metrics": {name: value}, "task", "rows", "probabilities"} of ``ref`` on the holdout."""
        key = (settings.tracking_uri, ref.version)
        if key not in self._scores:
            self._scores[key] = _score(settings, ref, self.frame(), self.dst.promotion.holdout)
        return self._scores[key]


def _score(settings: Settings, ref: ModelRef, frame: pd.DataFrame, holdout: str | None) -> dict:
    # lazy: MLflow's model loading (~1 s) and numpy are paid only when a gate scores
    import mlflow.pyfunc
    import mlflow.sklearn
    import numpy as np

    path = local_path(settings, ref)
    facts = read_facts(path)
    label = settings.model.label or facts.get("label")
    if not label:
        raise UsageError(
            f"{ref}: no label column known to score it on {holdout} "
            "(expected model.label in onepipe.yaml or one recorded with the model)"
        )
    if label not in frame.columns:
        raise UsageError(
            f"promotion.holdout {holdout}: no column {label!r} (expected the truth column "
            "model.label names, to score the model on)"
        )
    columns = [c.name for c in read_signature(path)]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UsageError(
            f"promotion.holdout {holdout}: missing column(s) {', '.join(missing)} "
            f"(expected {ref}'s inputs: {', '.join(columns)})"
        )
    task = task_for(settings, ref.version) or facts.get("task")
    if task is None:
        raise UsageError(f"{ref}: cannot tell its task (declare model.task in onepipe.yaml)")
    x = frame[columns]
    y = frame[label].to_numpy()
    forget_shadowing_modules(path)
    meta = yaml.safe_load((path / "MLmodel").read_text()) or {}
    score = classes = None
    if "sklearn" in (meta.get("flavors") or {}):
        model = mlflow.sklearn.load_model(str(path))
        y_pred = np.asarray(model.predict(x))
        if task in ("binary", "multiclass") and hasattr(model, "predict_proba"):
            proba = np.asarray(model.predict_proba(x))
            score = proba[:, 1] if task == "binary" and proba.shape[1] == 2 else proba
            found = getattr(model, "classes_", None)
            classes = list(found) if found is not None else None
    else:  # another flavor: what it answers (label metrics only)
        y_pred = np.asarray(mlflow.pyfunc.load_model(str(path)).predict(x))
    names = [n for n, m in METRICS.items() if task in m.tasks]
    values = offline_metrics(task, y, y_pred, score, names=names, classes=classes)
    return {
        "metrics": {k: float(v) for k, v in values.items()},
        "task": task,
        "rows": len(frame),
        "probabilities": score is not None,
    }


def _value(scored: dict, name: str, who: str) -> float:
    if name not in scored["metrics"]:
        why = (
            "the model gives no probabilities"
            if METRICS[name].needs == "score" and not scored["probabilities"]
            else f"not defined for a {scored['task']} model on this data"
        )
        raise UsageError(f"{name} of {who} cannot be computed ({why})")
    return scored["metrics"][name]


def _num(x: float) -> str:
    return f"{x:.4g}"


def _metrics_gate(src: Settings, dst: Settings, source: ModelRef, scorer: _Scorer) -> GateResult:
    scored = scorer.score(src, source)
    where = scorer.shown
    parts, bad, figures = [], [], {}
    for name, threshold in dst.promotion.gates.metrics.items():
        direction = METRICS[name].direction
        try:
            value = _value(scored, name, f"{src.env} v{source.version}")
        except UsageError as exc:
            bad.append(str(exc))
            figures[name] = {"value": None, "threshold": threshold, "direction": direction}
            continue
        ok = value >= threshold if direction == "maximize" else value <= threshold
        sign = (">=" if ok else "<") if direction == "maximize" else ("<=" if ok else ">")
        text = f"{name} {_num(value)} {sign} {_num(threshold)}"
        (parts if ok else bad).append(text + ("" if ok else " required"))
        figures[name] = {
            "value": value,
            "threshold": threshold,
            "direction": direction,
            "passed": ok,
        }
    shown = "; ".join([*bad, *parts])
    summary = f"{src.env} v{source.version} on {where} ({scored['rows']} rows): {shown}"
    return GateResult(
        "metrics",
        "failed" if bad else "passed",
        summary,
        {
            "holdout": scorer.commit,
            "rows": scored["rows"],
            "version": source.version,
            "metrics": figures,
        },
    )


def _champion_gate(
    src: Settings, dst: Settings, source: ModelRef, scorer: _Scorer, gate: ChampionGate
) -> GateResult:
    try:
        champion = resolve_model(dst, f"{source.name}@{CHAMPION}")
    except NotFoundError:
        return GateResult(
            "champion",
            "skipped",
            f"{dst.env} has no champion of {source.name} yet (nothing to compare against)",
            {"champion": None},
        )
    candidate = scorer.score(src, source)
    metrics = dst.metrics_for(candidate["task"])
    name = gate.metric or (metrics[0].name if metrics else None)
    if name is None or name not in METRICS:
        raise UsageError(
            f"promotion.gates.champion: no metric onepipe computes to compare on (primary "
            f"{name!r}; expected promotion.gates.champion.metric, e.g. {_metrics_hint(candidate)})"
        )
    new = _value(candidate, name, f"{src.env} v{source.version}")
    old = _value(scorer.score(dst, champion), name, f"{dst.env} champion v{champion.version}")
    direction = METRICS[name].direction
    worse_by = old - new if direction == "maximize" else new - old
    allowed = gate.margin * abs(old) if gate.relative else gate.margin
    ok = worse_by <= allowed
    kind = f"{gate.margin:.2%} relative" if gate.relative else f"{_num(gate.margin)} absolute"
    how = f"worse by {_num(worse_by)}" if worse_by > 0 else f"better by {_num(-worse_by)}"
    summary = (
        f"{name} {_num(new)} ({src.env} v{source.version}) vs {_num(old)} ({dst.env} champion "
        f"v{champion.version}) on {scorer.shown}: {how}, "
        f"{'within' if ok else 'more than'} the {kind} margin ({_num(allowed)})"
    )
    return GateResult(
        "champion",
        "passed" if ok else "failed",
        summary,
        {
            "holdout": scorer.commit,
            "metric": name,
            "direction": direction,
            "candidate": {"env": src.env, "version": source.version, "value": new},
            "champion": {"env": dst.env, "version": champion.version, "value": old},
            "worse_by": worse_by,
            "margin": gate.margin,
            "relative": gate.relative,
            "allowed": allowed,
        },
    )


def _metrics_hint(scored: dict) -> str:
    return ", ".join(sorted(scored["metrics"])[:3]) or "rmse"


def _canary_gate(src: Settings, source: ModelRef) -> GateResult:
    version = str(source.version)
    backend = src.backends.serve
    changes = open_history(src).list(env=src.env, backend=backend, model=source.name)
    for i, change in enumerate(changes):  # newest first
        state = change.state
        if state.challenger != version or not (state.canary or state.shadow):
            continue
        after = changes[i - 1] if i > 0 else None
        return _judge(src, source, change, after)
    return GateResult(
        "canary",
        "failed",
        f"v{version} never ran as a canary in {src.env} (no change in its deployment "
        f"history, backend {backend}, routed traffic to it as the challenger)",
        {"env": src.env, "version": version, "change": None},
    )


def _judge(src: Settings, source: ModelRef, change: Change, after: Change | None) -> GateResult:
    state = change.state
    start = change_time(change) or 0.0
    end = change_time(after) if after else None
    store = open_prediction_store(src)
    try:
        rows = [
            r
            for r in store.window(model_name=source.name, since=start)
            if end is None or r["time"] < end
        ]
    finally:
        store.close()
    verdict = judge_canary(src, rows, state.champion, state.challenger)
    until = _ts(end) if end else "now"
    summary = (
        f"{src.env} canary of v{state.challenger} vs v{state.champion} (change #{change.id}, "
        f"{_ts(start)} to {until}) says {verdict.verdict}: {verdict.reason}"
    )
    return GateResult(
        "canary",
        "passed" if verdict.verdict == "promote" else "failed",
        summary,
        {
            "env": src.env,
            "change": change.id,
            "next_change": after.id if after else None,
            "start": _ts(start),
            "end": _ts(end) if end else None,
            "verdict": _verdict_figures(verdict.to_dict()),
        },
    )


def _verdict_figures(verdict: dict[str, Any]) -> dict[str, Any]:
    """The verdict's deciding figures: small enough for a registry tag."""
    ev = verdict.get("evidence") or {}
    test = ev.get("loss_test") or {}
    keep = ("difference", "lower", "upper", "margin", "alpha", "p_worse", "p_noninferior")
    return {
        **{k: verdict.get(k) for k in ("verdict", "reason", "champion", "challenger")},
        "task": ev.get("task"),
        "loss": ev.get("loss"),
        "labelled": ev.get("labelled"),
        "means": {arm: (test.get(arm) or {}).get("mean") for arm in ("champion", "challenger")},
        **{k: test.get(k) for k in keep if k in test},
    }


def _ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
