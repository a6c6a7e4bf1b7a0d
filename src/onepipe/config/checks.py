"""Checks that need more than one section: run on the resolved config, after its shape.

Each raises ``ConfigProblem`` (``key.path: problem``); the loader adds the file, or
the ``-p`` override that caused it.
"""

from __future__ import annotations

from onepipe.config.base import ConfigProblem
from onepipe.config.names import check_kubernetes_name
from onepipe.config.schema import ProjectConfig
from onepipe.config.space import check_parameters


def check_across(cfg: ProjectConfig) -> None:
    """The sweep space against the params; the model name where it names a Kubernetes object."""
    check_parameters(cfg.sweep, cfg.pipeline.params)
    if cfg.backends.serve == "seldon" and cfg.serve.seldon.name is None:
        try:
            check_kubernetes_name(cfg.model.name)
        except ValueError as exc:
            raise ConfigProblem(
                f"model.name: {exc} (it names the SeldonDeployment, as backends.serve is "
                "seldon; or set serve.seldon.name)"
            ) from None
