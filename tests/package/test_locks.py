"""The two lock files agree with each other and with pyproject.toml's dependencies and extras."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==(\S+)", line)
        if m:
            pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def _image_extras() -> list[str]:
    """The extras the training image gets: IMAGE_EXTRAS in the Makefile (`make lock`)."""
    (line,) = [
        ln for ln in (REPO / "Makefile").read_text().splitlines() if ln.startswith("IMAGE_EXTRAS")
    ]
    return line.split(":=", 1)[1].split()


def _unmet(requirements: list[str], pins: dict[str, str]) -> list[str]:
    unmet = []
    for text in requirements:
        req = Requirement(text)
        if canonicalize_name(req.name) == "onepipe":
            continue  # a self-reference (all = onepipe[...]): its extras are checked themselves
        version = pins.get(canonicalize_name(req.name))
        if version is None or not req.specifier.contains(version, prereleases=True):
            unmet.append(f"{text} (locked: {version})")
    return unmet


def test_the_image_lock_pins_the_same_versions_as_the_dev_lock():
    image = _pins(REPO / "components" / "requirements.lock")
    dev = _pins(REPO / "requirements.lock")
    assert len(image) > 100
    assert {n: (v, dev.get(n)) for n, v in image.items() if dev.get(n) != v} == {}


def test_the_image_lock_holds_the_core_and_the_cluster_extras():
    """The image runs trials, the Pachyderm worker, the monitor and the drift job on a
    cluster: postgresql:// stores, Pachyderm data, the Kubernetes API."""
    extras = _image_extras()
    assert {"cluster", "pachyderm", "postgres"} <= set(extras)
    wanted = list(PYPROJECT["dependencies"])
    for extra in extras:
        wanted += PYPROJECT["optional-dependencies"][extra]
    assert _unmet(wanted, _pins(REPO / "components" / "requirements.lock")) == []


def test_the_dev_lock_holds_every_extra():
    extras = PYPROJECT["optional-dependencies"]
    assert {"cluster", "pachyderm", "postgres", "team", "report", "all", "dev"} <= set(extras)
    assert "onepipe[all]" in extras["dev"]
    wanted = list(PYPROJECT["dependencies"])
    for reqs in extras.values():
        wanted += reqs
    assert _unmet(wanted, _pins(REPO / "requirements.lock")) == []
