"""``--json``: stdout carries the JSON document and nothing else.

Libraries print to stdout (kfp.local logs every step and echoes its subprocesses
there), and child processes inherit file descriptor 1. So while a ``--json``
command runs, descriptor 1 itself points at stderr, ``sys.stdout`` is stderr,
and ``write_document`` alone writes to the original stdout. Under a test
runner's in-memory stdout there is no descriptor to move: Python writes are
redirected only.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from typing import TextIO

STDOUT_FD = 1
_document_stream: TextIO | None = None


@contextlib.contextmanager
def stdout_reserved_for_json(active: bool = True) -> Iterator[None]:
    global _document_stream
    if not active or _document_stream is not None:
        yield
        return
    original = sys.stdout
    original.flush()
    try:
        moves_fd = original.fileno() == STDOUT_FD
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation: no descriptor
        moves_fd = False
    saved = None
    if moves_fd:
        saved = os.dup(STDOUT_FD)
        os.dup2(sys.stderr.fileno(), STDOUT_FD)
        _document_stream = open(  # closed on the way out, once fd 1 is restored
            saved, "w", encoding=original.encoding, errors=original.errors, closefd=False
        )
    else:
        _document_stream = original
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stdout = original
        stream, _document_stream = _document_stream, None
        stream.flush()
        if saved is not None:
            original.flush()  # what it buffered while fd 1 was stderr belongs there
            os.dup2(saved, STDOUT_FD)
            stream.close()
            os.close(saved)


def write_document(text: str) -> None:
    """Write to the real stdout: the one thing a ``--json`` command puts there."""
    stream = _document_stream or sys.stdout
    stream.write(text)
    with contextlib.suppress(io.UnsupportedOperation, ValueError):
        stream.flush()
