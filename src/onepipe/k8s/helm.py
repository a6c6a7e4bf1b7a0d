"""The Helm chart of onepipe's own services, shipped in the package, and its values from the project.

The chart (``chart/``: MLflow server, monitor service, drift CronJob, RBAC,
NetworkPolicies, alert rules, dashboard) is generic: its ``values-<env>.yaml``
presets size an environment. What belongs to a project comes from its
``onepipe.yaml``: the image (``image.training``), the environment, and the
live-quality metric the dashboard plots and the alert watches (``monitor.alert``).
``project_values`` is that file; ``onepipe render overlays`` writes it as
``manifests/overlays/<env>/helm-values.yaml``, checked against the chart's
``values.schema.json`` together with the defaults and the preset, as Helm does.
"""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from onepipe.config import Settings
from onepipe.errors import ConfigError
from onepipe.k8s.manifests import canary_rules, environment_rules
from onepipe.k8s.schema import SchemaError
from onepipe.quality.metrics import LIVE, METRICS

CHART = Path(__file__).resolve().parent / "chart"
RELEASE = "onepipe"
VALUES_FILE = "helm-values.yaml"  # in manifests/overlays/<env>/, next to the kustomize files
HEADER = (
    "# Rendered by `onepipe render overlays` for env {env}: do not edit, re-render.\n"
    "# The project's values for onepipe's Helm chart, used on top of the chart's preset:\n"
    "#   helm upgrade --install onepipe CHART -n {namespace} -f CHART/values-{env}.yaml -f {name}\n"
    "# `onepipe up --env {env}` prints it with CHART, the installed chart's directory.\n"
)


@dataclass(frozen=True)
class LiveAlert:
    """``monitor.alert`` resolved against the project's task and metrics."""

    metric: str | None
    direction: str
    threshold: float | None
    for_: str
    note: str  # why there is no metric or no rule: the values file says it


def live_alert(settings: Settings) -> LiveAlert:
    """The live metric (declared, else the project's first live metric, else the task's first
    live one) and its direction; ConfigError for a metric the task never exports live."""
    alert = settings.monitor.alert
    task = settings.task
    live = LIVE.get(task, ()) if task else ()
    metric = alert.metric
    if metric is not None and task and metric not in live:
        raise ConfigError(
            f"monitor.alert.metric: {metric!r} is not computed live for a {task} model "
            f"(expected one of: {', '.join(live)})"
        )
    if metric is None and task:
        declared = [m.name for m in settings.metrics_for() if m.name in live]
        metric = declared[0] if declared else live[0]
    note = ""
    if metric is None:
        note = (
            "no live metric: declare model.task (binary, multiclass or regression) "
            "or monitor.alert.metric in onepipe.yaml"
        )
        if alert.threshold is not None:
            raise ConfigError(f"monitor.alert.threshold is set but there is {note}")
    elif alert.threshold is None:
        note = "no monitor.alert.threshold in onepipe.yaml: the alert rule is not rendered"
    direction = METRICS[metric].direction if metric else "maximize"
    return LiveAlert(metric, direction, alert.threshold, alert.for_, note)


def image_values(settings: Settings) -> dict[str, str]:
    """``image.training`` split the way the chart takes it (repository, tag, digest)."""
    ref = settings.image.training.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    repository, tag = ref, "latest"
    if ":" in last:  # a registry's host:port is never in the last path segment
        repository, tag = ref.rsplit(":", 1)
    digest = settings.image.training_digest or ""
    if not digest and "@" in settings.image.training:
        digest = settings.image.training.split("@", 1)[1]
    return {"repository": repository, "tag": tag, "digest": digest}


_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}  # monitor.canary.max_wait's units


def canary_values(settings: Settings) -> dict[str, Any]:
    """The canary loop's Role rules (the serve backend's routing object, by name; none where
    it serves locally) and the wait past which the chart's alert fires."""
    wait = settings.monitor.canary.max_wait
    return {
        "rules": canary_rules(settings),
        "maxWait": wait,
        "maxWaitSeconds": int(wait[:-1]) * _SECONDS[wait[-1]],
    }


def project_values(settings: Settings) -> dict[str, Any]:
    """What the project sets in the chart: its image, environment, live-quality metric, the
    deployer Role's rules for the environment's cluster backends (from the registry), and
    the canary loop's (its serving object's get and patch, by name)."""
    alert = live_alert(settings)
    return {
        "image": image_values(settings),
        "environment": settings.env,
        "rbac": {"backendRules": environment_rules(settings)},
        "canary": canary_values(settings),
        "liveQuality": {
            "metric": alert.metric or "",
            "direction": alert.direction,
            "threshold": alert.threshold,
            "for": alert.for_,
        },
    }


def values_text(settings: Settings) -> str:
    """The project's values file, with a header saying how to install with it (no machine
    paths: the file is committed with the project)."""
    alert = live_alert(settings)
    text = yaml.safe_dump(project_values(settings), sort_keys=False, width=100)
    if alert.note:
        key = "  metric:" if alert.metric is None else "  threshold:"
        lines = text.splitlines()
        lines = [f"{ln}   # {alert.note}" if ln.startswith(key) else ln for ln in lines]
        text = "\n".join(lines) + "\n"
    header = HEADER.format(
        env=settings.env, namespace=settings.kubernetes.namespace, name=VALUES_FILE
    )
    return header + text


def helm_command(settings: Settings, values_path: str | Path, chart: Path = CHART) -> str:
    """``helm upgrade --install`` of the chart in the environment's namespace, preset + project."""
    preset = chart / f"values-{settings.env}.yaml"
    return shlex.join(
        [
            "helm",
            "upgrade",
            "--install",
            RELEASE,
            str(chart),
            "-n",
            settings.kubernetes.namespace,
            "-f",
            str(preset),
            "-f",
            str(values_path),
        ]
    )


# -- values as Helm sees them -----------------------------------------------------------------


def merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of values files: mappings merge, a null deletes the key."""
    out = dict(base)
    for key, value in overlay.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def preset(env: str, chart: Path = CHART) -> dict[str, Any]:
    """The chart's defaults with its ``values-<env>.yaml`` on top."""
    defaults = yaml.safe_load((chart / "values.yaml").read_text()) or {}
    path = chart / f"values-{env}.yaml"
    return merge(defaults, yaml.safe_load(path.read_text()) or {}) if path.exists() else defaults


def effective_values(settings: Settings, chart: Path = CHART) -> dict[str, Any]:
    """What Helm installs with: defaults, the environment's preset, the project's values."""
    values = merge(preset(settings.env, chart), project_values(settings))
    validate_values(values, f"chart values for env {settings.env}", chart)
    return values


@lru_cache(maxsize=4)
def _schema(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def validate_values(values: dict[str, Any], where: str, chart: Path = CHART) -> None:
    """Check values against the chart's ``values.schema.json`` (what Helm checks on install)."""
    validator = jsonschema.Draft7Validator(_schema(str(chart / "values.schema.json")))
    errors = sorted(validator.iter_errors(values), key=lambda e: [str(p) for p in e.path])
    if errors:
        first = errors[0]
        at = "/" + "/".join(str(p) for p in first.absolute_path)
        raise SchemaError(f"{where}: at '{at}': {first.message} (values.schema.json)")


# -- a copy of the chart for the project's repository -----------------------------------------


def write_chart(
    load: Callable[[str], Settings], envs: Iterable[str], out_dir: Path, chart: Path = CHART
) -> list[Path]:
    """Copy the chart to ``out_dir``; each ``values-<env>.yaml`` becomes the preset with the
    project's values merged in, so ``helm upgrade --install onepipe DIR -f DIR/values-<env>.yaml``
    is the whole install. Other files are copied as they are; nothing else is removed."""
    if out_dir.resolve() == chart.resolve():
        raise ConfigError(f"-o {out_dir}: that is the installed chart itself; choose another dir")
    settings_of = {env: load(env) for env in envs}
    for settings in settings_of.values():
        effective_values(settings, chart)  # checked before anything is written
    written = []
    for src in sorted(chart.rglob("*")):
        if src.is_dir() or "__pycache__" in src.parts:
            continue
        dst = out_dir / src.relative_to(chart)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        written.append(dst)
    for env, settings in settings_of.items():
        own = yaml.safe_load((chart / f"values-{env}.yaml").read_text()) or {}
        merged = merge(own, project_values(settings))
        header = (  # no machine paths: the copy is committed with the project
            f"# {env}: the chart's preset with onepipe.yaml's values (image, environment,\n"
            f"# live-quality alert), rendered by `onepipe render chart`: re-render after editing\n"
            f"# onepipe.yaml. Install, CHART being this folder:\n"
            f"#   helm upgrade --install {RELEASE} CHART -n {settings.kubernetes.namespace} "
            f"-f CHART/values-{env}.yaml\n"
        )
        path = out_dir / f"values-{env}.yaml"
        path.write_text(header + yaml.safe_dump(merged, sort_keys=False, width=100))
        if path not in written:
            written.append(path)
    return written
