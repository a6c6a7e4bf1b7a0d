"""Static checks of components/Dockerfile (no Docker engine on these machines)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "components" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


@pytest.fixture(scope="module")
def instructions():
    return _instructions()


def test_base_image_is_python_311_slim(instructions):
    froms = [args for kw, args in instructions if kw == "FROM"]
    assert froms == ["python:3.11-slim"]


def test_every_copy_source_exists_in_the_build_context(instructions):
    copies = [shlex.split(args) for kw, args in instructions if kw in ("COPY", "ADD")]
    assert copies
    for words in copies:
        sources = [w for w in words if not w.startswith("--")][:-1]
        for source in sources:
            assert (REPO / source).exists(), f"COPY source {source} missing from the repo root"
    copied = {w for words in copies for w in words[:-1]}
    assert {"components/requirements.lock", "src", "components", "pipelines"} <= copied


def test_lock_is_installed_before_the_sources_are_copied(instructions):
    keywords = [(kw, args) for kw, args in instructions]
    lock_install = next(
        i for i, (kw, a) in enumerate(keywords) if kw == "RUN" and "requirements.lock" in a
    )
    first_source = next(
        i for i, (kw, a) in enumerate(keywords) if kw == "COPY" and a.split()[0] == "src"
    )
    assert lock_install < first_source


def test_runs_as_a_non_root_user(instructions):
    users = [args for kw, args in instructions if kw == "USER"]
    assert users, "no USER instruction: the image would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # A numeric uid lets Kubernetes' runAsNonRoot verify it.
    assert user.isdigit()
    assert instructions[-1][0] in ("CMD", "ENTRYPOINT", "USER", "WORKDIR")
    assert [kw for kw, _ in instructions].index("USER") > max(
        i for i, (kw, _) in enumerate(instructions) if kw == "RUN"
    )


def test_project_is_importable_through_pythonpath(instructions):
    env = " ".join(args for kw, args in instructions if kw == "ENV")
    match = re.search(r"PYTHONPATH=(\S+)", env)
    assert match
    entries = match.group(1).split(":")
    assert "/opt/onepipe/src" in entries and "/opt/onepipe" in entries


def test_no_secrets_in_the_image(instructions):
    for kw, args in instructions:
        if kw in ("ENV", "ARG", "RUN", "LABEL"):
            assert not re.search(r"(?i)(token|secret|password|api[_-]?key)\s*=", args), args
    copied = " ".join(args for kw, args in instructions if kw in ("COPY", "ADD"))
    assert not re.search(r"(?i)\.env\b|credentials|\.netrc|id_rsa|\.pypirc", copied)
