"""A registry's model name or version never builds a folder outside onepipe's own.

MLflow itself refuses such names, so the refs are built by hand: what a registry
written by something else (or tampered with) could hand back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from onepipe.config import load_settings
from onepipe.errors import OnepipeError
from onepipe.tracking.artifacts import local_path
from onepipe.tracking.registry import ModelRef


@pytest.mark.parametrize(
    ("name", "version"),
    [("../../../outside", "1"), ("..", "1"), ("m", "../../../../outside"), ("a\\..\\b", "1")],
)
def test_a_hostile_model_ref_is_refused_before_any_folder_is_made(tmp_path: Path, name, version):
    (tmp_path / "onepipe.yaml").write_text("project: t\nmodel: {name: m}\n")
    settings = load_settings(tmp_path / "onepipe.yaml")
    # A remote source: the artifacts would be downloaded under .onepipe/serve/artifacts/NAME/VERSION.
    ref = ModelRef(name, version, "0" * 32, "mlflow-artifacts:/1/abc/artifacts/model", ())
    with pytest.raises(OnepipeError, match="cannot be served"):
        local_path(settings, ref)
    made = [p for p in tmp_path.rglob("*") if p.is_dir()]
    assert not (tmp_path / "outside").exists() and not (tmp_path.parent / "outside").exists()
    assert made == [], made
