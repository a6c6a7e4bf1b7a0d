"""The ``data.pachyderm`` section of onepipe.yaml: which pachd, which project."""

from __future__ import annotations

from onepipe.config.base import BackendSection


class PachydermConfig(BackendSection):
    host: str = "localhost"
    port: int = 30650
    project: str = "default"
