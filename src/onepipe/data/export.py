"""Writing a commit's files to a folder, the same for every store."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from onepipe.errors import OnepipeError


def export_files(store, ref: str, dest: Path | str) -> list[Path]:
    """Write the files of ``ref`` under ``dest``; a path that would escape ``dest`` is refused."""
    dest = Path(dest)
    written = []
    for entry, data in store.iter_files(ref):
        rel = PurePosixPath(entry.path)
        if rel.is_absolute() or ".." in rel.parts:
            raise OnepipeError(f"refusing to export {entry.path!r}: it would land outside {dest}")
        target = dest.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(target)
    return written
