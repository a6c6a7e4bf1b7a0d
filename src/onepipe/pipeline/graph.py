"""The compiled pipeline (KFP IR) read as a graph of tasks the runners walk.

Both embedded runners execute the same IR that `onepipe compile` writes and a
Kubeflow cluster runs, so the DSL is parsed once, by KFP's own compiler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from onepipe.errors import UsageError

# KFP IR parameter types -> Python types used to coerce arguments.
PARAM_TYPES: dict[str, type] = {
    "NUMBER_INTEGER": int,
    "NUMBER_DOUBLE": float,
    "STRING": str,
    "BOOLEAN": bool,
}


@dataclass(frozen=True)
class InputParam:
    name: str
    type: str  # IR parameterType
    default: Any = None
    optional: bool = False


@dataclass(frozen=True)
class TaskSpec:
    name: str
    component: str  # e.g. "comp-train"
    function: str  # the Python function the executor calls
    source: str  # the component's embedded Python source
    image: str
    params: dict[
        str, tuple[str, Any]
    ]  # input name -> ("pipeline", pname) | ("const", value) | ("task", (task, key))
    artifacts: dict[str, tuple[str, str]]  # input name -> (producer task, output key)
    param_types: dict[str, str]
    outputs: dict[str, str]  # output artifact name -> schema title
    upstream: tuple[str, ...] = ()


@dataclass
class PipelineGraph:
    name: str
    inputs: dict[str, InputParam]
    tasks: list[TaskSpec] = field(default_factory=list)  # topological order

    def task(self, name: str) -> TaskSpec:
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(name)

    def arguments(self, given: dict[str, Any]) -> dict[str, Any]:
        """Pipeline arguments: defaults filled in, values coerced to declared types."""
        unknown = sorted(set(given) - set(self.inputs))
        if unknown:
            raise UsageError(
                f"pipeline {self.name!r} has no parameter {unknown[0]!r} "
                f"(parameters: {', '.join(self.inputs)})"
            )
        args: dict[str, Any] = {}
        for name, spec in self.inputs.items():
            if name in given:
                args[name] = coerce_param(given[name], spec.type, f"param {name}")
            elif spec.optional:
                args[name] = coerce_param(spec.default, spec.type, f"param {name}")
            else:
                raise UsageError(
                    f"pipeline {self.name!r}: parameter {name!r} has no value (expected it in pipeline.params)"
                )
        return args

    @classmethod
    def from_ir(cls, ir: dict[str, Any]) -> PipelineGraph:
        root = ir["root"]
        inputs = {
            name: InputParam(
                name, d["parameterType"], d.get("defaultValue"), bool(d.get("isOptional"))
            )
            for name, d in (root.get("inputDefinitions", {}).get("parameters") or {}).items()
        }
        executors = ir["deploymentSpec"]["executors"]
        raw_tasks = root["dag"]["tasks"]
        specs: dict[str, TaskSpec] = {}
        for tname, t in raw_tasks.items():
            comp_name = t["componentRef"]["name"]
            comp = ir["components"][comp_name]
            container = executors[comp["executorLabel"]]["container"]
            args = container.get("args", [])
            if "--function_to_execute" not in args:
                raise UsageError(f"task {tname!r}: only KFP Python components can run in-process")
            function = args[args.index("--function_to_execute") + 1]
            params: dict[str, tuple[str, Any]] = {}
            for pname, p in (t.get("inputs", {}).get("parameters") or {}).items():
                if "componentInputParameter" in p:
                    params[pname] = ("pipeline", p["componentInputParameter"])
                elif "runtimeValue" in p:
                    params[pname] = ("const", p["runtimeValue"].get("constant"))
                elif "taskOutputParameter" in p:
                    top = p["taskOutputParameter"]
                    params[pname] = ("task", (top["producerTask"], top["outputParameterKey"]))
                else:
                    raise UsageError(f"task {tname!r}: unsupported input {pname!r}")
            arts = {
                aname: (
                    a["taskOutputArtifact"]["producerTask"],
                    a["taskOutputArtifact"]["outputArtifactKey"],
                )
                for aname, a in (t.get("inputs", {}).get("artifacts") or {}).items()
            }
            ptypes = {
                n: d["parameterType"]
                for n, d in (comp.get("inputDefinitions", {}).get("parameters") or {}).items()
            }
            outs = {
                n: d["artifactType"]["schemaTitle"]
                for n, d in (comp.get("outputDefinitions", {}).get("artifacts") or {}).items()
            }
            specs[tname] = TaskSpec(
                name=tname,
                component=comp_name,
                function=function,
                source=container["command"][-1],
                image=container.get("image", ""),
                params=params,
                artifacts=arts,
                param_types=ptypes,
                outputs=outs,
                upstream=tuple(
                    sorted(set(t.get("dependentTasks", [])) | {p for p, _ in arts.values()})
                ),
            )
        return cls(name=ir["pipelineInfo"]["name"], inputs=inputs, tasks=_toposort(specs))


def coerce_param(value: Any, ir_type: str, where: str) -> Any:
    py = PARAM_TYPES.get(ir_type)
    if py is None or value is None:
        return value
    if py is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if py is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, py) or (py is int and isinstance(value, bool)):
        raise UsageError(f"{where}: expected {py.__name__}, found {value!r}")
    return value


def _toposort(specs: dict[str, TaskSpec]) -> list[TaskSpec]:
    # Kahn's algorithm, ties broken by name so the order is stable run to run.
    pending = {n: set(s.upstream) for n, s in specs.items()}
    order: list[TaskSpec] = []
    while pending:
        ready = sorted(n for n, deps in pending.items() if not deps)
        if not ready:
            raise UsageError(f"pipeline has a dependency cycle among: {', '.join(sorted(pending))}")
        for n in ready:
            order.append(specs[n])
            del pending[n]
        for deps in pending.values():
            deps.difference_update(ready)
    return order
