"""Helpers for a project's own tests: ``from onepipe.testing import project_copy``.

A test that runs the pipeline must not touch the checkout it tests: its
``.onepipe/`` holds the data store, the runs, the registry and the deployment
history someone may be using. ``project_copy`` gives the test a :class:`Project`
on a throwaway copy instead. The test ``onepipe init`` writes uses it; see
docs/project-contract.md ("Testing your project").

This module is public and kept stable; onepipe's own test helpers live in its
``tests/`` folder and are not installed.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from onepipe.project import Project

# Not copied: the checkout's state, caches and environments.
LEFT_OUT = (".onepipe", ".git", ".venv", "__pycache__", ".pytest_cache")


@contextmanager
def project_copy(root: str | Path, **options: Any) -> Iterator[Project]:
    """A Project on a copy of the project in ``root`` (without ``LEFT_OUT``), made in a
    temporary directory and deleted on exit. ``options`` go to Project: ``env``,
    ``variant``, ``params``."""
    source = Path(root).resolve()
    with tempfile.TemporaryDirectory(prefix="onepipe-test-") as tmp:
        copy = Path(tmp) / source.name
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns(*LEFT_OUT))
        yield Project(copy, **options)
