"""The step cache's code identity, carried into the IR where Kubeflow's cache sees it.

KFP caches a task on its fingerprint: the executor's image, command and args, the
input parameter values, the input artifacts (by MLMD name, not content) and the output
specs. The training image keeps its tag while the project code inside it changes, and
a lightweight component's command embeds only the step function's own source, so an
edit to ``components/lib/modeling.py`` left every fingerprint as it was: a stale hit.

``stamp`` appends ``--onepipe-code-identity <hex>`` to each executor's args: the step's
code as the laptop cache sees it (``codehash.step_code_hash``: the function's source,
every project file it imports, the onepipe version) plus the step context the pods
read from their environment (the KFP driver leaves ``env`` out of its fingerprint).
``kfp.dsl.executor_main`` ignores arguments it does not know, so the pod runs as
before.

Why not ``cachingOptions.cacheKey`` (``task.set_caching_options(cache_key=...)``,
``PipelineTaskSpec.CachingOptions.cache_key`` in the IR): where it is honoured it
*replaces* the fingerprint. kfp 2.17's own ``kfp.local`` keys a task with a custom
key on the component name and that key alone (``kfp/local/cache.py``
``compute_key``): arguments, image and command are left out. A key fixed at compile
time would then ignore the run's arguments (``-p max_depth=4``, the pinned data
commit) and serve stale results, the very fault this fixes. The 2.17 cluster driver
does not read the field (kubeflow/pipelines#11328); the support merged upstream
since (#13762) keys on it per component, so the same risk may follow it there.

``task_identities`` is what a task's cache identity is, read from the IR: its
executor's image, command and args, its input bindings and its upstream tasks'
identities. Upstream counts because on KFP a task that executes again writes new
artifacts, and its consumers then see new input artifact names, even when the
content is byte for byte the same. So a change reaches exactly the step that imports
the changed file and every task downstream of it (on a laptop an identical output
content stops it there).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from onepipe.pipeline.codehash import step_code_hash

IDENTITY_FLAG = "--onepipe-code-identity"


def code_identity(source: str, root: Path, context: str) -> str:
    """A step's code identity: its code (as the step cache keys it) and its step context."""
    h = hashlib.sha256(step_code_hash(source, root).encode())
    h.update(b"\0" + context.encode())
    return h.hexdigest()[:32]


def stamp(ir: dict[str, Any], root: Path, context: str) -> None:
    """Give every container executor of ``ir`` its step's code identity, in its args."""
    for executor in ir.get("deploymentSpec", {}).get("executors", {}).values():
        container = executor.get("container")
        if not container or not container.get("command"):
            continue
        identity = code_identity(container["command"][-1], root, context)
        container["args"] = [*_without_identity(container.get("args", [])), IDENTITY_FLAG, identity]


def stamped_identity(container: dict[str, Any]) -> str | None:
    args = container.get("args", [])
    if IDENTITY_FLAG in args[:-1]:
        return args[args.index(IDENTITY_FLAG) + 1]
    return None


def task_identities(ir: dict[str, Any]) -> dict[str, str]:
    """{task name: cache identity} for the root DAG's tasks (see the module docstring)."""
    tasks = ir["root"]["dag"]["tasks"]
    executors = ir.get("deploymentSpec", {}).get("executors", {})
    done: dict[str, str] = {}

    def identity(name: str, path: tuple[str, ...] = ()) -> str:
        if name in done:
            return done[name]
        if name in path:
            raise ValueError(f"dependency cycle through task {name!r}")
        task = tasks[name]
        component = ir["components"][task["componentRef"]["name"]]
        executor = executors.get(component.get("executorLabel", ""), {})
        upstream = set(task.get("dependentTasks", []))
        for art in (task.get("inputs", {}).get("artifacts") or {}).values():
            if "taskOutputArtifact" in art:
                upstream.add(art["taskOutputArtifact"]["producerTask"])
        for par in (task.get("inputs", {}).get("parameters") or {}).values():
            if "taskOutputParameter" in par:
                upstream.add(par["taskOutputParameter"]["producerTask"])
        blob = json.dumps(
            {
                "executor": executor,
                "inputs": task.get("inputs", {}),
                "caching": task.get("cachingOptions", {}),
                "upstream": {u: identity(u, (*path, name)) for u in sorted(upstream)},
            },
            sort_keys=True,
        )
        done[name] = hashlib.sha256(blob.encode()).hexdigest()
        return done[name]

    return {name: identity(name) for name in tasks}


def _without_identity(args: list[str]) -> list[str]:
    if IDENTITY_FLAG in args[:-1]:
        i = args.index(IDENTITY_FLAG)
        return [*args[:i], *args[i + 2 :]]
    return list(args)
