"""Resolve ``onepipe.yaml`` + environment + variant + overrides into one ``Settings``.

This is the only place configuration is read. Errors name the file, the key
path, what was expected and what was found, on one line.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from onepipe.config.assemble import overlay_keys, project_schema
from onepipe.config.base import ConfigProblem
from onepipe.config.checks import check_across
from onepipe.config.reader import InvalidYaml, clip, parse_yaml, read_config
from onepipe.config.schema import ENVIRONMENTS, VARIANT_OVERLAY_KEYS, ProjectConfig
from onepipe.config.secrets import expand as expand_secrets
from onepipe.config.settings import Settings
from onepipe.errors import ConfigError, closest

CONFIG_NAME = "onepipe.yaml"


def find_config(start: Path | None = None) -> Path:
    """The nearest ``onepipe.yaml`` at or above ``start`` (default: the current directory)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"{CONFIG_NAME}: not found in {here} or any parent directory "
        "(expected a onepipe project; run inside one or pass --config FILE)"
    )


def load_settings(
    config: Path | str | None = None,
    *,
    env: str | None = None,
    variant: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    user: str = "anonymous",
    start: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """``environ`` fills ``${NAME}`` references in URL keys (config/secrets.py); the CLI passes it."""
    path = Path(config).resolve() if config else find_config(start)
    raw = _read_yaml(path)
    name = path.name
    base = _validate(raw, name, prefix="")
    env = env or "dev"
    declared_envs = set(base.environments)
    if env not in declared_envs | set(ENVIRONMENTS):
        raise ConfigError(
            f"{name}: environments: unknown environment {env!r} "
            f"(expected one of: {', '.join(sorted(declared_envs | set(ENVIRONMENTS)))})"
        )
    merged = {k: v for k, v in raw.items() if k not in ("environments", "variants")}
    env_overlay = base.environments.get(env) or {}
    _check_overlay(env_overlay, overlay_keys(), f"{name}: environments.{env}")
    merged = deep_merge(merged, env_overlay)

    if variant:
        if variant not in base.variants:
            raise ConfigError(
                f"{name}: variants: unknown variant {variant!r}{closest(variant, base.variants)}"
            )
        overlay = base.variants[variant] or {}
        _check_overlay(overlay, VARIANT_OVERLAY_KEYS, f"{name}: variants.{variant}")
        known = merged.get("pipeline", {}).get("params", {})
        for key in overlay.get("params") or {}:
            if key not in known:
                raise ConfigError(
                    f"{name}: variants.{variant}.params.{key}: unknown param{closest(key, known)} "
                    "(a variant may only change params the pipeline declares)"
                )
        merged = deep_merge(merged, {"pipeline": {"params": overlay.get("params") or {}}})
        if overlay.get("sweep"):
            merged = deep_merge(merged, {"sweep": overlay["sweep"]})

    before = merged
    merged = apply_overrides(before, overrides)
    where = f"environments.{env}." if env_overlay else ""
    # `source` (hashed, saved with runs) keeps ${NAME} references; only the typed config has secrets.
    expanded = expand_secrets(merged, environ or {}, name)
    try:
        final = _validate(
            expanded, name, prefix="", overlay=env_overlay, overlay_prefix=where, whole=True
        )
    except ConfigError as exc:
        raise _blame_override(before, overrides, environ or {}, name) or exc from None
    return Settings.build(
        final,
        root=path.parent,
        config_file=path,
        env=env,
        variant=variant,
        user=user,
        overrides=list(overrides),
        source=merged,
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    return read_config(path)  # size, encoding, depth, aliases and duplicate keys checked


def _check_overlay(overlay: Any, allowed: tuple[str, ...], where: str) -> None:
    if not isinstance(overlay, dict):
        raise ConfigError(f"{where}: expected a mapping, found {type(overlay).__name__}")
    for key in overlay:
        if key not in allowed:
            raise ConfigError(f"{where}.{key}: unknown key (expected one of: {', '.join(allowed)})")


def _validate(
    data: dict[str, Any],
    name: str,
    *,
    prefix: str,
    overlay: dict | None = None,
    overlay_prefix: str = "",
    whole: bool = False,
) -> ProjectConfig:
    """The typed config; ``whole``: also the checks across sections (on the resolved config)."""
    try:
        cfg = project_schema().model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        # Blame the overlay when the offending key came from it.
        if overlay and _has_path(overlay, loc):
            loc_text = overlay_prefix + ".".join(loc)
        else:
            loc_text = prefix + ".".join(loc)
        loc_text = clip(loc_text or "top level", 120)
        raise ConfigError(f"{name}: {loc_text}: {_describe(err)}") from None
    if whole:
        try:
            check_across(cfg)
        except ConfigProblem as problem:
            raise ConfigError(f"{name}: {problem}") from None
    return cfg


def _blame_override(
    before: dict, overrides: list[str] | tuple[str, ...], environ: Mapping[str, str], name: str
) -> ConfigError | None:
    """The error naming the first ``-p`` override that breaks a config valid without them.

    Only runs once loading already failed, so trying the overrides one by one costs nothing
    on the way of a good config.
    """
    if not overrides:
        return None
    try:
        _validate(expand_secrets(before, environ, name), "", prefix="", whole=True)
    except ConfigError:
        return None  # the file (or its environment) is wrong by itself: its own error says so
    for i, item in enumerate(overrides):
        key = item.partition("=")[0].strip()
        try:
            candidate = apply_overrides(before, overrides[: i + 1])
            _validate(expand_secrets(candidate, environ, name), "", prefix="", whole=True)
        except ConfigError as exc:
            problem = str(exc).removeprefix(": ")
            for own in (f"{key}: ", f"pipeline.params.{key}: "):
                problem = problem.removeprefix(own)  # the override's own key: said once
            return ConfigError(f"-p {clip(key, 120)}: {problem}")
    return None


def _has_path(data: dict, loc: list[str]) -> bool:
    node: Any = data
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


_EXPECT = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "list_type": "a list",
}


def _describe(err: dict) -> str:
    kind = err["type"]
    found = clip(repr(err.get("input")), 80)  # a found value may be a whole file's worth
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing required key"
    if kind == "value_error" and err.get("ctx", {}).get("error") is not None:
        return str(err["ctx"]["error"])
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"expected one of {expected}, found {found}"
    expected = _EXPECT.get(kind)
    if expected:
        return f"expected {expected}, found {found}"
    return f"{err['msg'].lower()}, found {found}"


def deep_merge(base: dict, overlay: dict) -> dict:
    """``overlay`` on top of ``base``; mappings merge, everything else replaces."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def coerce(text: str, like: Any, where: str) -> Any:
    """Turn the string of ``-p key=value`` into the type of the value it replaces."""
    if isinstance(like, bool):
        low = text.strip().lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{where}: expected true or false, found {text!r}")
    if isinstance(like, int):
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{where}: expected an integer, found {text!r}") from None
    if isinstance(like, float):
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{where}: expected a number, found {text!r}") from None
    return text


def apply_overrides(merged: dict, overrides: list[str] | tuple[str, ...]) -> dict:
    """``name=value`` sets a pipeline param; ``section.key=value`` sets any config key."""
    out = copy.deepcopy(merged)
    params = out.setdefault("pipeline", {}).setdefault("params", {})
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"-p {item}: expected name=value, found no '='")
        key, _, value = item.partition("=")
        key = key.strip()
        if not key:
            raise ConfigError(f"-p {item}: expected name=value, found an empty name")
        if "." not in key:
            if key not in params:
                raise ConfigError(f"-p {key}: unknown param{closest(key, params)}")
            params[key] = coerce(value, params[key], f"-p {key}")
            continue
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"-p {key}: {part} is not a section")
        try:
            parsed = parse_yaml(value, f"-p {key}") if value else ""
        except InvalidYaml:
            parsed = value  # not YAML: the text itself (over a limit is still an error)
        node[parts[-1]] = parsed
    return out
