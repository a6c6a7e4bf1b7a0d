"""onepipe as a user installs it: a wheel built from the checkout, in a fresh virtualenv
outside the repository, with the locked versions.

The venv gets exactly the dependency closure of ``onepipe[extras]`` as the wheel declares
it, each package at the version this test run's own environment has (``make`` installed
it from requirements.lock), installed from uv's cache without the network. Then the
wheel is installed with its dependencies resolved against what is there: a requirement
the wheel declares and the closure lacks fails the install.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]


def uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def _run(argv: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(argv, capture_output=True, text=True, timeout=600, **kwargs)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({res.returncode}):\n{res.stderr[-3000:]}")
    return res


def build_wheel(out_dir: Path) -> Path:
    """``uv build --wheel`` of the checkout; from uv's cache when it can (hatchling is there
    once ``make`` installed the project), else fetching the build backend."""
    argv = [uv(), "build", "--wheel", "--quiet", "-o", str(out_dir), str(REPO)]
    try:
        _run([*argv, "--offline"])
    except RuntimeError:
        _run(argv)
    (wheel,) = out_dir.glob("onepipe-*.whl")
    return wheel


def wheel_requirements(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(name).decode()
    return [Requirement(r) for r in Parser().parsestr(text).get_all("Requires-Dist") or []]


def _wanted(req: Requirement, extras: set[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({"extra": e}) for e in (extras or {""}))


def closure(requirements: list[Requirement], extras: set[str]) -> dict[str, str]:
    """name -> version of everything ``onepipe[extras]`` installs, read from the installed
    distributions of this interpreter (the locked versions)."""
    pins: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(r, set(r.extras)) for r in requirements if _wanted(r, extras)]
    while todo:
        req, want = todo.pop()
        name = canonicalize_name(req.name)
        key = (name, frozenset(want))
        if key in seen:
            continue
        seen.add(key)
        dist = metadata.distribution(name)
        if not req.specifier.contains(dist.version, prereleases=True):
            raise RuntimeError(f"{name} {dist.version} does not satisfy {req}")
        pins[name] = dist.version
        for sub in dist.requires or []:
            child = Requirement(sub)
            if _wanted(child, want):
                todo.append((child, set(child.extras)))
    return pins


@dataclass(frozen=True)
class Venv:
    """A virtualenv with onepipe installed from the wheel; ``run`` runs a command in it."""

    root: Path
    bin: Path
    env: dict[str, str]
    packages: dict[str, str]

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def run(
        self, *args: str, cwd: Path, timeout: float = 300, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = list(args)
        if (self.bin / argv[0]).exists():
            argv[0] = str(self.bin / argv[0])
        return subprocess.run(
            argv,
            cwd=cwd,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def clean_env(bin_dir: Path) -> dict[str, str]:
    """The user's environment with this venv first on PATH and nothing of the test run's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ONEPIPE_", "PYTEST", "PYTHON", "VIRTUAL_ENV", "COV_"))
    }
    ours = Path(sys.executable).parent
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and Path(p) != ours]
    env["PATH"] = os.pathsep.join([str(bin_dir), *path])
    env["VIRTUAL_ENV"] = str(bin_dir.parent)
    return env


def make_venv(root: Path, wheel: Path, extras: set[str]) -> Venv:
    """A fresh venv at ``root`` with ``onepipe[extras]`` from ``wheel``, offline."""
    pins = closure(wheel_requirements(wheel), extras)
    _run([uv(), "venv", "--quiet", "--python", sys.executable, str(root)])
    python = root / "bin" / "python"
    locked = root.parent / f"{root.name}-closure.txt"
    locked.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
    install = [uv(), "pip", "install", "--quiet", "--offline", "--python", str(python)]
    _run([*install, "--no-deps", "-r", str(locked)])
    spec = f"onepipe[{','.join(sorted(extras))}]" if extras else "onepipe"
    _run([*install, f"{spec} @ {wheel.as_uri()}"])
    return Venv(root, root / "bin", clean_env(root / "bin"), pins)
