"""What ``onepipe gc`` removed (or, in a dry run, would remove) from one area, by kind."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def size_of(path: Path) -> int:
    """Bytes a file or a folder tree takes (links are not followed)."""
    try:
        if not path.is_dir() or path.is_symlink():
            return path.lstat().st_size
    except FileNotFoundError:
        return 0
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except FileNotFoundError:
                pass
    return total


@dataclass
class Swept:
    area: str  # "data store", "step cache"
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)  # kind -> how many
    sizes: dict[str, int] = field(default_factory=dict)  # kind -> bytes
    skipped: str | None = None  # why this area was left alone

    def take(self, kind: str, path: Path) -> None:
        """Count ``path`` under ``kind`` and delete it, unless this is a dry run."""
        size = size_of(path)
        if not self.dry_run:
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except FileNotFoundError:
                return
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.sizes[kind] = self.sizes.get(kind, 0) + size

    def skip(self, reason: str) -> Swept:
        self.skipped = reason
        return self

    @property
    def bytes(self) -> int:
        return sum(self.sizes.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "area": self.area,
            "skipped": self.skipped,
            "bytes": self.bytes,
            "kinds": {k: {"count": self.counts[k], "bytes": self.sizes[k]} for k in self.counts},
        }
