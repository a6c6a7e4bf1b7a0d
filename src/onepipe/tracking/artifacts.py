"""A registered version's files on this machine: what serving and monitoring read.

A local artifact store is read in place; a remote one is downloaded once into the
project's state folder. The registry's name and version become folder names there.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from onepipe.config import Settings
from onepipe.errors import NotFoundError, OnepipeError
from onepipe.tracking.client import client_for
from onepipe.tracking.registry import ModelRef


def check_ref_names(ref: ModelRef) -> None:
    """A registry's name and version become folder names (artifact cache, MLServer's
    model dirs): refuse any that could name a folder elsewhere. MLflow refuses such
    names itself; this guards against a registry written by something else."""
    for what, value in (("name", ref.name), ("version", str(ref.version))):
        if (
            not value
            or value in (".", "..")
            or any(c in value for c in "/\\\0")
            or not value.isprintable()
        ):
            raise OnepipeError(
                f"registered model {what} {value[:80]!r} cannot be served (expected one "
                "folder name: not '.' or '..', no '/', '\\' or control characters)"
            )


def local_path(settings: Settings, ref: ModelRef) -> Path:
    """The model directory on this machine; remote artifact stores are downloaded once."""
    check_ref_names(ref)
    parts = urlsplit(ref.source)
    if parts.scheme in ("", "file"):
        path = Path(unquote(parts.path if parts.scheme else ref.source))
        if not (path / "MLmodel").is_file():
            raise NotFoundError(
                f"{ref}: model artifacts not found at {path} (expected an MLmodel file)"
            )
        return path
    dest = settings.state_dir / "serve" / "artifacts" / ref.name / str(ref.version)
    if not (dest / "MLmodel").is_file():
        # lazy: the gateway's request code imports this module (serve/models.py: Column)
        import mlflow.artifacts

        client_for(settings)  # creates the tracking dir for sqlite URIs
        dest.mkdir(parents=True, exist_ok=True)
        mlflow.artifacts.download_artifacts(
            artifact_uri=ref.uri, dst_path=str(dest), tracking_uri=settings.tracking_uri
        )
    return dest
