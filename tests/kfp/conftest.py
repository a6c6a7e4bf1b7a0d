"""The KFP REST emulator (tests/kfp_emulator.py), fresh for each test."""

from __future__ import annotations

import pytest
from kfp_emulator import KfpEmulator


@pytest.fixture
def kfp_emulator():
    server = KfpEmulator()
    yield server
    server.stop()
