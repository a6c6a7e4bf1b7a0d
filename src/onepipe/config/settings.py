"""``Settings``: the one resolved configuration every entry point receives."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from onepipe.config.assemble import top_level_sections
from onepipe.config.monitor import MonitorConfig
from onepipe.config.promotion import PromotionConfig
from onepipe.config.schema import (
    Backends,
    DataConfig,
    ImageConfig,
    KubernetesConfig,
    ModelConfig,
    PipelineConfig,
    ProjectConfig,
    Scalar,
    TrackingConfig,
)
from onepipe.config.secrets import mask
from onepipe.config.serve import ServeConfig
from onepipe.config.sweep import SweepConfig
from onepipe.plugins import load_backend


class Settings(BaseModel):
    """Resolved once (file + environment + variant + overrides) and passed down, never re-read.

    Backends' top-level sections (``kfp``) are attributes too (``settings.kfp``): extra
    fields, one per section the registry declares (onepipe.config.assemble).
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    project: str
    env: str
    variant: str | None
    user: str
    root: Path
    config_file: Path
    overrides: tuple[str, ...] = ()
    image: ImageConfig
    backends: Backends
    data: DataConfig
    tracking: TrackingConfig
    pipeline: PipelineConfig
    model: ModelConfig
    kubernetes: KubernetesConfig
    sweep: SweepConfig
    serve: ServeConfig
    monitor: MonitorConfig
    promotion: PromotionConfig = PromotionConfig()  # gates of `promote --to` this env
    source: dict[str, Any]  # the merged config as written (relative paths), for hashing and saving

    @classmethod
    def build(
        cls,
        cfg: ProjectConfig,
        *,
        root: Path,
        config_file: Path,
        env: str,
        variant: str | None,
        user: str,
        overrides: list[str],
        source: dict[str, Any],
    ) -> Settings:
        return cls(
            project=cfg.project,
            env=env,
            variant=variant,
            user=user,
            root=root,
            config_file=config_file,
            overrides=tuple(overrides),
            image=cfg.image,
            backends=cfg.backends,
            data=cfg.data,
            tracking=cfg.tracking,
            pipeline=cfg.pipeline,
            model=cfg.model,
            kubernetes=cfg.kubernetes,
            sweep=_with_objective(cfg.sweep, cfg.model),
            serve=cfg.serve,
            monitor=cfg.monitor,
            promotion=cfg.promotion,
            source=source,
            **{key: getattr(cfg, key) for key in top_level_sections()},
        )

    # ---- derived values -------------------------------------------------
    @property
    def params(self) -> dict[str, Scalar]:
        return dict(self.pipeline.params)

    def path(self, relative: str | Path) -> Path:
        """A config path made absolute against the project root."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (self.root / p)

    @property
    def state_dir(self) -> Path:
        return self.root / ".onepipe"

    @property
    def outbox_dir(self) -> Path:
        """Tracking records waiting to be written to MLflow (see pipeline/outbox.py)."""
        return self.state_dir / "outbox"

    @property
    def data_root(self) -> Path:
        return self.path(self.data.root)

    @property
    def data_store_uri(self) -> str:
        """Where pipeline steps open the data store (a step may run in another process)."""
        return load_backend("data", self.backends.data).uri_for(self)

    @property
    def tracking_uri(self) -> str:
        uri = self.tracking.uri
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
            return "sqlite:///" + str(self.path(uri[len("sqlite:///") :]))
        if "://" not in uri:
            return self.path(uri).as_uri()
        return uri

    @property
    def artifact_location(self) -> str:
        loc = self.tracking.artifact_location
        return loc if "://" in loc else self.path(loc).as_uri()

    @property
    def team_mode(self) -> bool:
        """True when tracking goes to a tracking server, i.e. a store shared by people."""
        return self.tracking_uri.startswith(("http://", "https://"))

    @property
    def per_user(self) -> bool:
        """Team mode with a known user: runs, sweeps and Katib names are the user's own."""
        return self.team_mode and self.user not in ("", "anonymous")

    @property
    def shared_experiment_name(self) -> str:
        """The environment's experiment: ``tracking.experiment`` or ``<project>-<env>``."""
        return self.tracking.experiment or f"{self.project}-{self.env}"

    @property
    def experiment_name(self) -> str:
        """Where this user's runs and sweeps go (docs/teams.md).

        Against a tracking server each user gets ``<shared experiment>/<user>`` so two
        people never write into one experiment; a local store (or no known user, as
        when rendering an environment's manifests) keeps the shared name.
        """
        base = self.shared_experiment_name
        return f"{base}/{self.user}" if self.per_user else base

    @property
    def model_name(self) -> str:
        return self.model.name

    @property
    def task(self) -> str | None:
        """The declared task (``model.task``); None means: ask the model version."""
        return self.model.task

    def metrics_for(self, task: str | None = None):
        """The project's metrics (primary first): declared, else ``task``'s defaults."""
        # lazy: keeps numpy off `onepipe --help`
        from onepipe.quality.metrics import resolve_metrics

        return resolve_metrics(self.model.task or task, self.model.declared_metrics)

    def logical(self) -> dict[str, Any]:
        """What makes two runs 'the same config': the merged file plus env and variant."""
        return {"env": self.env, "variant": self.variant, "config": self.source}

    @property
    def config_hash(self) -> str:
        blob = json.dumps(self.logical(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def with_params(self, **params: Scalar) -> Settings:
        """A copy with some pipeline params replaced (used by sweeps and reproduce)."""
        new_params = {**self.pipeline.params, **params}
        source = json.loads(json.dumps(self.source))
        source.setdefault("pipeline", {})["params"] = new_params
        return self.model_copy(
            update={
                "pipeline": self.pipeline.model_copy(update={"params": new_params}),
                "source": source,
            }
        )

    def show(self) -> dict[str, Any]:
        """The resolved config as `onepipe config show` prints it: passwords shown as ``***``."""
        return mask(self._resolved())

    def saved(self) -> dict[str, Any]:
        """What a run saves as ``onepipe/config.json``: no password in it (the hash is unchanged)."""
        return mask({**self.logical(), "resolved": self._resolved()})

    def _resolved(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "env": self.env,
            "variant": self.variant,
            "config_file": str(self.config_file),
            "config_hash": self.config_hash,
            "image": self.image.model_dump(),
            "backends": self.backends.model_dump(),
            "data": {**self.data.model_dump(), "root": str(self.data_root)},
            "tracking": {
                **self.tracking.model_dump(),
                "uri": self.tracking_uri,
                "experiment": self.experiment_name,
                "artifact_location": self.artifact_location,
            },
            "pipeline": self.pipeline.model_dump(),
            "model": self.model.model_dump(),
            "kubernetes": self.kubernetes.model_dump(),
            "sweep": self.sweep.model_dump(by_alias=True),
            "serve": self.serve.model_dump(by_alias=True),
            "monitor": self.monitor.model_dump(by_alias=True),
            "promotion": self.promotion.model_dump(),
            **{key: getattr(self, key).model_dump(by_alias=True) for key in top_level_sections()},
        }


def _with_objective(sweep: SweepConfig, model: ModelConfig) -> SweepConfig:
    """The sweep section with its objective defaulted to the project's primary metric.

    Left unset when neither the objective nor ``model.task``/``model.metrics`` says:
    ``sweep.space.check_space`` then refuses the sweep with one line saying what to declare.
    """
    # lazy: keeps numpy off `onepipe --help`
    from onepipe.quality.metrics import METRICS, resolve_metrics

    objective = sweep.objective
    metrics = resolve_metrics(model.task, model.declared_metrics)
    name = objective.objectiveMetricName or (metrics[0].name if metrics else None)
    direction = objective.type
    if direction is None and name is not None:
        known = {m.name: m.direction for m in metrics}
        if name in known:
            direction = known[name]
        elif name in METRICS:
            direction = METRICS[name].direction
    if name == objective.objectiveMetricName and direction == objective.type:
        return sweep
    return sweep.model_copy(
        update={
            "objective": objective.model_copy(
                update={"objectiveMetricName": name, "type": direction}
            )
        }
    )
