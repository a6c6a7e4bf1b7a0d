"""Monitor tests reuse the serve tests' project (a private copy of the session's
template, tests/conftest.py: two registered versions, each with its reference profile)
and their gateway helpers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVE_TESTS = REPO / "tests" / "serve"
if str(SERVE_TESTS) not in sys.path:
    sys.path.insert(0, str(SERVE_TESTS))

_spec = importlib.util.spec_from_file_location("serve_conftest", SERVE_TESTS / "conftest.py")
_serve = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_serve)

project = _serve.project  # module: a private copy with its own ports and databases
