"""The compiled IR carries each step's code identity where Kubeflow's cache sees it.

The real KFP compiler on a copy of the example project: edit one project file a step
imports, compile again, and only that step's and its downstream tasks' identities
differ. A comment-only edit counts as a change (the identity is the file's bytes, as
for the laptop's step cache).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from onepipe_testkit import copy_project

from onepipe.config import load_settings
from onepipe.pipeline.cluster_cache import IDENTITY_FLAG, stamped_identity, task_identities
from onepipe.pipeline.codehash import project_imports
from onepipe.pipeline.compile import compile_ir

ALL = {"ingest", "validate", "featurize", "train", "evaluate"}


@pytest.fixture
def root(tmp_path) -> Path:
    return copy_project(tmp_path / "proj")


def compiled(root: Path) -> dict:
    return compile_ir(load_settings(root / "onepipe.yaml", env="dev", user="tester"))


def differing(before: dict, after: dict) -> set[str]:
    a, b = task_identities(before), task_identities(after)
    assert set(a) == set(b) == ALL
    return {t for t in a if a[t] != b[t]}


def executor_identities(ir: dict) -> dict[str, str | None]:
    return {
        label: stamped_identity(e["container"])
        for label, e in ir["deploymentSpec"]["executors"].items()
    }


def test_a_library_edit_changes_only_the_importing_step_and_its_downstream_tasks(root):
    before = compiled(root)
    modeling = root / "components" / "lib" / "modeling.py"
    modeling.write_text(modeling.read_text() + "\nCACHE_PROBE = 1\n")
    after = compiled(root)
    # train imports modeling; evaluate consumes train's model. ingest, validate and
    # featurize do not import it (components/__init__ lazily exposes every step, yet
    # `from components.lib import modeling` never runs that hook).
    assert differing(before, after) == {"train", "evaluate"}
    # On the executors, where KFP's fingerprint reads it: only train's code changed.
    old, new = executor_identities(before), executor_identities(after)
    assert all(old.values()) and all(new.values())
    assert {label for label in old if old[label] != new[label]} == {"exec-train"}
    # Same files again: same identities (the compile cache is keyed on the code too).
    modeling.write_text(modeling.read_text().replace("\nCACHE_PROBE = 1\n", ""))
    assert task_identities(compiled(root)) == task_identities(before)


def test_a_comment_only_edit_counts_as_a_change(root):
    before = compiled(root)
    validation = root / "components" / "lib" / "validation.py"
    validation.write_text(validation.read_text() + "# only a comment\n")
    after = compiled(root)
    assert differing(before, after) == {"validate", "featurize", "train", "evaluate"}
    old, new = executor_identities(before), executor_identities(after)
    assert {label for label in old if old[label] != new[label]} == {"exec-validate"}


def test_kfp_own_cache_key_sees_the_identity_and_no_custom_key_hides_the_arguments(root, tmp_path):
    from kfp.local.cache import LocalCache

    before = compiled(root)
    modeling = root / "components" / "lib" / "modeling.py"
    modeling.write_text(modeling.read_text() + "\nCACHE_PROBE = 2\n")
    after = compiled(root)
    cache = LocalCache(str(tmp_path / "kfp-cache"))

    def kfp_key(ir: dict, label: str, arguments: dict, custom: str | None = None) -> str:
        c = ir["deploymentSpec"]["executors"][label]["container"]
        env = {e["name"]: e["value"] for e in c.get("env", [])}
        command = [*c["command"], *c["args"]]
        return cache.compute_key(label, c["image"], command, arguments, env, custom)

    args = {"n_estimators": 120}
    assert kfp_key(before, "exec-train", args) != kfp_key(after, "exec-train", args)
    assert kfp_key(before, "exec-ingest", args) == kfp_key(after, "exec-ingest", args)
    # Why the identity is not a `cachingOptions.cacheKey`: KFP then keys on it alone, and a
    # run with other arguments would hit the old entry.
    assert kfp_key(before, "exec-train", args, "k") == kfp_key(
        before, "exec-train", {"n_estimators": 5}, "k"
    )
    for task in after["root"]["dag"]["tasks"].values():
        assert "cacheKey" not in task.get("cachingOptions", {})
    # The pod still runs KFP's executor: the flag sits after KFP's own arguments.
    args_train = after["deploymentSpec"]["executors"]["exec-train"]["container"]["args"]
    assert args_train[:4] == ["--executor_input", "{{$}}", "--function_to_execute", "train"]
    assert args_train[4] == IDENTITY_FLAG


def test_a_package_reached_only_as_a_parent_is_followed_without_its_lazy_hook(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "lib").mkdir(parents=True)
    (pkg / "__init__.py").write_text("def __getattr__(name):\n    from pkg import heavy\n")
    (pkg / "heavy.py").write_text("X = 1\n")
    (pkg / "lib" / "__init__.py").write_text("")
    (pkg / "lib" / "util.py").write_text("Y = 2\n")
    rel = lambda files: {str(f.relative_to(tmp_path)) for f in files}  # noqa: E731
    parent_only = project_imports("from pkg.lib import util\n", tmp_path)
    assert rel(parent_only) == {"pkg/__init__.py", "pkg/lib/__init__.py", "pkg/lib/util.py"}
    # Named itself (`import pkg...` binds pkg; `from pkg import x` looks x up on it): whole.
    for source in ("import pkg.lib.util\n", "from pkg import anything\n"):
        assert "pkg/heavy.py" in rel(project_imports(source, tmp_path))
