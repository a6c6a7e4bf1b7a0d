"""Small throwaway projects for tests and benchmarks (no ML libraries involved).

``make_chain_project`` writes a onepipe project whose pipeline is a chain of
``n`` trivial KFP components, each reading its upstream's file and writing
its own; the first step reads ``base`` and step 2 also reads ``factor``.
Step ``k`` imports ``chainlib.helpers`` when ``k`` is the last step, so a test can
edit that helper and see exactly one step re-run.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

_STEP = """
@dsl.component(base_image="python:3.11", install_kfp_package=False)
def step_{i}({inputs}out: Output[Dataset]):
    import os
{body}
    os.makedirs(os.path.dirname(out.path) or ".", exist_ok=True)
    with open(out.path, "w") as fh:
        fh.write(str(value))
    out.metadata["value"] = value
"""


def make_chain_project(root: Path, n: int = 3, *, fail_at: int | None = None) -> Path:
    """Write the project under ``root``; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "onepipe.yaml").write_text(
        textwrap.dedent("""\
        project: chain
        model: {name: chain-model, step: step_1, output: out, metrics_step: step_1}
        pipeline:
          module: chainpipe
          function: chain
          params: {base: 1, factor: 2.0, fail: false}
        """)
    )
    lib = root / "chainlib"
    lib.mkdir(exist_ok=True)
    (lib / "__init__.py").write_text("")
    (lib / "helpers.py").write_text("def finish(value):\n    return value + 1\n")
    steps = []
    for i in range(1, n + 1):
        if i == 1:
            inputs, body = "base: int, fail: bool, ", "    value = base\n"
            if fail_at == 1:
                body += "    if fail:\n        raise ValueError('column base: bad rows 3, 7 (expected >= 0)')\n"
        else:
            inputs = f"prev: Input[Dataset], {'factor: float, ' if i == 2 else ''}"
            inputs += "fail: bool, " if fail_at == i else ""
            body = "    value = float(open(prev.path).read())\n"
            if i == 2:
                body += "    value = value * factor\n"
            if i == n:
                body += "    from chainlib.helpers import finish\n    value = finish(value)\n"
            if fail_at == i:
                body += "    if fail:\n        raise ValueError(f'step {i} failed on purpose')\n".replace(
                    "{i}", str(i)
                )
        steps.append(_STEP.format(i=i, inputs=inputs, body=body.rstrip("\n")))
    wiring = ["    t1 = step_1(base=base, fail=fail)"]
    for i in range(2, n + 1):
        extra = (", factor=factor" if i == 2 else "") + (", fail=fail" if fail_at == i else "")
        wiring.append(f"    t{i} = step_{i}(prev=t{i - 1}.outputs['out']{extra})")
    (root / "chainpipe.py").write_text(
        "from kfp import dsl\nfrom kfp.dsl import Dataset, Input, Output\n"
        + "".join(steps)
        + "\n\n@dsl.pipeline(name='chain')\n"
        + "def chain(base: int = 1, factor: float = 2.0, fail: bool = False):\n"
        + "\n".join(wiring)
        + "\n"
    )
    return root
