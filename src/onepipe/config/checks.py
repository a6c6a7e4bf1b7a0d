"""Checks that need more than one section: run on the resolved config, after its shape.

Each raises ``ConfigProblem`` (``key.path: problem``); the loader adds the file, or
the ``-p`` override that caused it.
"""

from __future__ import annotations

from onepipe.config.assemble import check_chosen
from onepipe.config.promotion import check_promotion
from onepipe.config.schema import ProjectConfig
from onepipe.config.space import check_parameters


def check_across(cfg: ProjectConfig) -> None:
    """The sweep space against the params; each chosen backend's own checks (the model
    name where it names a Kubernetes object, say)."""
    check_parameters(cfg.sweep, cfg.pipeline.params)
    check_chosen(cfg)
    check_promotion(cfg.promotion, cfg.model.task)
