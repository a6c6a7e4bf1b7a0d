"""The ``serve:`` section of onepipe.yaml (gateway, MLServer worker, history).

Cluster backends add their own keys (``serve.seldon``): see onepipe.config.assemble.
"""

from __future__ import annotations

from pydantic import Field

from onepipe.config.base import Section


class GatewayConfig(Section):
    """The local gateway in front of MLServer: one port, V2 protocol + ``POST /predict``."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    max_body_bytes: int = Field(1_048_576, ge=64)  # larger bodies answer 413
    max_instances: int = Field(1000, ge=1)  # rows per request; more answer 413
    sticky_header: str = "x-onepipe-user"  # same value -> same model (A/B tests)
    upstream_timeout_s: float = Field(30.0, gt=0)
    # A client has this long to send a whole request (headers and body) from its first byte,
    # and a new connection this long to start one; past it the connection is closed (408).
    read_timeout_s: float = Field(30.0, gt=0)


class MLServerConfig(Section):
    """The MLServer worker the gateway starts (``mlserver start`` in a subprocess)."""

    workdir: str = ".onepipe/serve"  # generated settings.json / model-settings.json
    port: int = Field(0, ge=0, le=65535)  # 0: pick a free port
    parallel_workers: int = Field(0, ge=0)  # 0: inference in the server process (fast start)
    startup_timeout_s: float = Field(60.0, gt=0)
    load_timeout_s: float = Field(120.0, gt=0)


class ServeConfig(Section):
    """Serving: canary split, shadow and sticky routing, durable deployment history."""

    canary: int = Field(10, ge=0, le=100)  # default challenger share for `deploy --canary`
    shadow: bool = False  # challenger gets a copy of each request, the champion answers
    sticky: bool = False  # route by the sticky header's value instead of at random
    # Deployment history: a path (SQLite, relative to the project) or postgresql://...
    history_url: str = ".onepipe/deployments.db"
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    mlserver: MLServerConfig = Field(default_factory=MLServerConfig)
