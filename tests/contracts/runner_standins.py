"""How each ``Runner`` backend is stood up for test_runner_contract.py.

A stand-in is ``build(request, root) -> list[str]``: given the suite's small chain
project at ``root`` (see ``make_chain_project``), it makes whatever the backend needs
(a server, a git checkout) and returns the config overrides that point the backend at
it. The suite adds ``backends.runner=<name>``, builds the runner with the registry's
``from_settings`` and the plan with ``build_plan``, and calls ``run`` itself.
"""

from __future__ import annotations

from pathlib import Path

from contract_registry import StandIn
from kfp_emulator import KfpEmulator


def local(request, root: Path) -> list[str]:
    return []  # runs here: nothing to stand up


class ExecutingKfp(KfpEmulator):
    """The KFP REST emulator, plus what a cluster does with a run: it executes the
    uploaded pipeline version with the run's parameters (onepipe's in-process executor
    standing in for the pods) and reports each task's state from that."""

    def __init__(self, root: Path, module: str) -> None:
        super().__init__()
        self.root, self.module = root, module
        self.outcomes: dict[str, dict[str, str]] = {}  # run id -> task -> KFP state

    def create_run(self, request) -> dict:
        from onepipe.pipeline.graph import PipelineGraph
        from onepipe.pipeline.protocol import NullListener, RunPlan
        from onepipe.pipeline.runners.inprocess import InProcessRunner

        run = super().create_run(request)
        spec = self.versions[run["pipeline_version_reference"]["pipeline_version_id"]]["spec"]
        graph = PipelineGraph.from_ir(spec)
        pods = self.root / ".kfp-pods" / run["run_id"]
        plan = RunPlan(
            graph=graph,
            ir=spec,
            arguments=graph.arguments(run["runtime_config"]["parameters"]),
            run_dir=pods / "run",
            cache_dir=pods / "cache",
            project_root=self.root,
            pipeline_module=self.module,
            use_cache=False,
        )
        kfp_state = {"done": "SUCCEEDED", "failed": "FAILED", "skipped": "SKIPPED"}
        steps = InProcessRunner().run(plan, NullListener())
        self.outcomes[run["run_id"]] = {s.name: kfp_state[s.status] for s in steps}
        return run

    def get_run(self, request) -> dict:
        tasks = self.outcomes[request.url.path.rsplit("/", 1)[-1]]
        self.task_states = tasks
        self.states = ["RUNNING", "FAILED" if "FAILED" in tasks.values() else "SUCCEEDED"]
        return super().get_run(request)


def kfp(request, root: Path) -> list[str]:
    from onepipe_testkit import git_init

    from onepipe.config import load_settings

    git_init(root)  # a pipeline version is named by the code's commit
    server = ExecutingKfp(root, load_settings(root / "onepipe.yaml").pipeline.module)
    request.addfinalizer(server.stop)
    return [f"kfp.host={server.url}", "kfp.poll_interval_s=0.01"]


STANDINS = {
    "inprocess": StandIn(local),
    "kfp-local": StandIn(local),
    "kfp": StandIn(kfp),
}
