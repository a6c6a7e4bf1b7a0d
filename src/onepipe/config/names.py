"""What a name or URI in onepipe.yaml may be, where it names something outside onepipe.

Each check returns the value unchanged or raises ``ValueError`` with one line saying
what was expected and what was found (the loader adds the file and key). The rules
are the receiving system's own, so a bad name is refused when the file is loaded,
not minutes later by MLflow, Pachyderm or the Kubernetes API:

* ``project``: a Kubernetes DNS-1123 label (it prefixes object names such as
  ``<project>-train``), at most ``PROJECT_MAX`` characters to leave room for suffixes;
* ``model.name``: what MLflow's model registry accepts (no ``/`` or ``:``, not a path
  that normalises to another name), and no control characters (it travels in HTTP
  headers and log lines);
* ``data.repos`` keys: Pachyderm's repo names (letters, digits, ``_``, ``-``);
* Kubernetes object names (``serve.seldon.name``, or ``model.name`` when it names the
  SeldonDeployment): DNS-1123 labels;
* ``tracking.uri``: a path or a URI scheme MLflow has a tracking store for.
"""

from __future__ import annotations

import posixpath
import re

PROJECT_MAX = 53  # a DNS-1123 label is at most 63; "-train" and other suffixes need room
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
MODEL_NAME_MAX = 256  # the registry's column width
# MLflow's tracking stores: a local path or file:, its SQLAlchemy engines (with an
# optional +driver), and a tracking server.
TRACKING_SCHEMES = ("file", "sqlite", "postgresql", "mysql", "mssql", "http", "https")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
DNS_RULE = "lowercase letters, digits and '-', starting and ending with a letter or digit"


def _shown(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")


def check_project(value: str) -> str:
    if not _DNS_LABEL.fullmatch(value) or len(value) > PROJECT_MAX:
        raise ValueError(
            f"expected a Kubernetes name ({DNS_RULE}, at most {PROJECT_MAX} characters), "
            f"found {_shown(value)}"
        )
    return value


def check_kubernetes_name(value: str) -> str:
    if not _DNS_LABEL.fullmatch(value) or len(value) > 63:
        raise ValueError(
            f"expected a Kubernetes name ({DNS_RULE}, at most 63 characters), found {_shown(value)}"
        )
    return value


def check_model_name(value: str) -> str:
    """MLflow's own rule (``mlflow.utils.validation._validate_model_name``) plus printable text."""
    if not value.strip():
        raise ValueError("expected a registered model name, found an empty one")
    problem = None
    if "/" in value or ":" in value:
        problem = "has '/' or ':'"
    elif not value.isprintable():
        problem = "has control characters"
    elif len(value) > MODEL_NAME_MAX:
        problem = f"is longer than {MODEL_NAME_MAX} characters"
    elif value == "." or posixpath.normpath(value) != value or value.startswith(".."):
        problem = "reads as a path to another name"
    if problem:
        raise ValueError(
            f"expected a name MLflow's model registry accepts, found {_shown(value)}, "
            f"which {problem}"
        )
    return value


def check_repo(value: str) -> str:
    if not _REPO.fullmatch(value):
        raise ValueError(
            "expected a data repo name (letters, digits, '_' and '-', starting with a letter "
            f"or digit, at most 63 characters: what Pachyderm accepts), found {_shown(value)}"
        )
    return value


def check_tracking_uri(value: str) -> str:
    if not value.strip():
        raise ValueError("expected a path or a tracking URI, found an empty one")
    scheme = _SCHEME.match(value)
    if scheme is None:
        if "://" in value:  # not echoed: a URI may hold a password
            raise ValueError("expected a path or a tracking URI (scheme://...), found no scheme")
        return value  # a path, relative to the project
    base = scheme.group(1).lower().split("+", 1)[0]
    if base not in TRACKING_SCHEMES:
        raise ValueError(
            f"unsupported scheme {scheme.group(1)!r} (expected a path or one of "
            f"{', '.join(s + '://' for s in TRACKING_SCHEMES)})"
        )
    return value
