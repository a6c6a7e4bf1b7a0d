"""Reading ``onepipe.yaml`` into plain data, with limits, so no file can crash or stall a command.

A config file is small, UTF-8 and a few levels deep. Anything else is refused with
one short line naming the file (and the line where it helps): a file over
``MAX_BYTES``, bytes that are not UTF-8, nesting deeper than ``MAX_DEPTH``, aliases
that expand to more than ``MAX_VALUES`` values (an "alias bomb") or that contain
themselves, and a key written twice in one mapping (YAML would keep the last one
silently).

The document is composed into PyYAML's node graph (by libyaml when PyYAML has it:
about 1 ms for the example config instead of 8), checked, then turned into data by
PyYAML's safe constructor, as ``yaml.safe_load`` does. libyaml refuses nesting over
1000 levels itself; the pure-Python composer recurses, so it gets a guard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from onepipe.errors import ConfigError

MAX_BYTES = 1 << 20  # real configs are a few KB
MAX_DEPTH = 50  # real configs nest 5 or 6 levels
MAX_VALUES = 100_000  # scalars and collections once aliases are expanded
_MERGE_TAG = "tag:yaml.org,2002:merge"


class InvalidYaml(ConfigError):
    """The text is not YAML at all (as opposed to YAML over a limit)."""


def read_config(path: Path) -> dict[str, Any]:
    """The top-level mapping of a config file, or one ``ConfigError`` line saying what is wrong."""
    label = path.name
    data = parse_yaml(_decode(label, _read_bytes(path, label)), label)
    if not isinstance(data, dict):
        raise ConfigError(
            f"{label}: top level: expected a mapping of sections, found {type(data).__name__}"
        )
    return data


def parse_yaml(text: str, label: str) -> Any:
    """``yaml.safe_load`` within the limits above; errors start with ``label``."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check(node, 1, {}, set(), label)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "maximum nesting depth" in problem:  # libyaml's own limit (1000 levels)
            raise _too_deep(label, mark.line + 1 if mark else 1) from None
        raise InvalidYaml(f"{label}{line}: invalid YAML ({clip(problem)})") from None
    except (ValueError, OverflowError) as exc:  # a tagged or timestamp scalar that does not parse
        raise InvalidYaml(f"{label}: invalid YAML value ({clip(str(exc))})") from None
    except _NestedTooDeep as exc:
        raise _too_deep(label, exc.line) from None
    finally:
        loader.dispose()


def clip(text: str, limit: int = 200) -> str:
    """Error lines stay short whatever the file holds."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_bytes(path: Path, label: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)  # bounded: also for /dev/zero or a pipe
    except FileNotFoundError:
        raise ConfigError(f"{label}: file not found at {path} (expected a onepipe.yaml)") from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read ({exc.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(
            f"{label}: larger than {MAX_BYTES >> 20} MiB (expected a config file of a few KB)"
        )
    return raw


def _decode(label: str, raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(
            f"{label}: not UTF-8 text (it is UTF-16; expected UTF-8: re-save it as UTF-8)"
        )
    if b"\x00" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        raise ConfigError(
            f"{label}:{line}: not UTF-8 text (NUL bytes: a binary or UTF-16 file; expected UTF-8)"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{label}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start}; expected UTF-8, e.g. re-save a Latin-1 file as UTF-8)"
        ) from None


def _too_deep(label: str, node_or_line: Node | int, expanded: str = "") -> ConfigError:
    line = node_or_line if isinstance(node_or_line, int) else node_or_line.start_mark.line + 1
    return ConfigError(
        f"{label}:{line}: nested more than {MAX_DEPTH} levels deep{expanded} "
        "(expected a config file's few levels of sections)"
    )


class _NestedTooDeep(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


class _GuardedSafeLoader(yaml.SafeLoader):
    """The pure-Python ``SafeLoader``, stopping at ``MAX_DEPTH`` before its composer recurses."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _NestedTooDeep(self.peek_event().start_mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_LOADER = getattr(yaml, "CSafeLoader", None) or _GuardedSafeLoader


def _check(
    node: Node, depth: int, done: dict[int, tuple[int, int]], open_: set[int], label: str
) -> tuple[int, int]:
    """(values, height) of ``node`` with aliases expanded; refuses what is over a limit.

    Aliases share nodes, so a small file can stand for a huge document: every later step
    (validation, hashing, printing) would walk the expanded one, so that is what is counted.
    Each node is visited once; ``depth`` bounds this function's own recursion.
    """
    key = id(node)
    if key in open_:
        raise ConfigError(
            f"{label}:{node.start_mark.line + 1}: an alias refers to a collection that "
            "contains it (expected no recursive aliases)"
        )
    if depth > MAX_DEPTH or (key in done and depth + done[key][1] - 1 > MAX_DEPTH):
        raise _too_deep(label, node, " once aliases are expanded" if key in done else "")
    if key in done:
        return done[key]
    children: list[Node] = []
    if isinstance(node, SequenceNode):
        children = node.value
    elif isinstance(node, MappingNode):
        _no_duplicate_keys(node, label)
        children = [part for pair in node.value for part in pair]
    open_.add(key)
    values, height = 1, 1
    for child in children:
        v, h = _check(child, depth + 1, done, open_, label)
        values, height = values + v, max(height, h + 1)
        if values > MAX_VALUES:
            raise ConfigError(
                f"{label}: aliases expand it to more than {MAX_VALUES} values "
                "(expected a config file, not an alias bomb)"
            )
    open_.discard(key)
    done[key] = (values, height)
    return values, height


def _no_duplicate_keys(node: MappingNode, label: str) -> None:
    first: dict[tuple[str, str], ScalarNode] = {}
    for key, _ in node.value:
        if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
            continue
        earlier = first.get((key.tag, key.value))
        if earlier is not None:
            raise ConfigError(
                f"{label}:{key.start_mark.line + 1}: duplicate key {clip(key.value, 60)!r} "
                f"(first at line {earlier.start_mark.line + 1}; expected each key once, "
                "YAML would keep only the last)"
            )
        first[(key.tag, key.value)] = key
