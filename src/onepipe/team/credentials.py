"""The team server's generated secrets and each teammate's credentials file.

``<data-dir>/secrets.json`` (0600) holds what only the server uses: the
PostgreSQL superuser's password (reachable over the owner-only socket only), the
password of MLflow's database role, MLflow's admin password and its CSRF key,
and the store password teammates need for the deployment history and the
prediction store. ``<data-dir>/users/<name>.env`` (0600) is what the operator
hands to one teammate: their MLflow login and the store password, as environment
variables (``set -a; . alice.env; set +a``). Nothing of it goes into
``onepipe.yaml``.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from onepipe.errors import ConfigError, UsageError
from onepipe.owner_only import make_dirs, write_private

STORE_PASSWORD_VAR = "ONEPIPE_STORE_PASSWORD"
_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def new_password() -> str:
    return secrets.token_urlsafe(24)  # URL-safe: it may sit in a connection URL as is


@dataclass(frozen=True)
class ServerSecrets:
    superuser: str  # PostgreSQL `postgres`: the owner-only Unix socket, never TCP
    mlflow_db: str  # PostgreSQL role `mlflow`: MLflow's backend and auth databases
    store_db: str  # PostgreSQL role `onepipe`: history and prediction store (teammates)
    mlflow_admin: str  # MLflow basic-auth user `admin`
    flask_key: str  # MLflow's CSRF key: the same in every worker

    @classmethod
    def generate(cls) -> ServerSecrets:
        return cls(**{f.name: new_password() for f in fields(cls)})

    @classmethod
    def load(cls, path: Path) -> ServerSecrets | None:
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            return cls(**{f.name: str(data[f.name]) for f in fields(cls)})
        except (ValueError, KeyError, TypeError):
            raise ConfigError(
                f"{path}: not the team server's secrets file (expected JSON with "
                f"{', '.join(f.name for f in fields(cls))}); restore it from a backup"
            ) from None

    def save(self, path: Path) -> None:
        write_private(path, json.dumps(asdict(self), indent=1) + "\n")


def check_user_name(name: str) -> str:
    if not _USER.fullmatch(name) or name == "admin":
        raise UsageError(
            f"--user {name!r}: expected a login of letters, digits, '.', '_' or '-' "
            "(at most 64, not starting with a punctuation mark, not 'admin')"
        )
    return name


def user_env_path(users_dir: Path, name: str) -> Path:
    return users_dir / f"{name}.env"


def write_user_env(path: Path, name: str, password: str, store_password: str) -> None:
    make_dirs(path.parent)
    write_private(
        path,
        f"# onepipe server credentials for {name}; load with: set -a; . {path.name}; set +a\n"
        f"MLFLOW_TRACKING_USERNAME={name}\n"
        f"MLFLOW_TRACKING_PASSWORD={password}\n"
        f"{STORE_PASSWORD_VAR}={store_password}\n",
    )


def read_user_env(path: Path) -> dict[str, str]:
    """The variables of a credentials file (``NAME=value`` lines)."""
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out
