"""Live step progress on stderr and the end-of-run summary."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rich.console import Console
from rich.table import Table

from onepipe.pipeline.protocol import StepResult

_MARK = {
    "done": "[green]✓[/]",
    "cached": "[cyan]↺[/]",
    "failed": "[red]✗[/]",
    "skipped": "[dim]-[/]",
}


class StepProgress:
    """A ``RunListener`` that shows a spinner for the running step and a line per finished one."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._status = None

    def step_started(self, task: str, cache_key: str, outputs: Mapping[str, Path]) -> None:
        self._status = self.console.status(f"[bold]{task}[/] running…", spinner="dots")
        self._status.start()

    def step_finished(self, result: StepResult) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        self.console.print(f"  {_MARK[result.status]} {result.name:<12} {_describe(result)}")


def _describe(step: StepResult) -> str:
    if step.status == "cached":
        src = f" (outputs from run {step.source_run[:12]})" if step.source_run else ""
        return f"[cyan]cached[/]{src}"
    if step.status == "failed":
        return f"[red]failed[/] after {step.duration:.2f}s: {step.error}"
    if step.status == "skipped":
        return "[dim]skipped[/]"
    return f"done in {step.duration:.2f}s"


def summary_table(result) -> Table:
    table = Table(title=None, show_edge=False, pad_edge=False)
    table.add_column("step")
    table.add_column("status")
    table.add_column("duration", justify="right")
    table.add_column("metrics")
    for s in result.steps:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in list(s.metrics.items())[:4])
        table.add_row(s.name, s.status, f"{s.duration:.3f}s" if s.status == "done" else "-", shown)
    return table


def print_summary(console: Console, result, settings) -> None:
    console.print()
    console.print(summary_table(result))
    n = len(result.steps)
    if result.cache_hits == n:
        console.print(f"[cyan]All {n} steps were cache hits: nothing executed.[/]")
    else:
        console.print(f"{result.executed} of {n} steps executed, {result.cache_hits} cache hits.")
    if result.metrics:
        console.print(
            "metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(result.metrics.items()))
        )
    if result.model_version:
        how = (
            "registered as new version, alias challenger"
            if result.model_is_new
            else f"identical model: reused version {result.model_version}, nothing registered"
        )
        console.print(f"model: {settings.model_name}/{result.model_version} ({how})")
    run = result.run_id or "queued, written to MLflow in the background"
    console.print(
        f"run: {run}  data: {', '.join(result.data_refs.values()) or '-'}  "
        f"({result.duration:.2f}s, runner {result.runner})"
    )
    console.print("UI: [bold]onepipe ui[/] then open http://127.0.0.1:5000")
