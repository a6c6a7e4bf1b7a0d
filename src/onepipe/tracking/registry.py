"""The model registry: register a run's model, move aliases, resolve ``name@alias`` / ``name/version``.

MLflow is imported inside the functions that call it: a fully cached ``onepipe run``
loads this module (pipeline/record.py) and must not pay MLflow's import.
"""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from onepipe.config import Settings
from onepipe.errors import NotFoundError, UsageError, closest
from onepipe.tracking.aliases import CHALLENGER, CHAMPION, resolve_alias
from onepipe.tracking.aliases import alias as role_alias
from onepipe.tracking.client import client_for
from onepipe.tracking.model_code import forget_shadowing_modules
from onepipe.tracking.modelfacts import facts_tags

_SPEC = re.compile(r"^(?P<name>[^@/]+)(?:@(?P<alias>[A-Za-z0-9_-]+)|/(?P<version>\d+))?$")


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str
    run_id: str
    source: str
    aliases: tuple[str, ...]

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def __str__(self) -> str:
        return f"{self.name}/{self.version}"


def parse_model_spec(spec: str) -> tuple[str, str | None, str | None]:
    """``name`` (champion), ``name@alias`` or ``name/version`` -> (name, alias, version)."""
    m = _SPEC.match(spec.strip())
    if not m:
        raise UsageError(
            f"model {spec!r}: expected NAME, NAME@ALIAS or NAME/VERSION (e.g. credit-risk@champion)"
        )
    alias, ver = m["alias"], m["version"]
    if alias is None and ver is None:
        alias = CHAMPION
    return m["name"], alias, ver


def resolve_model(settings: Settings, spec: str) -> ModelRef:
    """A role alias (``@champion``) means this environment's alias (see tracking/aliases.py)."""
    from mlflow.exceptions import MlflowException  # lazy: see the module docstring

    client = client_for(settings)
    name, role, ver = parse_model_spec(spec)
    alias = resolve_alias(settings, role) if role else None
    try:
        mv = (
            client.get_model_version_by_alias(name, alias)
            if alias
            else client.get_model_version(name, ver)
        )
    except MlflowException:
        names = [m.name for m in client.search_registered_models()]
        if name not in names:
            raise NotFoundError(f"model {name!r} is not registered{closest(name, names)}") from None
        rm = client.get_registered_model(name)
        if alias:
            have = ", ".join(sorted(rm.aliases)) or "none"
            raise NotFoundError(
                f"model {name!r} has no alias {alias!r} (aliases: {have})"
            ) from None
        versions = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
        raise NotFoundError(
            f"model {name!r} has no version {ver} (versions: {', '.join(map(str, versions))})"
        ) from None
    return ModelRef(
        name, str(mv.version), mv.run_id, mv.source, tuple(getattr(mv, "aliases", ()) or ())
    )


def register(
    settings,
    run_id: str,
    model_dir: Path | None,
    model_hash: str,
    alias: str = CHALLENGER,
    tags: dict[str, str] | None = None,
) -> tuple[ModelRef, bool]:
    """Register the run's model (or find the version holding identical bytes); returns (ref, is_new).

    ``tags`` are written with the new version in the same call, so a reader never sees
    the version without them.
    """
    from mlflow.exceptions import MlflowException  # lazy: see the module docstring

    client = client_for(settings)
    name = settings.model_name
    # What the step helpers recorded in the model (task, label) travels as version tags.
    tags = {**facts_tags(model_dir), **(tags or {})}
    try:
        client.get_registered_model(name)
    except MlflowException:
        try:
            client.create_registered_model(name, description="trained by onepipe")
        except MlflowException:
            pass  # created concurrently
    existing = client.search_model_versions(
        f"name='{name}' and tag.`onepipe.model_hash`='{model_hash}'"
    )
    if existing:
        mv = existing[0]
        for key, value in (tags or {}).items():
            client.set_model_version_tag(name, mv.version, key, value)
        return ModelRef(name, str(mv.version), mv.run_id, mv.source, tuple(mv.aliases or ())), False
    if model_dir is not None:  # None: the run already logged it under "model" (a sweep trial)
        client.log_artifacts(run_id, str(model_dir), "model")
    source = f"{client.get_run(run_id).info.artifact_uri}/model"
    mv = client.create_model_version(
        name,
        source=source,
        run_id=run_id,
        tags={
            "onepipe.model_hash": model_hash,
            "onepipe.env": settings.env,
            "onepipe.config_hash": settings.config_hash,
            **(tags or {}),
        },
        description=f"run {run_id}",
    )
    if alias:
        alias = resolve_alias(settings, alias)
        set_alias(client, name, alias, mv.version)
    return ModelRef(name, str(mv.version), run_id, source, (alias,) if alias else ()), True


def promote(
    settings: Settings, name: str, version: str | None = None
) -> tuple[ModelRef, str | None]:
    """Point this env's ``champion`` at ``version`` (default: its challenger); returns (new, previous)."""
    client = client_for(settings)
    target = resolve_model(settings, f"{name}/{version}" if version else f"{name}@{CHALLENGER}")
    try:
        previous = resolve_model(settings, f"{name}@{CHAMPION}").version
    except NotFoundError:
        previous = None
    set_alias(client, name, role_alias(settings, CHAMPION), target.version)
    if role_alias(settings, CHALLENGER) in target.aliases:
        client.delete_registered_model_alias(name, role_alias(settings, CHALLENGER))
    note_previous_champion(settings, name, target.version, previous)
    return resolve_model(settings, f"{name}/{target.version}"), previous


def note_previous_champion(
    settings: Settings, name: str, version: str, previous: str | None
) -> None:
    if previous and str(previous) != str(version):
        client_for(settings).set_model_version_tag(
            name, version, "onepipe.previous_champion", previous
        )


def role_versions(settings: Settings, name: str) -> dict[str, str | None]:
    """This environment's champion and challenger versions (None: alias not set)."""
    from mlflow.exceptions import MlflowException  # lazy: see the module docstring

    try:
        aliases = client_for(settings).get_registered_model(name).aliases or {}
    except MlflowException:
        aliases = {}
    found = {role: aliases.get(role_alias(settings, role)) for role in (CHAMPION, CHALLENGER)}
    return {role: None if v is None else str(v) for role, v in found.items()}


# A tracking server inserts a new alias with a plain INSERT: two clients setting the same
# new alias at once make one of them fail on the alias table's unique key (seen with two
# sweeps registering against one PostgreSQL-backed server). The row exists by then, so a
# second try updates it. Matched on the table's name: it is the same for every database.
_ALIAS_RACE_MARKS = ("registered_model_alias", "registered_model_aliases")
ALIAS_ATTEMPTS = 5


def set_alias(client, name: str, alias: str, version: str | int) -> None:
    """``client.set_registered_model_alias``, tried again when it lost the insert race."""
    from mlflow.exceptions import MlflowException  # lazy: see the module docstring

    for attempt in range(1, ALIAS_ATTEMPTS + 1):
        try:
            client.set_registered_model_alias(name, alias, version)
            return
        except MlflowException as exc:
            text = str(exc)
            raced = any(m in text for m in _ALIAS_RACE_MARKS) and (
                "nique" in text or "already exists" in text or "Duplicate" in text
            )
            if not raced or attempt == ALIAS_ATTEMPTS:
                raise
            time.sleep(0.05 * attempt)


def set_role(settings: Settings, name: str, role: str, version: str | None) -> None:
    """Point this environment's ``role`` alias at ``version``; None removes it."""
    client = client_for(settings)
    if version is None:
        client.delete_registered_model_alias(name, role_alias(settings, role))
    else:
        set_alias(client, name, role_alias(settings, role), version)


def load_pyfunc(settings, spec: str):
    """A registered version as an MLflow pyfunc, fetched through this settings' tracking URI.

    MLflow's ``models:/`` loading reads the process-wide tracking and registry URIs (and
    ``mlflow.set_registry_uri`` exports them to every child process), so library code that
    set them would silently redirect the user's own MLflow clients: fetch explicitly instead.
    """
    # lazy: MLflow, see the module docstring
    import mlflow.artifacts
    import mlflow.pyfunc

    ref = resolve_model(settings, spec)
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=ref.source,
        dst_path=tempfile.mkdtemp(prefix="onepipe-model-"),
        tracking_uri=settings.tracking_uri,
    )
    forget_shadowing_modules(Path(local))
    return ref, mlflow.pyfunc.load_model(local)
