"""What an error line says when a library raised: no password in it, and a tracking
server's "no" (401, 403, unreachable) as the user's to fix rather than a bug of ours."""

from __future__ import annotations

from onepipe.config.secrets import mask

# MLflow's error codes for a tracking server's 401 and 403 (its basic-auth app, `onepipe server`).
_REFUSALS = {
    "UNAUTHENTICATED": "the tracking server refused the login (401): set "
    "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to yours (docs/security.md)",
    "PERMISSION_DENIED": "the tracking server refused the request (403): only the creator "
    "of an experiment or run (or admin) may delete it or change its permissions "
    "(docs/security.md)",
}


def tracking_server_said(exc: BaseException) -> str | None:
    """A tracking server saying no, or not there, is the user's to fix, not a bug of ours."""
    if not hasattr(exc, "error_code"):  # MLflow's exceptions carry one
        return None
    during = exc.__cause__ or exc.__context__
    if isinstance(during, OSError) and type(during).__module__.startswith("requests"):
        return f"cannot reach the tracking server ({masked(exc)})"  # refused, timed out, DNS
    return _REFUSALS.get(str(exc.error_code))


def masked(exc: BaseException) -> str:
    """The error's text with any password in a URL shown as ``***`` (libraries quote URLs)."""
    return mask(str(exc))
