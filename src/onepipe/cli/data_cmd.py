"""``onepipe data``: put, log, ls, get, diff, branch, repos, verify."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.markup import escape
from rich.table import Table

from onepipe.cli.common import ConfigOpt, EnvOpt, JsonOpt, err, out, print_json, resolve
from onepipe.config import Settings
from onepipe.data import Commit, DataStore, open_store, parse_ref
from onepipe.data.export import target_in
from onepipe.errors import OnepipeError, UsageError

app = typer.Typer(no_args_is_help=True)


class StoreDamaged(OnepipeError):
    """``verify`` found problems: a failed check (exit 1), not a usage error."""

    exit_code = 1


RefArg = Annotated[str, typer.Argument(help="REPO, REPO@BRANCH or REPO@COMMIT (id prefix).")]


def _open(config: Path | None, env: str | None) -> tuple[Settings, DataStore]:
    settings = resolve(config, env, tracking=False)
    return settings, open_store(settings)


def _commit_dict(c: Commit, files: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ref": c.ref,
        "repo": c.repo,
        "id": c.id,
        "parent": c.parent,
        "branch": c.branch,
        "message": c.message,
        "time": c.time,
        "provenance": list(c.provenance),
        "n_files": len(c.files),
        "size": sum(f.size for f in c.files),
    }
    if files:
        data["files"] = [{"path": f.path, "hash": f.hash, "size": f.size} for f in c.files]
    return data


def _table(*columns: str, title: str | None = None) -> Table:
    table = Table(title=title)
    for name in columns:
        # Ids and times are read and copied whole; let messages and paths wrap instead.
        table.add_column(name, no_wrap=name in ("commit", "head", "time", "hash", "size"))
    return table


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            break
    return f"{value:.1f} {unit}"


@app.command("put")
def put(
    repo: Annotated[str, typer.Argument(help="Repo to commit to (created on first put).")],
    # Optional so that a forgotten PATH gets the store's own message, not a parser error.
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files, or directories (added recursively).")
    ] = None,
    branch: Annotated[
        str | None, typer.Option("--branch", "-b", help="Branch (default: data.default_branch).")
    ] = None,
    message: Annotated[str, typer.Option("--message", "-m", help="Commit message.")] = "",
    replace: Annotated[
        bool,
        typer.Option("--replace", help="Start from an empty tree instead of the head's files."),
    ] = False,
    provenance: Annotated[
        list[str] | None,
        typer.Option(
            "--provenance", "-P", help="Input commit this data was derived from (repeat)."
        ),
    ] = None,
    json_: JsonOpt = False,
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """Commit files to a branch, atomically, on top of its head."""
    _, store = _open(config, env)
    commit = store.put(
        repo,
        paths or [],
        branch=branch,
        message=message,
        provenance=provenance or (),
        replace=replace,
    )
    if json_:
        print_json(_commit_dict(commit, files=True))
        return
    if commit.parent:
        d = store.diff(f"{repo}@{commit.parent}", commit.ref)
        change = f"{len(d.added)} added, {len(d.modified)} modified, {len(d.removed)} removed"
    else:
        change = f"{len(commit.files)} added"
    out.print(
        f"{commit.repo}@{commit.short} on {commit.branch}: {change}; "
        f"{len(commit.files)} files in the commit",
        markup=False,
        soft_wrap=True,
    )


@app.command("log")
def log(
    ref: RefArg,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", help="Show at most N commits.")
    ] = None,
    json_: JsonOpt = False,
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """Commits reachable from a ref, newest first."""
    _, store = _open(config, env)
    commits = store.log(ref, limit=limit)
    if json_:
        print_json([_commit_dict(c) for c in commits])
        return
    table = _table("commit", "branch", "time", "files", "message", "provenance")
    for c in commits:
        table.add_row(
            c.short,
            escape(c.branch or ""),
            c.time[:19].replace("T", " "),
            str(len(c.files)),
            escape(_first_line(c.message)),
            escape(", ".join(p.split("@")[0] + "@" + p.split("@")[1][:12] for p in c.provenance)),
        )
    out.print(table)


@app.command("ls")
def ls(ref: RefArg, json_: JsonOpt = False, config: ConfigOpt = None, env: EnvOpt = None) -> None:
    """Files in a commit."""
    _, store = _open(config, env)
    commit = store.resolve(ref)
    if json_:
        print_json(_commit_dict(commit, files=True))
        return
    table = _table("path", "size", "hash", title=f"{commit.repo}@{commit.short}")
    for f in commit.files:
        table.add_row(escape(f.path), _size(f.size), f.hash[:12])
    out.print(table)


@app.command("get")
def get(
    ref: RefArg,
    path: Annotated[
        str | None, typer.Argument(help="One file to print (default: export every file).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Directory to write to (default for all files: ./REPO)."
        ),
    ] = None,
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """Print one file of a commit, or write the commit's files to a directory."""
    _, store = _open(config, env)
    if path is not None and output is None:
        stream = click.get_binary_stream("stdout")
        stream.write(store.read_bytes(ref, path))
        stream.flush()
        return
    commit = store.resolve(ref)
    dest = output or Path(parse_ref(ref)[0])
    if path is not None:
        # The name comes from the command line or a commit: it must stay under DIR.
        target = target_in(dest, path, f"refusing to write under {dest}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.read_bytes(commit.ref, path))
        err.print(f"wrote {target}", markup=False, soft_wrap=True)
        return
    written = store.export(commit.ref, dest)
    err.print(
        f"wrote {len(written)} files of {commit.repo}@{commit.short} to {dest}",
        markup=False,
        soft_wrap=True,
    )


@app.command("diff")
def diff(
    a: Annotated[str, typer.Argument(help="Old ref.")],
    b: Annotated[str, typer.Argument(help="New ref.")],
    json_: JsonOpt = False,
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """Files added, removed and modified going from ref A to ref B."""
    _, store = _open(config, env)
    d = store.diff(a, b)
    if json_:
        print_json(
            {
                "a": store.resolve(a).ref,
                "b": store.resolve(b).ref,
                "added": list(d.added),
                "removed": list(d.removed),
                "modified": list(d.modified),
            }
        )
        return
    lines = [f"+ {p}" for p in d.added] + [f"- {p}" for p in d.removed]
    lines += [f"M {p}" for p in d.modified]
    for line in lines:
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    if not lines:
        err.print("no differences")


@app.command("branch")
def branch(
    repo: Annotated[str, typer.Argument(help="Repo.")],
    name: Annotated[
        str | None, typer.Argument(help="New branch (default: list the branches).")
    ] = None,
    from_ref: Annotated[
        str | None,
        typer.Option("--from", help="Where the new branch starts (default: the default branch)."),
    ] = None,
    json_: JsonOpt = False,
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """List a repo's branches, or create one."""
    _, store = _open(config, env)
    if name is not None:
        store.create_branch(repo, name, from_ref)
        head = store.resolve(f"{repo}@{name}")
        err.print(f"created {repo}@{name} at {head.short}", markup=False, soft_wrap=True)
        return
    if from_ref is not None:
        raise UsageError("--from needs a NAME: `onepipe data branch REPO NAME --from REF`")
    heads = store.branches(repo)
    if json_:
        print_json(heads)
        return
    table = _table("branch", "head", "time", "message")
    for b, head in heads.items():
        c = store.resolve(f"{repo}@{head}")
        table.add_row(
            escape(b), c.short, c.time[:19].replace("T", " "), escape(_first_line(c.message))
        )
    out.print(table)


@app.command("repos")
def repos(json_: JsonOpt = False, config: ConfigOpt = None, env: EnvOpt = None) -> None:
    """Repos in the store, and those onepipe.yaml declares but that hold no data yet."""
    settings, store = _open(config, env)
    names = store.list_repos()
    rows = []
    for name in sorted(set(names) | set(settings.data.repos)):
        declared = settings.data.repos.get(name)
        rows.append(
            {
                "repo": name,
                "description": declared.description if declared else "",
                "branches": store.branches(name) if name in names else {},
            }
        )
    if json_:
        print_json(rows)
        return
    table = _table("repo", "branches", "description")
    for row in rows:
        shown = ", ".join(f"{b}@{h[:12]}" for b, h in row["branches"].items()) or "(no data yet)"
        table.add_row(escape(row["repo"]), escape(shown), escape(row["description"]))
    out.print(table)


@app.command("verify")
def verify(json_: JsonOpt = False, config: ConfigOpt = None, env: EnvOpt = None) -> None:
    """Check every branch, commit and object; exit 1 when anything is missing or corrupt."""
    _, store = _open(config, env)
    problems = store.verify()
    if json_:
        print_json({"ok": not problems, "problems": problems})
    else:
        for p in problems:
            out.print(p, markup=False, highlight=False, soft_wrap=True)
    if problems:
        raise StoreDamaged(f"{len(problems)} problem(s) found in the data store (listed on stdout)")
    if not json_:
        out.print(f"ok: {len(store.list_repos())} repos verified", markup=False, soft_wrap=True)
