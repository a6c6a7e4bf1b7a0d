"""Writing a commit's files to a folder, the same for every store."""

from __future__ import annotations

from pathlib import Path

from onepipe.data.refs import check_file_path


def target_in(dest: Path, path: str, where: str) -> Path:
    """Where file ``path`` of a commit goes under ``dest``; UsageError if it could land elsewhere."""
    check_file_path(path, where)
    return dest.joinpath(*path.split("/"))


def export_files(store, ref: str, dest: Path | str) -> list[Path]:
    """Write the files of ``ref`` under ``dest``; a path that would escape ``dest`` is refused.

    Every path is checked before the first byte is written, so a refused commit leaves
    ``dest`` as it was.
    """
    dest = Path(dest)
    commit = store.resolve(ref)
    where = f"{commit.repo}@{commit.short}"
    for entry in commit.files:
        target_in(dest, entry.path, f"{where}: refusing to write under {dest}")
    written = []
    for entry, data in store.iter_files(commit.ref):
        target = target_in(dest, entry.path, where)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(target)
    return written
