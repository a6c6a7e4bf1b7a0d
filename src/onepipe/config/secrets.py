"""Credentials in configuration: read from the environment, never shown.

Two rules, applied where configuration enters and where it leaves:

- ``${NAME}`` in a URL key (``SECRET_KEYS``) is replaced by the environment
  variable ``NAME`` when the file is loaded, so ``onepipe.yaml`` can say
  ``postgresql://onepipe:${ONEPIPE_STORE_PASSWORD}@host/onepipe``. The CLI hands
  the environment in; nothing below it reads ``os.environ``. ``Settings.source``
  keeps the reference, not the value: the config hash does not move when a
  password is rotated, and the secret is never in ``source``.
- ``mask`` replaces the password of any ``scheme://user:password@`` URL (and any
  ``password=...`` parameter) with ``***`` in whatever is printed, logged or saved:
  ``config show``, a run's ``onepipe/config.json``, error lines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from onepipe.errors import ConfigError

MASK = "***"
# The keys that may hold credentials (a URL with a user and password).
SECRET_KEYS = (("tracking", "uri"), ("serve", "history_url"), ("monitor", "store_url"))

_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# userinfo with a password: RFC 3986 forbids a raw '@' or whitespace in it, so both end it.
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/@:]*):(?P<pw>[^\s@]*)@")
_PARAM_PASSWORD = re.compile(r"(?i)(?P<head>\bpassword=)(?P<pw>[^\s&;,)'\"]+)")


def expand(merged: dict[str, Any], environ: Mapping[str, str], file: str) -> dict[str, Any]:
    """A copy of ``merged`` with ``${NAME}`` in the secret keys replaced from ``environ``."""
    out = dict(merged)
    for section, key in SECRET_KEYS:
        block = out.get(section)
        if not isinstance(block, dict) or not isinstance(block.get(key), str):
            continue
        value = block[key]
        if "${" not in value:
            continue
        where = f"{file}: {section}.{key}"
        names = _REFERENCE.findall(value)
        found = {name: _lookup(name, environ, where) for name in names}
        out[section] = {**block, key: _REFERENCE.sub(lambda m, f=found: f[m.group(1)], value)}
    return out


def _lookup(name: str, environ: Mapping[str, str], where: str) -> str:
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"{where}: ${{{name}}} is not an environment variable reference "
            "(expected ${NAME} with letters, digits and underscores)"
        )
    if name not in environ:
        raise ConfigError(
            f"{where}: environment variable {name} is not set "
            f"(expected it to hold the secret the URL refers to as ${{{name}}})"
        )
    return environ[name]


def mask(value: Any) -> Any:
    """``value`` (a string, or mappings and lists of them) with every password shown as ``***``."""
    if isinstance(value, str):
        if "@" not in value and "password=" not in value.lower():
            return value  # the common case: nothing to look for
        value = _URL_PASSWORD.sub(_masked_userinfo, value)
        return _PARAM_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", value)
    if isinstance(value, Mapping):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask(v) for v in value)
    return value


def _masked_userinfo(m: re.Match) -> str:
    if _REFERENCE.fullmatch(m["pw"]):
        return m[0]  # a ${NAME} reference is no secret, and says where the secret comes from
    return f"{m['head']}:{MASK}@"
