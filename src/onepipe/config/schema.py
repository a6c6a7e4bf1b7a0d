"""The typed shape of ``onepipe.yaml``.

Every section forbids unknown keys so a typo is an error, not a silent default.
Environments and variants are partial overlays of these same sections; they are
validated after merging, against this schema.

These are the core sections. ``backends.<stage>`` and the backends' own sections
(``kfp``, ``serve.seldon`` ...) come from the registry: ``project_schema()`` in
onepipe.config.assemble is the whole file's schema.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from onepipe.config.base import Section
from onepipe.config.monitor import MonitorConfig
from onepipe.config.names import check_model_name, check_project, check_repo, check_tracking_uri
from onepipe.config.promotion import PromotionConfig
from onepipe.config.serve import ServeConfig
from onepipe.config.sweep import SweepConfig

Scalar = bool | int | float | str
ENVIRONMENTS = ("dev", "test", "acc", "prod")


class Backends(Section):
    """Which implementation serves each stage's protocol; picked per environment.

    One field per stage, its choices the registry's names (onepipe.config.assemble).
    """


class RepoConfig(Section):
    description: str = ""


class DataConfig(Section):
    root: str = ".onepipe/data"
    default_branch: str = "master"
    repos: dict[str, RepoConfig] = Field(default_factory=dict)

    @field_validator("repos")
    @classmethod
    def _repo_names(cls, value: dict) -> dict:
        for name in value:
            check_repo(name)
        return value


class TrackingConfig(Section):
    uri: str = "sqlite:///.onepipe/mlflow.db"
    experiment: str | None = None  # defaults to "<project>-<env>"
    artifact_location: str = ".onepipe/mlartifacts"

    @field_validator("uri")
    @classmethod
    def _supported_uri(cls, value: str) -> str:
        return check_tracking_uri(value)


class PipelineConfig(Section):
    module: str = "pipelines.training"
    function: str = "training_pipeline"
    cache_dir: str = ".onepipe/cache"
    runs_dir: str = ".onepipe/runs"
    params: dict[str, Scalar] = Field(default_factory=dict)


class ModelConfig(Section):
    name: str
    step: str = "train"  # the step whose Model output is registered
    output: str = "model"
    metrics_step: str = "evaluate"  # the step whose Metrics become the run's metrics
    # binary | multiclass | regression. Absent: the task the step helpers recorded with
    # the model (onepipe.task on the version), else a guess from the logged values.
    task: Literal["binary", "multiclass", "regression"] | None = None
    # The data column holding the truth: what feedback carries (the demo's traffic
    # reads it), the column the drift profile leaves out. Absent: the one recorded
    # with the model.
    label: str | None = None
    # The project's metrics, primary first: a known name (rmse, roc_auc, ...) or
    # {name: maximize|minimize}. Absent: the task's defaults (onepipe.quality).
    metrics: list[str | dict[str, str]] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _registry_name(cls, value: str) -> str:
        return check_model_name(value)

    @field_validator("metrics")
    @classmethod
    def _known_or_directed(cls, value: list) -> list:
        # lazy: keeps numpy off `onepipe --help`
        from onepipe.quality.metrics import parse_declared

        parse_declared(value)  # ValueError -> one config error naming model.metrics
        return value

    @property
    def declared_metrics(self):
        """``metrics`` as ``MetricSpec``s (name and direction)."""
        # lazy: keeps numpy off `onepipe --help`
        from onepipe.quality.metrics import parse_declared

        return parse_declared(self.metrics)


class ImageConfig(Section):
    training: str = "ghcr.io/onepipe/training:0.1.0"
    # sha256:<64 hex> of the pushed image: KFP runs then use repo@sha256:... (required in acc/prod)
    training_digest: str | None = Field(None, pattern=r"^sha256:[0-9a-f]{64}$")

    @property
    def pinned(self) -> str:
        """The image reference a cluster runs: ``repo@sha256:...`` when a digest is set."""
        if not self.training_digest:
            return self.training
        repo = self.training.split("@", 1)[0]
        last = repo.rsplit("/", 1)[-1]
        if ":" in last:  # drop the tag: the digest names the image
            repo = repo[: len(repo) - len(last)] + last.split(":", 1)[0]
        return f"{repo}@{self.training_digest}"


class KubernetesConfig(Section):
    namespace: str = "default"
    context: str | None = None


class ProjectConfig(Section):
    """The whole file. ``environments`` and ``variants`` hold raw overlays."""

    project: str
    image: ImageConfig = Field(default_factory=ImageConfig)
    backends: Backends = Field(default_factory=Backends)
    data: DataConfig = Field(default_factory=DataConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    model: ModelConfig
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)
    sweep: SweepConfig = Field(default_factory=SweepConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)
    environments: dict[str, dict] = Field(default_factory=dict)
    variants: dict[str, dict] = Field(default_factory=dict)

    @field_validator("project")
    @classmethod
    def _kubernetes_name(cls, value: str) -> str:
        return check_project(value)


# Core sections an environment overlay may touch (backends' top-level sections too:
# assemble.overlay_keys), and the ones a variant may touch.
ENV_OVERLAY_KEYS = (
    "image",
    "backends",
    "data",
    "tracking",
    "pipeline",
    "model",
    "kubernetes",
    "sweep",
    "serve",
    "monitor",
    "promotion",
)
VARIANT_OVERLAY_KEYS = ("params", "sweep")
