"""``onepipe up --env E [--dry-run]``: the environment's cluster resources, applied or printed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from onepipe.cli.common import ConfigOpt, EnvOpt, JsonOpt, VariantOpt, err, out, print_json, resolve


def register(app: typer.Typer) -> None:
    app.command("up")(up)


def up(
    config: ConfigOpt = None,
    env: EnvOpt = None,
    variant: VariantOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print everything it would apply; apply nothing.")
    ] = False,
    kubeconfig: Annotated[
        str | None,
        typer.Option(
            "--kubeconfig", help="Kubeconfig file (default: in-cluster, then ~/.kube/config)."
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Apply the environment's cluster backends' resources, RBAC and project file (server-side apply)."""
    # lazy: the manifest and chart modules (numpy, jsonschema) stay off `onepipe --help`
    from onepipe.k8s.resources import api_client
    from onepipe.k8s.up import apply_objects, environment_objects

    settings = resolve(config, env, variant)
    objects = environment_objects(settings)
    ns = settings.kubernetes.namespace
    helm = _helm_line(settings)
    if dry_run:
        if json_:
            print_json(objects)
        else:
            out.print(
                yaml.safe_dump_all(objects, sort_keys=False, width=100).rstrip(),
                markup=False,
                highlight=False,
            )
        err.print(
            f"dry run: {len(objects)} objects for env {settings.env} in namespace {ns}; "
            f"the stack's own services: {helm}",
            soft_wrap=True,
        )
        return
    done = apply_objects(api_client(kubeconfig), objects)
    if json_:
        print_json(done)
        return
    for d in done:
        err.print(f"  {d['action']:<8} {d['kind']} {d['namespace']}/{d['name']}", soft_wrap=True)
    err.print(
        f"{len(done)} objects in namespace {ns}; the stack's own services: {helm}", soft_wrap=True
    )


def _helm_line(settings) -> str:
    """The chart's install command with the project's values file, and whether that file
    is missing or stale (``onepipe render overlays`` writes it)."""
    # lazy: as in up()
    from onepipe.k8s.helm import VALUES_FILE, helm_command, values_text
    from onepipe.k8s.render_overlays import shared

    values = settings.root / "manifests" / "overlays" / settings.env / VALUES_FILE
    line = helm_command(settings, _short(values))
    if not values.exists() or values.read_text() != values_text(shared(settings)):
        state = "missing" if not values.exists() else "not current"
        line += f" ({_short(values)} is {state}: run `onepipe render overlays` first)"
    return line


def _short(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
