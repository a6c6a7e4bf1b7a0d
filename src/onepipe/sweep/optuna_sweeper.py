"""The local sweeper: an Optuna study whose trials run the trial command as subprocesses.

Each trial is a child process (like a Katib trial pod) running ``onepipe trial``,
tethered to the sweeper (lifecycle/tether.py: it dies with the sweeper, even a SIGKILLed one);
its stdout is parsed line by line with the Katib collector's regex, intermediate
objective values feed the pruner (Katib's medianstop) and a pruned trial is
terminated. All study access happens on the calling thread; reader threads only
forward lines. The study lives in SQLite under ``.onepipe/sweeps/`` so
``--resume`` picks up after Ctrl-C or a kill: trials caught mid-flight are
re-queued with the same params.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import optuna

from onepipe.config import Settings
from onepipe.errors import ConfigError, NotFoundError, RunFailed, UsageError
from onepipe.lifecycle.tether import signal_group, tethered
from onepipe.sweep import algorithms, lineage
from onepipe.sweep.metrics import Observation, parse_line
from onepipe.sweep.naming import sweep_name
from onepipe.sweep.protocol import (
    EARLY_STOPPED,
    FAILED,
    RUNNING,
    SUCCEEDED,
    NullSweepListener,
    SweepListener,
    SweepOptions,
    SweepStatus,
    TrialRecord,
)
from onepipe.sweep.space import SearchParam, check_space
from onepipe.sweep.trial import pinned_data, trial_spec

_TERMINATE_GRACE_S = 10.0


class _Running:
    def __init__(self, trial, record: TrialRecord, proc: subprocess.Popen, log: Path) -> None:
        self.trial = trial
        self.record = record
        self.proc = proc
        self.log = log.open("a", encoding="utf-8")
        self.obs = Observation()
        self.pruned = False


class OptunaSweeper:
    name = "optuna"

    def __init__(
        self,
        settings: Settings,
        options: SweepOptions | None = None,
        *,
        launcher: list[str] | None = None,
    ) -> None:
        options = options or SweepOptions()
        self.settings = settings
        self.sweep = sweep_name(settings, options.name)
        self.dir = settings.state_dir / "sweeps" / self.sweep
        self.db = settings.state_dir / "sweeps" / f"{self.sweep}.db"
        # The environment trial processes start from: the CLI hands down its own, so this
        # module never reads os.environ.
        self.child_env = dict(options.child_env)
        # argv[0] "onepipe" of the trial command becomes this (same interpreter, no PATH lookup).
        self.launcher = launcher or [sys.executable, "-m", "onepipe"]

    @classmethod
    def from_settings(cls, settings: Settings, options: SweepOptions) -> OptunaSweeper:
        return cls(settings, options)

    # ---- storage ------------------------------------------------------------
    @property
    def storage(self) -> str:
        return f"sqlite:///{self.db}"

    def _load(self):
        if not self.db.exists():
            raise NotFoundError(
                f"sweep {self.sweep!r} not found (no study at {self.db}; "
                "start it with `onepipe sweep`)"
            )
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        return optuna.load_study(study_name=self.sweep, storage=self.storage)

    def _signature(self) -> str:
        """What must not change between a sweep and its resume: the space and the config."""
        return json.dumps(
            {
                "sweep": self.settings.sweep.model_dump(by_alias=True),
                "config_hash": self.settings.config_hash,
            },
            sort_keys=True,
            default=str,
        )

    # ---- Sweeper protocol ---------------------------------------------------
    def check(self) -> None:
        check_space(self.settings, local=True)
        algorithms.check_local(self.settings)

    def run(
        self, *, resume: bool = False, use_cache: bool = True, listener: SweepListener | None = None
    ) -> SweepStatus:
        listener = listener or NullSweepListener()
        space = check_space(self.settings, local=True)
        algorithms.check_local(self.settings)
        sampler = algorithms.make_sampler(self.settings, space)
        pruner = algorithms.make_pruner(self.settings)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        cfg = self.settings.sweep
        if self.db.exists() and not resume:
            raise UsageError(
                f"sweep {self.sweep!r} already exists: pass --resume to continue it, "
                "or --name NAME to start another"
            )
        if resume:
            study = self._load()
            study.sampler, study.pruner = sampler, pruner
            if study.user_attrs.get("signature") != self._signature():
                raise ConfigError(
                    f"sweep {self.sweep!r}: the sweep section or config changed since it "
                    "started (expected the same space to resume; use --name for a new sweep)"
                )
            parent = study.user_attrs["parent_run_id"]
            commits = study.user_attrs.get("data_commits", {})
            self._requeue_interrupted(study)
            lineage.reopen_parent_run(self.settings, parent)
        else:
            self.db.parent.mkdir(parents=True, exist_ok=True)
            commits = pinned_data(self.settings)
            study = optuna.create_study(
                storage=self.storage,
                study_name=self.sweep,
                sampler=sampler,
                pruner=pruner,
                direction="maximize" if cfg.objective.type == "maximize" else "minimize",
            )
            parent = lineage.start_parent_run(self.settings, self.sweep, self.name, space)
            for key, value in {
                "signature": self._signature(),
                "parent_run_id": parent,
                "data_commits": commits,
                "backend": self.name,
            }.items():
                study.set_user_attr(key, value)
        study.set_user_attr("state", RUNNING)
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            self._loop(study, space, parent, commits, use_cache, listener)
        except KeyboardInterrupt:
            study.set_user_attr("state", "Interrupted")
            lineage.finish_parent_run(self.settings, parent, status="KILLED", tags={})
            raise
        return self._conclude(study, parent, listener)

    def status(self) -> SweepStatus:
        return self._status(self._load())

    def best(self) -> TrialRecord | None:
        best = self._status(self._load()).best
        if best is not None:  # the study keeps params and values; the run id lives in MLflow
            best.run_id = lineage.find_trial_run(self.settings, self.sweep, best.name)
        return best

    # ---- the loop -----------------------------------------------------------
    def _loop(
        self,
        study,
        space: list[SearchParam],
        parent: str,
        commits: dict[str, str],
        use_cache: bool,
        listener: SweepListener,
    ) -> None:
        cfg = self.settings.sweep
        names = [cfg.objective.objectiveMetricName, *cfg.objective.additionalMetricNames]
        dists = {p.name: algorithms.distribution(p) for p in space}
        by_name = {p.name: p for p in space}
        events: queue.Queue = queue.Queue()
        running: dict[int, _Running] = {}
        grid_total = algorithms.grid_size(space) if cfg.algorithm.algorithmName == "grid" else None
        try:
            while True:
                status = self._status(study)
                finished = sum(v for k, v in status.counts.items() if k != RUNNING)
                limit = min(cfg.maxTrialCount, grid_total or cfg.maxTrialCount)
                stop = status.counts[FAILED] >= max(
                    cfg.maxFailedTrialCount, 1
                ) or self._goal_reached(status)
                while (
                    not stop
                    and len(running) < cfg.parallelTrialCount
                    and finished + len(running) < limit
                ):
                    trial = study.ask(dists)
                    run = self._launch(trial, by_name, parent, commits, use_cache, events)
                    running[trial.number] = run
                    listener.trial_started(run.record)
                if not running:
                    return
                kind, number, payload = events.get()
                run = running.get(number)
                if run is None:
                    continue
                if kind == "line":
                    self._on_line(run, payload, names, cfg.objective.objectiveMetricName)
                else:
                    self._on_exit(study, run, payload, cfg.objective.objectiveMetricName)
                    del running[number]
                    listener.trial_finished(run.record, self._status(study))
        finally:
            for run in running.values():  # interrupted: stop trials in flight, cleanly
                _terminate(run.proc)
                run.log.close()
                run.trial.set_user_attr(
                    "interrupted", True
                )  # before tell: finished trials are frozen
                study.tell(run.trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)

    def _launch(
        self,
        trial,
        by_name: dict[str, SearchParam],
        parent: str,
        commits: dict[str, str],
        use_cache: bool,
        events: queue.Queue,
    ) -> _Running:
        values = {k: by_name[k].cli_value(v) for k, v in trial.params.items()}
        trial_name = f"{self.sweep}-{trial.number}"
        spec = trial_spec(
            self.settings,
            values=values,
            sweep=self.sweep,
            trial_name=trial_name,
            parent_run_id=parent,
            data_commits=commits,
        )
        argv = [*self.launcher, *spec.argv[1:]]
        if not use_cache:
            argv.append("--no-cache")
        env = {**self.child_env, **spec.env}
        trial.set_user_attr("trial_name", trial_name)
        trial.set_user_attr("command", spec.shell())
        log = self.dir / f"{trial_name}.log"
        with log.open("w", encoding="utf-8") as fh:
            fh.write(f"$ {spec.shell()}\n")
        err = log.open("a", encoding="utf-8")
        # Own session: a Ctrl-C at the terminal reaches the sweeper, which stops trials itself.
        # Tethered: a sweeper killed outright (SIGKILL) takes its trials with it.
        proc = subprocess.Popen(
            tethered(argv),
            cwd=self.settings.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        err.close()
        record = TrialRecord(trial_name, RUNNING, dict(trial.params))
        threading.Thread(target=_pump, args=(proc, trial.number, events), daemon=True).start()
        return _Running(trial, record, proc, log)

    def _on_line(self, run: _Running, line: str, names: list[str], objective: str) -> None:
        run.log.write(line)
        for name, value in parse_line(line, names):
            step = run.obs.add(name, value)
            if name == objective and not run.pruned:
                run.trial.report(value, step)
                if run.trial.should_prune():
                    run.pruned = True
                    _terminate(run.proc)

    def _on_exit(self, study, run: _Running, rc: int, objective: str) -> None:
        run.log.close()
        finals = run.obs.finals()
        run.trial.set_user_attr("metrics", finals)
        run.trial.set_user_attr("returncode", rc)
        value = run.obs.latest(objective)
        if run.pruned:
            study.tell(run.trial, state=optuna.trial.TrialState.PRUNED)
            run.record.state = EARLY_STOPPED
        elif rc == 0 and value is not None:
            study.tell(run.trial, value)
            run.record.state, run.record.value = SUCCEEDED, value
        else:
            why = f"exit code {rc}" if rc else f"objective {objective} was never printed"
            run.trial.set_user_attr("error", f"{why}; log: {run.log.name}")
            study.tell(run.trial, state=optuna.trial.TrialState.FAIL)
            run.record.state = FAILED
        run.record.metrics = finals

    def _requeue_interrupted(self, study) -> None:
        """Trials cut off by Ctrl-C or a kill run again, with the same params, on resume."""
        requeued = set(study.user_attrs.get("requeued", []))
        for t in study.get_trials(deepcopy=False):
            if t.state == optuna.trial.TrialState.RUNNING:  # the sweeper itself was killed
                study._storage.set_trial_user_attr(t._trial_id, "interrupted", True)
                study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
            elif not (t.state == optuna.trial.TrialState.FAIL and t.user_attrs.get("interrupted")):
                continue
            if t.number not in requeued:
                study.enqueue_trial(t.params, skip_if_exists=False)
                requeued.add(t.number)
        study.set_user_attr("requeued", sorted(requeued))

    def _goal_reached(self, status: SweepStatus) -> bool:
        goal = self.settings.sweep.objective.goal
        if goal is None or status.best is None or status.best.value is None:
            return False
        if self.settings.sweep.objective.type == "maximize":
            return status.best.value >= goal
        return status.best.value <= goal

    def _conclude(self, study, parent: str, listener: SweepListener) -> SweepStatus:
        status = self._status(study)
        cfg = self.settings.sweep
        failed = status.counts[FAILED] >= max(cfg.maxFailedTrialCount, 1)
        if failed or status.best is None:
            study.set_user_attr("state", FAILED)
            lineage.finish_parent_run(self.settings, parent, status="FAILED", tags={})
            errors = [
                t.user_attrs.get("error", "") for t in study.trials if t.user_attrs.get("error")
            ]
            raise RunFailed(
                f"sweep {self.sweep!r} failed: {status.counts[FAILED]} trials failed "
                f"(maxFailedTrialCount {cfg.maxFailedTrialCount})"
                + (f"; last: {errors[-1]}" if errors else "")
            )
        best = status.best
        run_id = lineage.find_trial_run(self.settings, self.sweep, best.name)
        if run_id is None:
            raise NotFoundError(
                f"sweep {self.sweep!r}: best trial {best.name} has no finished MLflow run"
            )
        ref = lineage.register_best(
            self.settings,
            sweep=self.sweep,
            trial_name=best.name,
            trial_run_id=run_id,
            parent_run_id=parent,
        )
        study.set_user_attr("model_version", ref.version)
        study.set_user_attr("state", SUCCEEDED)
        metrics = {f"best_{k}": v for k, v in best.metrics.items()}
        lineage.finish_parent_run(
            self.settings,
            parent,
            status="FINISHED",
            metrics=metrics,
            tags={"onepipe.best_params": lineage.best_params_json(best.params)},
        )
        final = self._status(study)
        final.best.run_id = run_id
        listener.status_changed(final)
        return final

    def _status(self, study) -> SweepStatus:
        states = {
            optuna.trial.TrialState.COMPLETE: SUCCEEDED,
            optuna.trial.TrialState.PRUNED: EARLY_STOPPED,
            optuna.trial.TrialState.FAIL: FAILED,
            optuna.trial.TrialState.RUNNING: RUNNING,
            optuna.trial.TrialState.WAITING: RUNNING,
        }
        counts = {RUNNING: 0, SUCCEEDED: 0, FAILED: 0, EARLY_STOPPED: 0}
        trials = []
        for t in study.get_trials(deepcopy=False):
            if t.user_attrs.get("interrupted") or t.state == optuna.trial.TrialState.WAITING:
                continue  # re-run on resume: not a result of the sweep
            state = states[t.state]
            counts[state] += 1
            trials.append(
                TrialRecord(
                    t.user_attrs.get("trial_name", f"{self.sweep}-{t.number}"),
                    state,
                    dict(t.params),
                    t.value if t.values else None,
                    dict(t.user_attrs.get("metrics", {})),
                )
            )
        done = [r for r in trials if r.state == SUCCEEDED and r.value is not None]
        cfg = self.settings.sweep
        best = None
        if done:
            pick = max if study.direction == optuna.study.StudyDirection.MAXIMIZE else min
            best = pick(done, key=lambda r: r.value)
        attrs = study.user_attrs
        return SweepStatus(
            name=self.sweep,
            backend=self.name,
            state=attrs.get("state", "Created"),
            objective=cfg.objective.objectiveMetricName,
            direction=cfg.objective.type,
            max_trials=cfg.maxTrialCount,
            counts=counts,
            best=best,
            parent_run_id=attrs.get("parent_run_id"),
            model_version=attrs.get("model_version"),
            trials=trials,
        )


def _pump(proc: subprocess.Popen, number: int, events: queue.Queue) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        events.put(("line", number, line))
    events.put(("exit", number, proc.wait()))


def _terminate(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(_TERMINATE_GRACE_S)
    except subprocess.TimeoutExpired:
        signal_group(proc, signal.SIGKILL)  # the trial and whatever it started
        proc.wait()
