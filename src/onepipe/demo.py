"""``make demo``: the foundation loop end to end on embedded defaults.

data batch -> local data store -> pipeline (live progress) -> MLflow run with
lineage -> registered model -> champion -> identical rerun, all cache hits.
Each stage prints the CLI command that does the same thing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from onepipe.cli.progress import StepProgress, print_summary
from onepipe.config import load_settings
from onepipe.errors import OnepipeError

console = Console(stderr=True, highlight=False)
FIRST_BATCH = Path("data/loans/batch_1.csv")


def _say(command: str, why: str) -> None:
    console.print()
    console.print(Rule(why, align="left"))
    console.print(f"[dim]$[/] [bold]{command}[/]")


def _commit_first_batch(settings) -> str:
    from onepipe.data import open_store
    from onepipe.errors import NotFoundError

    store = open_store(settings)
    batch = settings.root / FIRST_BATCH
    try:
        head = store.resolve(f"loans@{settings.data.default_branch}")
        have = {f.path: f.hash for f in head.files}
    except NotFoundError:
        head, have = None, {}
    import hashlib

    digest = hashlib.sha256(batch.read_bytes()).hexdigest()
    if head is not None and have.get(batch.name) == digest:
        console.print(f"already committed: {head.repo}@{head.short} holds {batch.name}")
        return head.ref
    commit = store.put("loans", [batch], message="first batch of loan applications")
    console.print(
        f"committed {commit.repo}@{commit.short} ({len(commit.files)} file, content-addressed)"
    )
    return commit.ref


def main() -> int:
    from onepipe.cli.common import current_user
    from onepipe.pipeline.execute import run_pipeline
    from onepipe.tracking.registry import promote

    try:
        settings = load_settings(user=current_user())
        _say(
            f"onepipe data put loans {FIRST_BATCH}", "1. a first data batch lands in the data store"
        )
        _commit_first_batch(settings)

        _say("onepipe run", "2. the pipeline runs, tracked in MLflow, model registered")
        first = run_pipeline(settings, listener=StepProgress(console), command="onepipe run")
        print_summary(console, first, settings)

        _say("onepipe promote", "3. the new model becomes champion")
        ref, previous = promote(settings, settings.model_name, first.model_version)
        console.print(
            f"{ref.name}: champion -> version {ref.version}"
            + (f" (was {previous})" if previous else "")
        )

        _say("onepipe run", "4. an identical rerun: every step is a cache hit")
        second = run_pipeline(settings, listener=StepProgress(console), command="onepipe run")
        print_summary(console, second, settings)
        if second.executed:
            console.print(f"[red]expected no step to execute, {second.executed} did[/]")
            return 1

        _say(f"onepipe lineage {settings.model_name}@champion", "5. where the champion came from")
        from onepipe.cli.model_cmd import lineage

        lineage(f"{settings.model_name}@champion", config=settings.config_file)
        console.print()
        console.print(
            "Next: [bold]onepipe ui[/] (MLflow UI on http://127.0.0.1:5000), "
            "[bold]onepipe reproduce credit-risk@champion[/], examples/notebook.ipynb"
        )
        return 0
    except OnepipeError as exc:
        console.print(f"error: {exc}")
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
