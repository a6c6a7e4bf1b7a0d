"""Cache hit/miss rules of the in-process runner, on a small chain pipeline compiled by KFP."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from chain_project import make_chain_project

from onepipe.config import load_settings
from onepipe.errors import RunFailed
from onepipe.pipeline.execute import run_pipeline


def statuses(result) -> list[str]:
    return [s.status for s in result.steps]


def values(result) -> list[float]:
    return [s.outputs["out"].metadata["value"] for s in result.steps]


@pytest.fixture
def chain(tmp_path) -> Path:
    return make_chain_project(tmp_path / "chain", 4)


def settings_for(root: Path, *overrides: str):
    return load_settings(root / "onepipe.yaml", overrides=list(overrides))


def test_identical_rerun_executes_nothing(chain):
    first = run_pipeline(settings_for(chain), track=False, register=False)
    assert statuses(first) == ["done"] * 4
    assert values(first) == [1, 2.0, 2.0, 3.0]
    again = run_pipeline(settings_for(chain), track=False, register=False)
    assert statuses(again) == ["cached"] * 4
    assert values(again) == values(first)
    assert [s.cache_key for s in again.steps] == [s.cache_key for s in first.steps]


def test_changing_a_param_reruns_only_the_steps_downstream_of_it(chain):
    run_pipeline(settings_for(chain), track=False, register=False)
    changed = run_pipeline(settings_for(chain, "factor=3"), track=False, register=False)
    # factor enters at step 2: step 1 is a hit, 2..4 re-run with the new value.
    assert statuses(changed) == ["cached", "done", "done", "done"]
    assert values(changed) == [1, 3.0, 3.0, 4.0]
    # Back to the old value: everything is in the cache already.
    assert (
        statuses(run_pipeline(settings_for(chain), track=False, register=False)) == ["cached"] * 4
    )


def test_an_upstream_change_with_identical_output_stops_invalidating(chain):
    # base=1 and factor=2 give 2.0 at step 2; base=2, factor=1 gives 2.0 too.
    run_pipeline(settings_for(chain), track=False, register=False)
    other = run_pipeline(settings_for(chain, "base=2", "factor=1"), track=False, register=False)
    assert statuses(other)[:2] == ["done", "done"]
    assert statuses(other)[2:] == ["cached", "cached"]  # same input content -> same key


def test_editing_project_code_a_step_imports_reruns_that_step_only(chain):
    run_pipeline(settings_for(chain), track=False, register=False)
    helper = chain / "chainlib" / "helpers.py"
    helper.write_text("def finish(value):\n    return value + 10\n")
    os.utime(helper, (time.time() + 5, time.time() + 5))
    edited = run_pipeline(settings_for(chain), track=False, register=False)
    assert statuses(edited) == ["cached", "cached", "cached", "done"]
    assert values(edited)[-1] == 12.0  # the new code ran, not a stale import


def test_editing_a_step_source_reruns_it_and_downstream(chain):
    run_pipeline(settings_for(chain), track=False, register=False)
    source = chain / "chainpipe.py"
    source.write_text(
        source.read_text().replace("value = value * factor", "value = value * factor * 5")
    )
    edited = run_pipeline(settings_for(chain), track=False, register=False)
    assert statuses(edited) == ["cached", "done", "done", "done"]
    assert values(edited) == [1, 10.0, 10.0, 11.0]


def test_no_cache_executes_every_step(chain):
    run_pipeline(settings_for(chain), track=False, register=False)
    forced = run_pipeline(settings_for(chain), use_cache=False, track=False, register=False)
    assert statuses(forced) == ["done"] * 4


def test_a_failing_step_fails_the_run_and_skips_downstream(tmp_path):
    root = make_chain_project(tmp_path / "failing", 3, fail_at=2)
    with pytest.raises(RunFailed) as info:
        run_pipeline(settings_for(root, "fail=true"), track=False, register=False)
    assert info.value.exit_code == 1
    assert "step 'step-2' failed: step 2 failed on purpose" in str(info.value)
    assert statuses(info.value.result) == ["done", "failed", "skipped"]
    # Nothing of the failed step was cached: fixing the input runs it.
    fixed = run_pipeline(settings_for(root), track=False, register=False)
    assert statuses(fixed) == ["done", "done", "done"]


def test_cached_steps_are_tracked_as_cache_hits_naming_the_producing_run(chain):
    from onepipe.tracking.client import client_for

    chain_settings = settings_for(chain)
    first = run_pipeline(chain_settings, register=False)
    second = run_pipeline(chain_settings, register=False)
    client = client_for(chain_settings)
    children = client.search_runs(
        [second.experiment_id], f"tags.`mlflow.parentRunId` = '{second.run_id}'"
    )
    assert len(children) == 4
    first_children = {
        r.data.tags["onepipe.step"]: r.info.run_id
        for r in client.search_runs(
            [first.experiment_id], f"tags.`mlflow.parentRunId` = '{first.run_id}'"
        )
    }
    for child in children:
        tags = child.data.tags
        assert tags["onepipe.cache_hit"] == "true"
        assert tags["onepipe.cache_source_run"] == first_children[tags["onepipe.step"]]
    assert client.get_run(second.run_id).data.tags["onepipe.executed"] == "0"
