"""MLflow's basic-auth app for ``onepipe server``: a login per teammate, always on.

Always, not only off loopback: a loopback port is open to every local user, and
issue 11 measured one deleting alice's experiment. With ``default_permission =
EDIT`` teammates read, log to and tag each other's experiments and runs, while
deleting them, or changing who may do what, stays with their creator (MLflow
grants the creator MANAGE) and the ``admin`` user. The registry is the team's,
as in team mode without auth: the role ``onepipe-team`` gives every login MANAGE
on registered models, so anyone may promote, roll back and move aliases.

Passwords are checked with scrypt (about 70 ms here); each worker caches a good
login for ``AUTH_CACHE_SECONDS`` so a sweep's hundreds of calls do not pay it
each time. A changed or deleted login may so keep working for that long on the
worker that did not handle the change.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from werkzeug.security import generate_password_hash

from onepipe.errors import ConfigError
from onepipe.owner_only import write_private
from onepipe.team.credentials import ServerSecrets

ADMIN = "admin"
DEFAULT_PERMISSION = "EDIT"
AUTH_CACHE_SECONDS = 60
# Moving an alias off a version (promote, rollback) is a delete in MLflow's model, which
# EDIT does not allow: every teammate gets MANAGE on registered models through this role.
TEAM_ROLE = "onepipe-team"
WORKSPACE = "default"  # MLflow's only workspace while workspaces are off


def write_auth_config(path: Path, database_uri: str) -> None:
    """The ini MLflow reads through ``MLFLOW_AUTH_CONFIG_PATH`` (no secret in it)."""
    write_private(
        path,
        "# Written by `onepipe server` at every start (src/onepipe/team/mlflow_auth.py).\n"
        "[mlflow]\n"
        f"default_permission = {DEFAULT_PERMISSION}\n"
        f"database_uri = {database_uri.replace('%', '%%')}\n"
        f"admin_username = {ADMIN}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        f"auth_cache_ttl_seconds = {AUTH_CACHE_SECONDS}\n",
    )


def server_environment(secrets: ServerSecrets, config: Path) -> dict[str, str]:
    """What ``mlflow server --app-name basic-auth`` needs; environment, never its argv (ps)."""
    return {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_AUTH_ADMIN_USERNAME": ADMIN,
        "MLFLOW_AUTH_ADMIN_PASSWORD": secrets.mlflow_admin,  # used once: on an empty auth store
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.flask_key,
        "PGPASSWORD": secrets.mlflow_db,  # libpq: the `mlflow` role's password
    }


class MlflowAdmin:
    """MLflow's user and role API, as ``admin`` (logins and the team's role)."""

    def __init__(self, tracking_uri: str, admin_password: str) -> None:
        self.http = httpx.Client(base_url=tracking_uri, auth=(ADMIN, admin_password), timeout=30)

    def __enter__(self) -> MlflowAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def _call(self, method: str, path: str, *, ok_if_exists: bool = False, **kw):
        answer = self.http.request(method, path, **kw)
        if answer.status_code == 200:
            return answer.json()
        if ok_if_exists and "RESOURCE_ALREADY_EXISTS" in answer.text:
            return None
        raise ConfigError(
            f"mlflow server refused {method} {path} ({answer.status_code}: {answer.text[:200]}); "
            f"is {ADMIN!r}'s password in secrets.json still MLflow's?"
        )

    def set_login(self, name: str, password: str) -> None:
        """Create user ``name`` with ``password``, or reset its password if it exists."""
        body = {"username": name, "password": password}
        made = self._call("POST", "/api/2.0/mlflow/users/create", json=body, ok_if_exists=True)
        if made is None:
            self._call("PATCH", "/api/2.0/mlflow/users/update-password", json=body)

    def team_role(self) -> int:
        """The role that makes the registry the team's (made, or completed, here); its id."""
        roles = self._call("GET", "/api/3.0/mlflow/roles/list", params={"workspace": WORKSPACE})
        role = next((r for r in roles.get("roles", []) if r["name"] == TEAM_ROLE), None)
        if role is None:
            made = {"name": TEAM_ROLE, "workspace": WORKSPACE}
            role = self._call("POST", "/api/3.0/mlflow/roles/create", json=made)["role"]
        grant = {"resource_type": "registered_model", "resource_pattern": "*"}
        grant |= {"permission": "MANAGE"}
        held = [{k: p.get(k) for k in grant} for p in role.get("permissions") or []]
        if grant not in held:
            body = {"role_id": role["id"], **grant}
            self._call("POST", "/api/3.0/mlflow/roles/permissions/add", json=body)
        return int(role["id"])

    def join(self, name: str, role_id: int) -> None:
        body = {"username": name, "role_id": role_id}
        self._call("POST", "/api/3.0/mlflow/roles/assign", json=body, ok_if_exists=True)


def reset_admin_password(postgres, password: str) -> None:
    """Give an existing auth store's ``admin`` this password (the secrets file is new).

    MLflow sets the admin's password only on an empty store; when the secrets file was
    made afresh (a cluster from before passwords, or a lost file) the store's admin
    must follow it, or nobody could create logins.
    """
    with postgres.connect("mlflow_auth") as conn:
        if conn.execute("SELECT to_regclass('public.users')").fetchone()[0] is None:
            return  # a new store: MLflow creates the admin from its environment
        conn.execute(
            "UPDATE users SET password_hash = %s WHERE username = %s",
            (generate_password_hash(password), ADMIN),
        )
