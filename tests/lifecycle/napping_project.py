"""A tiny project whose one step naps for ``seconds`` and leaves its pid in ``marks``.

Steps run in the process of the run (or trial) that executes them, so the marker
files name exactly the processes a test expects to die. Nothing is registered
(the model step does not exist), so runs stay cheap.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

PIPELINE = """
from kfp import dsl
from kfp.dsl import Dataset, Output


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def nap(seconds: float, marks: str, out: Output[Dataset]):
    import os
    import pathlib
    import time

    pathlib.Path(marks).mkdir(parents=True, exist_ok=True)
    pathlib.Path(marks, str(os.getpid())).write_text(str(seconds))
    time.sleep(seconds)
    with open(out.path, "w") as fh:
        fh.write(str(seconds))


@dsl.pipeline(name="napping")
def napping(seconds: float = 0.0, marks: str = ""):
    nap(seconds=seconds, marks=marks)
"""


def make_napping_project(root: Path, *, trials: int = 2) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "nappipe.py").write_text(PIPELINE)
    marks = root / "marks"
    (root / "onepipe.yaml").write_text(
        textwrap.dedent(f"""\
        project: napping
        model: {{name: nap-model, task: regression, step: no-such-step, output: out,
                 metrics_step: nap}}
        pipeline:
          module: nappipe
          function: napping
          params: {{seconds: 0.0, marks: "{marks}"}}
        sweep:
          objective: {{type: minimize, objectiveMetricName: rmse}}
          algorithm: {{algorithmName: random}}
          parameters:
            - {{name: seconds, parameterType: double, feasibleSpace: {{min: 600, max: 700}}}}
          maxTrialCount: {trials}
          parallelTrialCount: {trials}
          maxFailedTrialCount: {trials}
        """)
    )
    return root


def marked_pids(root: Path) -> set[int]:
    folder = root / "marks"
    return {int(p.name) for p in folder.iterdir()} if folder.is_dir() else set()


def running(pid: int) -> bool:
    """A process that still runs (a zombie waiting to be reaped has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"
