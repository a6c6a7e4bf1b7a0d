"""What the contract suites' stand-ins share: one Kubernetes API emulator per session
(each cluster backend works in its own resources and plays its own operator on it)."""

from __future__ import annotations

import pytest
from onepipe_testkit import Emulator


@pytest.fixture(scope="session")
def kube():
    with Emulator() as emulator:
        yield emulator
