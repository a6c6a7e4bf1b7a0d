"""A sweep's name becomes a file name (.onepipe/sweeps/NAME.db) and a Kubernetes name."""

from __future__ import annotations

from pathlib import Path

import pytest

from onepipe.config import load_settings
from onepipe.errors import UsageError
from onepipe.sweep.naming import sweep_name


@pytest.mark.parametrize("name", ["lr\n", "../lr", "lr/x", "lr\x00"])
def test_a_sweep_name_is_one_kubernetes_name_and_nothing_more(tmp_path: Path, name: str):
    (tmp_path / "onepipe.yaml").write_text("project: t\nmodel: {name: m}\n")
    settings = load_settings(tmp_path / "onepipe.yaml")
    assert sweep_name(settings, "lr") == "lr"
    with pytest.raises(UsageError, match="expected lowercase letters"):
        sweep_name(settings, name)
