"""onepipe.testing.project_copy: what a project's own test runs on (the init template's)."""

from __future__ import annotations

from onepipe.testing import project_copy


def test_a_project_copy_leaves_the_checkout_and_its_state_alone(tmp_path):
    root = tmp_path / "mine"
    (root / ".onepipe").mkdir(parents=True)
    (root / ".onepipe" / "predictions.db").write_text("the checkout's state")
    (root / "data").mkdir()
    (root / "data" / "b.csv").write_text("x\n1\n")
    (root / "onepipe.yaml").write_text(
        "project: mine\nmodel: {name: m}\npipeline: {params: {seed: 1}}\n"
    )

    with project_copy(root, params={"seed": 3}) as project:
        copy = project.settings.root
        assert copy != root and not copy.is_relative_to(root)
        assert (copy / "data" / "b.csv").read_text() == "x\n1\n"
        assert not (copy / ".onepipe").exists()  # left out, not copied
        assert project.settings.params["seed"] == 3
        (copy / "data" / "b.csv").write_text("changed")
    assert not copy.exists()
    assert (root / "data" / "b.csv").read_text() == "x\n1\n"
    assert (root / ".onepipe" / "predictions.db").read_text() == "the checkout's state"
