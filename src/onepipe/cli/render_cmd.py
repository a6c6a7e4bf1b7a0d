"""``onepipe render overlays`` (kustomize base + one overlay per environment, with the Helm
chart's values) and ``onepipe render chart`` (a copy of the chart with the project's values)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from onepipe.cli.common import ConfigOpt, JsonOpt, VariantOpt, err, print_json, resolve
from onepipe.config.schema import ENVIRONMENTS
from onepipe.errors import UsageError


def register(render_app: typer.Typer) -> None:
    """Add the command to the ``render`` group (built in sweep_cmd)."""
    render_app.command("overlays")(render_overlays)
    render_app.command("chart")(render_chart)


EnvsOpt = Annotated[
    list[str] | None,
    typer.Option("--env", "-e", help="Only this environment (repeatable; default: all)."),
]


def render_overlays(
    config: ConfigOpt = None,
    env: EnvsOpt = None,
    variant: VariantOpt = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Manifests folder (default: manifests/ of the project)."
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Write manifests/base and manifests/overlays/<env> (cluster backends' resources, RBAC)."""
    # lazy: the manifest and chart modules (numpy, jsonschema) stay off `onepipe --help`
    from onepipe.k8s.render_overlays import render_all, write

    envs = _envs(env)
    first = resolve(config, envs[0], variant)
    out_dir = output or (first.root / "manifests")
    files = render_all(lambda e: resolve(config, e, variant), envs)
    paths = write(files, out_dir)
    if json_:
        print_json({"output": str(out_dir), "files": [str(p) for p in paths]})
        return
    shown = _short(out_dir)
    for name in envs:
        err.print(f"wrote {shown}/overlays/{name}", soft_wrap=True)
    err.print(
        f"wrote {shown}/base ({len(paths)} files; apply: kubectl apply -k {shown}/overlays/<env>)",
        soft_wrap=True,
    )


def render_chart(
    config: ConfigOpt = None,
    env: EnvsOpt = None,
    variant: VariantOpt = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Chart folder (default: charts/onepipe of the project)."
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Copy onepipe's Helm chart into the project, values-<env>.yaml holding its values."""
    # lazy: the manifest and chart modules (numpy, jsonschema) stay off `onepipe --help`
    from onepipe.k8s.helm import RELEASE, write_chart

    envs = _envs(env)
    first = resolve(config, envs[0], variant)
    out_dir = output or (first.root / "charts" / "onepipe")
    paths = write_chart(lambda e: resolve(config, e, variant), envs, out_dir)
    if json_:
        print_json({"output": str(out_dir), "files": [str(p) for p in paths]})
        return
    shown = _short(out_dir)
    err.print(f"wrote {shown} ({len(paths)} files); install with:", soft_wrap=True)
    for name in envs:
        ns = resolve(config, name, variant).kubernetes.namespace
        err.print(
            f"  helm upgrade --install {RELEASE} {shown} -n {ns} -f {shown}/values-{name}.yaml",
            soft_wrap=True,
        )


def _envs(env: list[str] | None) -> list[str]:
    envs = list(dict.fromkeys(env or ENVIRONMENTS))
    for name in envs:
        if name not in ENVIRONMENTS:
            raise UsageError(
                f"--env {name}: unknown environment (expected one of: {', '.join(ENVIRONMENTS)})"
            )
    return envs


def _short(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
