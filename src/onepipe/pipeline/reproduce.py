"""Re-run a model version's recorded config at its recorded data commit and compare metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from onepipe.config import Settings
from onepipe.config.assemble import project_schema
from onepipe.config.secrets import SECRET_KEYS
from onepipe.errors import UsageError
from onepipe.pipeline.execute import run_pipeline
from onepipe.tracking.gitinfo import git_state
from onepipe.tracking.lineage import lineage


@dataclass
class Reproduction:
    model: str
    recorded_git: str
    head_git: str
    recorded_metrics: dict[str, float]
    new_metrics: dict[str, float]
    run_id: str

    @property
    def git_differs(self) -> bool:
        return self.recorded_git != self.head_git

    @property
    def differences(self) -> dict[str, tuple[float | None, float | None]]:
        keys = set(self.recorded_metrics) | set(self.new_metrics)
        return {
            k: (self.recorded_metrics.get(k), self.new_metrics.get(k))
            for k in sorted(keys)
            if self.recorded_metrics.get(k) != self.new_metrics.get(k)
        }

    @property
    def exact(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "run_id": self.run_id,
            "exact": self.exact,
            "git": {
                "recorded": self.recorded_git,
                "head": self.head_git,
                "differs": self.git_differs,
            },
            "recorded_metrics": self.recorded_metrics,
            "new_metrics": self.new_metrics,
            "differences": {k: list(v) for k, v in self.differences.items()},
        }


def recorded_settings(current: Settings, record: dict[str, Any]) -> Settings:
    """The settings a run was made with, rooted in the current checkout."""
    content = record["config"]["content"]
    if not content:
        raise UsageError(f"run {record['run']['id']} has no recorded config (onepipe/config.json)")
    source = content["config"]
    typed = {**source, "environments": {}, "variants": {}}
    # A run saves no credentials (masked, or a ${NAME} reference): connect as configured today.
    for section, key in SECRET_KEYS:
        if isinstance(typed.get(section), dict):
            typed[section] = {**typed[section], key: getattr(getattr(current, section), key)}
    cfg = project_schema().model_validate(typed)  # with the backends' sections
    settings = Settings.build(
        cfg,
        root=current.root,
        config_file=current.config_file,
        env=content["env"],
        variant=content["variant"],
        user=current.user,
        overrides=[],
        source=source,
    )
    # Pin the data: the recorded run's resolved refs, not today's branch heads.
    pinned = {k: v for k, v in record["run"]["params"].items() if k in settings.params and "@" in v}
    return settings.with_params(**pinned) if pinned else settings


def reproduce(current: Settings, spec: str, *, listener=None) -> Reproduction:
    record = lineage(current, spec)
    settings = recorded_settings(current, record)
    model = f"{record['model']['name']}/{record['model']['version']}"
    result = run_pipeline(
        settings,
        use_cache=False,
        listener=listener,
        register=False,
        extra_tags={"onepipe.reproduces": model},
    )
    recorded = {k: v for k, v in record["run"]["metrics"].items()}
    return Reproduction(
        model,
        record["git"]["commit"],
        git_state(current.root).commit,
        {k: recorded[k] for k in result.metrics if k in recorded} or recorded,
        result.metrics,
        result.run_id,
    )
