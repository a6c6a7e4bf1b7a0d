"""Check a request against the model signature before MLServer sees it.

MLServer answers malformed input with HTTP 500 and a traceback; here every
client mistake becomes a ``RequestError`` with a 4xx status and a message naming
the field and what was expected. Both entry points produce the same normalized
V2 request: one ``[n, 1]`` input per signature column, in signature order.
"""

from __future__ import annotations

import math
from typing import Any

from onepipe.serve.models import Column

V2_TYPES = {
    "long": "INT64",
    "integer": "INT32",
    "double": "FP64",
    "float": "FP32",
    "string": "BYTES",
    "boolean": "BOOL",
}
# V2 datatypes a client may send for each signature type (narrower ints/floats widen safely).
ACCEPTED = {
    "long": {"INT64", "INT32", "INT16", "INT8", "UINT32", "UINT16", "UINT8"},
    "integer": {"INT32", "INT16", "INT8", "UINT16", "UINT8"},
    "double": {"FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8"},
    "float": {"FP32", "FP16", "INT32", "INT16", "INT8"},
    "string": {"BYTES"},
    "boolean": {"BOOL"},
}
EXPECT = {
    "long": "an integer",
    "integer": "an integer",
    "double": "a number",
    "float": "a number",
    "string": "a string",
    "boolean": "true or false",
}


class RequestError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message}
        if self.field:
            out["field"] = self.field
        return out


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def coerce(value: Any, col: Column, where: str) -> Any:
    """One cell: the value as the signature type, or RequestError naming ``where``."""
    t = col.type
    if value is None:
        raise RequestError(
            422, f"{where}: null (expected {EXPECT.get(t, t)} for {t} column {col.name!r})", where
        )
    if t in ("long", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RequestError(
                422, f"{where}: expected an integer, found {_kind(value)} {_show(value)}", where
            )
        if isinstance(value, float):
            if not (math.isfinite(value) and value.is_integer()):
                raise RequestError(
                    422, f"{where}: expected an integer, found {_show(value)}", where
                )
            value = int(value)
        limit = 2**63 if t == "long" else 2**31
        if not -limit <= value < limit:
            raise RequestError(422, f"{where}: {value} is out of range for {t}", where)
        return value
    if t in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RequestError(
                422, f"{where}: expected a number, found {_kind(value)} {_show(value)}", where
            )
        value = float(value)
        if not math.isfinite(value):
            raise RequestError(422, f"{where}: expected a finite number, found {value}", where)
        return value
    if t == "string":
        if not isinstance(value, str):
            raise RequestError(
                422, f"{where}: expected a string, found {_kind(value)} {_show(value)}", where
            )
        return value
    if t == "boolean":
        if not isinstance(value, bool):
            raise RequestError(
                422, f"{where}: expected true or false, found {_kind(value)} {_show(value)}", where
            )
        return value
    raise RequestError(
        422, f"{where}: the model's signature type {t!r} is not supported by the gateway", where
    )


MAX_CLIENT_ID = 256  # characters in a client's own request id


def client_request_id(body: Any) -> str | None:
    """The V2 ``id`` a client chose, checked: kept as data beside the log's own id (the
    one the answer returns), never as the log's key, never sent on to MLServer."""
    value = body.get("id") if isinstance(body, dict) else None
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise RequestError(422, f"id: expected a non-empty string, found {_kind(value)}", "id")
    if len(value) > MAX_CLIENT_ID:
        raise RequestError(
            422, f"id: {len(value)} characters exceed the limit of {MAX_CLIENT_ID}", "id"
        )
    if not value.isprintable():
        raise RequestError(
            422,
            "id: expected printable characters (found a newline, NUL or other control character)",
            "id",
        )
    return value


def _to_v2(columns: tuple[Column, ...], data: dict[str, list], n: int) -> dict[str, Any]:
    inputs = [
        {"name": c.name, "datatype": V2_TYPES[c.type], "shape": [n, 1], "data": data[c.name]}
        for c in columns
    ]
    return {"inputs": inputs}


def instances_to_v2(
    body: Any, columns: tuple[Column, ...], max_instances: int
) -> tuple[dict[str, Any], int]:
    """``{"instances": [{column: value}, ...]}`` -> (normalized V2 request, row count)."""
    if not isinstance(body, dict):
        raise RequestError(
            400, f'body: expected a JSON object {{"instances": [...]}}, found {_kind(body)}'
        )
    if "instances" not in body:
        extra = f" (found keys: {', '.join(sorted(map(str, body))[:5])})" if body else ""
        raise RequestError(
            422, "instances: missing (expected a list of objects, one per row)" + extra, "instances"
        )
    rows = body["instances"]
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list):
        raise RequestError(
            422, f"instances: expected a list of objects, found {_kind(rows)}", "instances"
        )
    if not rows:
        raise RequestError(422, "instances: empty (expected at least one row)", "instances")
    if len(rows) > max_instances:
        raise RequestError(
            413,
            f"instances: {len(rows)} rows exceed the limit of {max_instances} per request",
            "instances",
        )
    names = {c.name for c in columns}
    data: dict[str, list] = {c.name: [] for c in columns}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RequestError(
                422,
                f"instances[{i}]: expected an object of column: value, found {_kind(row)}",
                f"instances[{i}]",
            )
        for key in row:
            if key not in names:
                where = f"instances[{i}].{key}"
                raise RequestError(
                    422,
                    f"{where}: unknown field (expected only: {', '.join(c.name for c in columns)})",
                    where,
                )
        for col in columns:
            where = f"instances[{i}].{col.name}"
            if col.name not in row:
                raise RequestError(
                    422,
                    f"{where}: missing (expected {EXPECT.get(col.type, col.type)}, type {col.type})",
                    where,
                )
            data[col.name].append(coerce(row[col.name], col, where))
    return _to_v2(columns, data, len(rows)), len(rows)


def _flat(values: Any, where: str) -> list:
    if not isinstance(values, list):
        raise RequestError(422, f"{where}: expected a list, found {_kind(values)}", where)
    out = []
    for v in values:
        if isinstance(v, list):
            if len(v) != 1:
                raise RequestError(
                    422, f"{where}: expected one value per row, found a row of {len(v)}", where
                )
            v = v[0]
        out.append(v)
    return out


def v2_to_v2(
    body: Any, columns: tuple[Column, ...], max_instances: int
) -> tuple[dict[str, Any], int]:
    """A V2 inference request -> (normalized V2 request, row count)."""
    if not isinstance(body, dict):
        raise RequestError(
            400, f"body: expected a V2 inference request object, found {_kind(body)}"
        )
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        found = (
            "missing"
            if inputs is None
            else f"{_kind(inputs)}" + (" (empty)" if inputs == [] else "")
        )
        raise RequestError(
            422, f"inputs: expected a non-empty list of tensors, found {found}", "inputs"
        )
    by_name = {c.name: c for c in columns}
    seen: dict[str, list] = {}
    n: int | None = None
    for i, tensor in enumerate(inputs):
        if not isinstance(tensor, dict):
            raise RequestError(
                422,
                f"inputs[{i}]: expected an object with name, datatype, shape, data",
                f"inputs[{i}]",
            )
        name = tensor.get("name")
        if not isinstance(name, str):
            raise RequestError(
                422, f"inputs[{i}].name: expected a column name string", f"inputs[{i}].name"
            )
        col = by_name.get(name)
        if col is None:
            raise RequestError(
                422,
                f"inputs[{i}].name: unknown input {name!r} (expected one of: {', '.join(by_name)})",
                f"inputs[{i}].name",
            )
        if name in seen:
            raise RequestError(422, f"inputs.{name}: given twice", f"inputs.{name}")
        dtype = tensor.get("datatype")
        if dtype not in ACCEPTED.get(col.type, ()):
            raise RequestError(
                422,
                f"inputs.{name}.datatype: expected {V2_TYPES[col.type]}, found {_show(dtype)}",
                f"inputs.{name}.datatype",
            )
        shape = tensor.get("shape")
        if (
            not isinstance(shape, list)
            or not shape
            or len(shape) > 2
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
            or (len(shape) == 2 and shape[1] != 1)
        ):
            raise RequestError(
                422,
                f"inputs.{name}.shape: expected [n] or [n, 1], found {_show(shape)}",
                f"inputs.{name}.shape",
            )
        values = _flat(tensor.get("data"), f"inputs.{name}.data")
        if len(values) != shape[0]:
            raise RequestError(
                422,
                f"inputs.{name}.data: shape {shape} says {shape[0]} values, found {len(values)}",
                f"inputs.{name}.data",
            )
        if n is None:
            n = shape[0]
        elif shape[0] != n:
            raise RequestError(
                422,
                f"inputs.{name}.shape: {shape[0]} rows, but other inputs have {n}",
                f"inputs.{name}.shape",
            )
        seen[name] = [coerce(v, col, f"inputs.{name}.data[{j}]") for j, v in enumerate(values)]
    for col in columns:
        if col.name not in seen:
            raise RequestError(
                422,
                f"inputs.{col.name}: missing (expected {V2_TYPES[col.type]} tensor of shape [n, 1])",
                f"inputs.{col.name}",
            )
    assert n is not None
    if n == 0:
        raise RequestError(422, "inputs: zero rows (expected at least one)", "inputs")
    if n > max_instances:
        raise RequestError(
            413, f"inputs: {n} rows exceed the limit of {max_instances} per request", "inputs"
        )
    return _to_v2(columns, seen, n), n
