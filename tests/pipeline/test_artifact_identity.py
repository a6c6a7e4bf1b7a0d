"""An artifact's content hash: what it holds, not the stamps its saving libraries add."""

from __future__ import annotations

import copy
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from onepipe.pipeline.cache import StepCache, content_hash
from onepipe.pipeline.protocol import ArtifactRecord
from onepipe.steps.model import save_model


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80)})
    df["y"] = (df.a + 0.3 * df.b > 0).astype(int)
    return df


def _fit(frame: pd.DataFrame, **params) -> LogisticRegression:
    return LogisticRegression(**params).fit(frame[["a", "b"]], frame["y"])


def _saved(estimator, frame, dest: Path) -> Path:
    save_model(estimator, dest, frame, label="y", task="binary")
    return dest


def test_saving_the_same_model_twice_gives_the_same_hash(frame, tmp_path):
    model = _fit(frame)
    # A deep copy is the same model held by other objects: skops names its zip members and
    # __id__ fields after id(), and MLflow writes a fresh model_uuid and utc_time_created.
    one = _saved(model, frame, tmp_path / "one")
    two = _saved(copy.deepcopy(model), frame, tmp_path / "two")
    assert (one / "MLmodel").read_bytes() != (two / "MLmodel").read_bytes()
    assert (
        zipfile.ZipFile(one / "model.skops").namelist()
        != zipfile.ZipFile(two / "model.skops").namelist()
    )
    assert content_hash(one) == content_hash(two)


def test_a_real_change_to_the_model_changes_the_hash(frame, tmp_path):
    base = content_hash(_saved(_fit(frame), frame, tmp_path / "base"))
    weights = content_hash(_saved(_fit(frame, C=0.05), frame, tmp_path / "weights"))
    assert weights != base

    # Another signature: the same weights on renamed columns.
    renamed = frame.rename(columns={"a": "a2"})
    other = LogisticRegression().fit(renamed[["a2", "b"]], renamed["y"])
    assert content_hash(_saved(other, renamed, tmp_path / "signature")) != base

    # Shipped code and the drift profile are part of the model.
    for name, edit in (("code", "code/extra.py"), ("profile", "reference_profile.json")):
        changed = _saved(_fit(frame), frame, tmp_path / name)
        target = changed / edit
        target.parent.mkdir(exist_ok=True)
        target.write_text(target.read_text() + " " if target.exists() else "x = 1\n")
        assert content_hash(changed) != base, name


def _zip(members: dict[str, bytes], when: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name, date_time=when), data)
    return buf.getvalue()


def test_a_zip_is_identified_by_its_members_names_and_bytes_not_their_times(tmp_path):
    inner = {"w.npy": b"\x93NUMPY weights"}
    paths = []
    for i, when in enumerate([(2024, 1, 1, 0, 0, 0), (2025, 6, 2, 12, 30, 4)]):
        # the inner zip (an .npz inside a skops file, say) carries its own times too
        members = {"data.npz": _zip(inner, when), "meta.txt": b"v1"}
        path = tmp_path / f"{i}.zip"
        path.write_bytes(_zip(members, when))
        paths.append(path)
    assert paths[0].read_bytes() != paths[1].read_bytes()
    assert content_hash(paths[0]) == content_hash(paths[1])

    when = (2024, 1, 1, 0, 0, 0)
    renamed = tmp_path / "renamed.zip"
    renamed.write_bytes(_zip({"data.npz": _zip(inner, when), "other.txt": b"v1"}, when))
    edited = tmp_path / "edited.zip"
    edited.write_bytes(
        _zip({"data.npz": _zip({"w.npy": b"\x93NUMPY weightz"}, when), "meta.txt": b"v1"}, when)
    )
    assert content_hash(renamed) != content_hash(paths[0])
    assert content_hash(edited) != content_hash(paths[0])

    # Starts like a zip, is not one: hashed by its bytes, not an error.
    fake = [tmp_path / "fake1", tmp_path / "fake2"]
    fake[0].write_bytes(b"PK\x03\x04 not a zip")
    fake[1].write_bytes(b"PK\x03\x04 not a zip!")
    assert content_hash(fake[0]) != content_hash(fake[1])


def test_a_kept_cache_entry_is_what_the_records_describe(tmp_path):
    # Two executions of one key (--no-cache, or concurrent trials): the entry already in
    # place is kept, and the returned records must describe its files, not the discarded ones.
    cache = StepCache(tmp_path / "cache")
    records = []
    for text in ("first", "second"):
        staging = cache.staging()
        out = staging / "outputs" / "out"
        out.write_text(text)
        rec = ArtifactRecord("out", "system.Dataset", out, content_hash(out), {"text": text})
        records.append(cache.commit("k" * 64, staging, {"out": rec}, 0.1)["out"])
    kept = records[1]
    assert kept.path.read_text() == "first"
    assert kept.hash == content_hash(kept.path) and kept.metadata == {"text": "first"}
    assert not any((tmp_path / "cache" / ".staging").iterdir())
