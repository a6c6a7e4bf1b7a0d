"""Live sweep progress on stderr: a status line and one line per finished trial."""

from __future__ import annotations

from rich.console import Console

from onepipe.sweep.protocol import (
    EARLY_STOPPED,
    FAILED,
    RUNNING,
    SUCCEEDED,
    SweepStatus,
    TrialRecord,
)

_MARK = {SUCCEEDED: "[green]✓[/]", FAILED: "[red]✗[/]", EARLY_STOPPED: "[yellow]⏹[/]", RUNNING: "…"}


class SweepProgress:
    """A ``SweepListener`` drawing done/running/failed counts and the best value so far."""

    def __init__(self, console: Console, total: int) -> None:
        self.console = console
        self.total = total
        self.running = 0
        self._status = None
        self._last: SweepStatus | None = None

    def __enter__(self) -> SweepProgress:
        self._status = self.console.status("starting trials…", spinner="dots")
        self._status.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._status is not None:
            self._status.stop()

    def _line(self, status: SweepStatus | None) -> str:
        if status is None:
            return f"{self.running} running"
        c = status.counts
        done = c[SUCCEEDED] + c[FAILED] + c[EARLY_STOPPED]
        text = (
            f"trials {done}/{self.total} done · {c[RUNNING]} running · {c[FAILED]} failed"
            f" · {c[EARLY_STOPPED]} early-stopped"
        )
        if status.best is not None:
            params = ", ".join(f"{k}={_fmt(v)}" for k, v in status.best.params.items())
            text += f" · best {status.objective}={status.best.value:.4f} ({params})"
        return text

    def trial_started(self, trial: TrialRecord) -> None:
        self.running += 1
        if self._status is not None:
            self._status.update(self._line(self._last) + f" · started {trial.name}")

    def trial_finished(self, trial: TrialRecord, status: SweepStatus) -> None:
        self.running -= 1
        self._last = status
        value = f"{status.objective}={trial.value:.4f}" if trial.value is not None else trial.state
        params = " ".join(f"{k}={_fmt(v)}" for k, v in trial.params.items())
        self.console.print(f"  {_MARK.get(trial.state, '?')} {trial.name:<28} {value:<22} {params}")
        if self._status is not None:
            self._status.update(self._line(status))

    def status_changed(self, status: SweepStatus) -> None:
        self._last = status
        if self._status is not None:
            self._status.update(self._line(status))


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
