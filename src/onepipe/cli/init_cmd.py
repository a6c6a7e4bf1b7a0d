"""``onepipe init NAME --task T``: start a project of your own."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from onepipe.cli.common import JsonOpt, out, print_json


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(
    name: Annotated[str, typer.Argument(help="Project name: lowercase letters, digits, '-'.")],
    task: Annotated[
        str, typer.Option("--task", "-t", help="binary, multiclass or regression.")
    ] = "binary",
    path: Annotated[
        Path | None, typer.Option("--path", help="Where to create it (default: ./NAME).")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Create a small, complete project: config, steps, pipeline, model, data, test, README."""
    # lazy: the scaffold (numpy) stays off `onepipe --help`
    from onepipe.scaffold.project import create_project

    root = (path or Path(name)).resolve()
    project = create_project(root, name, task)
    if json_:
        print_json(
            {
                "root": str(project.root),
                "name": project.name,
                "task": project.task,
                "files": [str(p.relative_to(root)) for p in project.files],
                "batches": [str(p.relative_to(root)) for p in project.batches],
            }
        )
        return
    shown = _shown(root)
    first = project.batches[0].relative_to(root)
    out.print(
        f"created {shown}: a {task} project ({len(project.files)} files, "
        f"{len(project.batches)} data batches in data/{project.repo}/)",
        soft_wrap=True,
    )
    out.print(
        f"""
Next:
  cd {shown}
  make demo       # the whole loop: data, run, cached rerun, promote, serve, drift, retrain, canary, report
  make test       # the project's own test

Or the same steps by hand:
  onepipe data put {project.repo} {first} -m "first batch"
  onepipe run                    # cached, tracked in MLflow, model registered as challenger
  onepipe run                    # identical rerun: every step a cache hit
  onepipe promote                # challenger -> champion
  onepipe sweep                  # the search space in onepipe.yaml, best trial -> challenger
  onepipe serve                  # gateway + MLServer on http://127.0.0.1:8000 (another terminal)
  onepipe deploy --canary 10     # then: onepipe monitor, onepipe canary analyze --auto
  onepipe report                 # .onepipe/report.html

Make it yours: your model in components/model.py, your data in data/{project.repo}/,
your params, task, label and metrics in onepipe.yaml. git init is a good idea too:
every run records the git commit it ran at.""",
        highlight=False,
        soft_wrap=True,
    )


def _shown(root: Path) -> str:
    try:
        return str(root.relative_to(Path.cwd()))
    except ValueError:
        return str(root)
