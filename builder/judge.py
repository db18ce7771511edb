"""The judge outside the answer: compares what an answer returned with what its tests expect.

Runs in the builder, never in the sandbox. The answer's values arrive in the data format that
`harness.wire` writes (JSON with tagged arrays, tuples, bytes and numbers); `unwire` reads it
back and refuses anything else, so a job can send wrong values but never code or a crash.
Expected values come from the test itself, and those written as `{py: ...}` and a property's
reference outputs from a separate run of the tests without the answer.
"""

from __future__ import annotations

import base64
import binascii
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

LABEL_WIDTH = len("reference: ")
MAX_DEPTH = 64  # as `harness.MAX_DEPTH`, plus room for the tags
MAX_ELEMENTS = 1 << 26


class Malformed(ValueError):
    """A value that is not in the data format: the job fails, nothing is read from it."""


@dataclass(frozen=True, eq=False)
class Opaque:
    """A value the data format cannot carry, as its type and text: equal to nothing."""

    type: str
    text: str

    def __repr__(self) -> str:
        return self.text


def unwire(data: Any, depth: int = 0) -> Any:
    """A value in the data format, as numpy and Python values; Malformed if it is not one."""
    if depth > MAX_DEPTH:
        raise Malformed("nested too deeply")
    if data is None or isinstance(data, bool | str):
        return data
    if not isinstance(data, dict) or len(data) != 1:
        raise Malformed(f"not a tagged value: {str(data)[:80]}")
    ((tag, body),) = data.items()
    try:
        return _UNWIRE[tag](body, depth + 1)
    except KeyError:
        raise Malformed(f"unknown tag {tag[:40]!r}") from None
    except (TypeError, ValueError, OverflowError, binascii.Error) as error:
        raise Malformed(f"a bad {tag[:40]}: {str(error)[:200]}") from None


def _int(body: Any, depth: int) -> int:
    if not isinstance(body, str) or len(body) > 4000:
        raise Malformed("a bad int")
    return int(body)


def _float(body: Any, depth: int) -> float:
    if not isinstance(body, str) or len(body) > 40:
        raise Malformed("a bad float")
    return float(body)


def _items(body: Any, depth: int) -> list[Any]:
    if not isinstance(body, list):
        raise Malformed("a bad list")
    return [unwire(item, depth) for item in body]


def _dict(body: Any, depth: int) -> dict[Any, Any]:
    if not isinstance(body, list) or not all(isinstance(p, list) and len(p) == 2 for p in body):
        raise Malformed("a bad dict")
    return {unwire(key, depth): unwire(value, depth) for key, value in body}


def _array(body: Any, depth: int) -> Any:
    if not isinstance(body, dict) or body.keys() != {"dtype", "shape", "data"}:
        raise Malformed("a bad array")
    dtype = np.dtype(str(body["dtype"]))
    shape = body["shape"]
    if dtype.kind not in "biufcUS" or dtype.fields is not None or dtype.subdtype is not None:
        raise Malformed(f"an array of unexpected dtype {dtype}")
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise Malformed("a bad shape")
    if len(shape) > 32 or int(np.prod(shape, dtype=np.float64)) > MAX_ELEMENTS:
        raise Malformed("an array too large")
    raw = base64.b64decode(str(body["data"]), validate=True)
    array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    return array


def _scalar(body: Any, depth: int) -> Any:
    array = _array(body, depth)
    if array.shape != ():
        raise Malformed("a scalar with a shape")
    return array[()]


def _objects(body: Any, depth: int) -> Any:
    if not isinstance(body, dict) or body.keys() != {"shape", "items"}:
        raise Malformed("a bad object array")
    items = _items(body["items"], depth)
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array.reshape(body["shape"])


def _text(body: Any, depth: int) -> Opaque:
    if not isinstance(body, dict) or body.keys() != {"type", "repr"}:
        raise Malformed("a bad text value")
    return Opaque(str(body["type"])[:80], str(body["repr"])[:500])


_UNWIRE = {
    "int": _int,
    "float": _float,
    "complex": lambda body, depth: complex(*(_float(part, depth) for part in body)),
    "bytes": lambda body, depth: base64.b64decode(str(body), validate=True),
    "list": _items,
    "tuple": lambda body, depth: tuple(_items(body, depth)),
    "dict": _dict,
    "set": lambda body, depth: set(_items(body, depth)),
    "frozenset": lambda body, depth: frozenset(_items(body, depth)),
    "array": _array,
    "scalar": _scalar,
    "objects": _objects,
    "text": _text,
}


# --- expected values ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Exact:
    """An expected array whose dtype is part of the expectation (`{array, dtype}`)."""

    array: np.ndarray[Any, Any]

    def __repr__(self) -> str:
        return repr(self.array)


def python_values(raw: Any) -> list[str]:
    """The `{py: ...}` sources in a value from the test, which only a sandbox may evaluate."""
    if isinstance(raw, list):
        return [source for item in raw for source in python_values(item)]
    if isinstance(raw, dict):
        if raw.keys() == {"py"}:
            return [str(raw["py"])]
        return [source for value in raw.values() for source in python_values(value)]
    return []


def decode(raw: Any, evaluated: Mapping[str, Any]) -> Any:
    """A value from the test (docs/source-format.md, "Code notes"), its `{py: ...}` parts taken
    from `evaluated` (source -> value, computed in the sandbox)."""
    if isinstance(raw, list):
        return np.asarray(raw)
    if isinstance(raw, dict):
        if raw.keys() == {"py"}:
            return evaluated[str(raw["py"])]
        if "array" in raw and raw.keys() <= {"array", "dtype"}:
            return np.asarray(raw["array"], dtype=raw.get("dtype"))
        return {key: decode(value, evaluated) for key, value in raw.items()}
    return raw


def expected_for(actual: Any, raw: Any, evaluated: Mapping[str, Any]) -> Any:
    """The expected value decoded for this result: against a tuple, a list's items one by one."""
    if isinstance(actual, tuple) and isinstance(raw, list):
        return tuple(expected_for(None, item, evaluated) for item in raw)
    value = decode(raw, evaluated)
    if isinstance(raw, dict) and "dtype" in raw and isinstance(value, np.ndarray):
        return Exact(value)
    return value


# --- comparing ----------------------------------------------------------------------------------


def compare_values(actual: Any, expected: Any, rtol: float, atol: float) -> list[str]:
    """How `actual` differs from `expected`: empty if it matches."""
    if isinstance(actual, Opaque) or isinstance(expected, Opaque):
        return [f"cannot compare {kind(actual)} with the expected {kind(expected)}"]
    if isinstance(expected, tuple | list):
        if not isinstance(actual, tuple | list):
            return [f"expected {len(expected)} items, got {kind(actual)}"]
        if len(actual) != len(expected):
            return [f"returned {len(actual)} items, expected {len(expected)}"]
        return [
            f"item {index}: {line}"
            for index, (got, want) in enumerate(zip(actual, expected, strict=True))
            for line in compare_values(got, want, rtol, atol)
        ]
    if isinstance(expected, Exact):
        dtype = expected.array.dtype
        if not isinstance(actual, np.ndarray | np.generic):
            return [f"expected an array of dtype {dtype}, got {kind(actual)}"]
        if actual.dtype != dtype:
            return [f"dtype {actual.dtype} is not the expected {dtype}"]
        expected = expected.array
    if isinstance(expected, np.ndarray):
        return compare_arrays(actual, expected, rtol, atol)
    if is_number(expected):
        if not is_number(actual):
            return [f"expected a number, got {kind(actual)}"]
        return compare_numbers(actual, expected, rtol, atol)
    if expected is None:
        return [] if actual is None else [f"expected None, got {kind(actual)}"]
    if isinstance(expected, bool | str):
        family = (bool, np.bool_) if isinstance(expected, bool) else (str,)
        if not isinstance(actual, family):
            return [f"expected {kind(expected)}, got {kind(actual)}"]
        return [] if actual == expected else ["values differ"]
    try:
        return [] if bool(actual == expected) else ["values differ"]
    except Exception:
        return [f"cannot compare {kind(actual)} with the expected {kind(expected)}"]


def is_number(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind in "iufc"
    return isinstance(value, numbers.Number)


def compare_numbers(actual: Any, expected: Any, rtol: float, atol: float) -> list[str]:
    if all(np.asarray(value).dtype.kind in "iu" for value in (actual, expected)):
        return [] if actual == expected else ["values differ"]
    with np.errstate(all="ignore"):
        if np.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True):
            return []
        allowed = atol + rtol * abs(expected)
        difference = abs(actual - expected)
    return [f"differs by {difference:.6g}; allowed: atol + rtol * |expected| = {allowed:.3g}"]


def compare_arrays(
    actual: Any, expected: np.ndarray[Any, Any], rtol: float, atol: float
) -> list[str]:
    """Differences in the style of np.testing: mismatched elements and the largest differences."""
    try:
        got = np.asarray(actual)
    except Exception:
        got = np.asarray(None)
    if actual is None or (got.dtype == object and expected.dtype != object):
        return [f"expected an array of shape {expected.shape}, got {kind(actual)}"]
    if got.shape != expected.shape:
        return [f"shape {got.shape} is not the expected {expected.shape}"]
    numeric = got.dtype.kind in "iufc" and expected.dtype.kind in "iufc"
    with np.errstate(all="ignore"):
        if numeric:
            close = np.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
        else:
            try:
                close = np.asarray(got == expected, dtype=bool)
            except Exception:
                close = np.zeros(expected.shape, dtype=bool)
    if close.shape != expected.shape:
        close = np.zeros(expected.shape, dtype=bool)
    if close.all():
        return []
    wrong = ~close
    count, total = int(wrong.sum()), wrong.size
    first = tuple(int(i) for i in np.argwhere(wrong)[0])
    lines = [
        f"Arrays are not close (rtol={rtol:g}, atol={atol:g})" if numeric else "Arrays differ",
        f"Mismatched elements: {count} / {total} ({100 * count / total:.3g}%)",
        f"First mismatch at index {first}: expected {show(element(expected, first))}, "
        f"got {show(element(got, first))}",
    ]
    if numeric:
        wide = np.result_type(got.dtype, expected.dtype, np.float64)
        want = expected[wrong].astype(wide)
        with np.errstate(all="ignore"):
            difference = np.abs(got[wrong].astype(wide) - want)
            relative = difference / np.abs(want)
        lines += [
            f"Max absolute difference: {np.max(difference):.6g}",
            f"Max relative difference: {np.max(relative):.6g}",
        ]
    return lines


def element(array: np.ndarray[Any, Any], index: tuple[int, ...]) -> Any:
    item = array[index]
    return item.item() if isinstance(item, np.generic) else item


# --- report lines -------------------------------------------------------------------------------


def raised_as(error: Mapping[str, Any], name: str) -> bool:
    """Whether a reported exception is of a class called `name` (plain or module-qualified)."""
    return name in error.get("types", ())


def trouble(error: Mapping[str, Any]) -> list[str]:
    """Report lines for a step that broke a rule or raised."""
    lines = field("stopped", str(error["broke"])) if error.get("broke") else []
    if error.get("text"):
        lines += field("raised", str(error["text"]))
    return lines


def field(label: str, text: str) -> list[str]:
    first, *rest = text.splitlines() or [""]
    indent = " " * LABEL_WIDTH
    return [f"{label + ':':<{LABEL_WIDTH}}{first}", *(indent + line for line in rest)]


def show(value: Any, limit: int = 400) -> str:
    """An abbreviated repr: long arrays elided numpy-style, long text cut."""
    try:
        with np.printoptions(threshold=24, edgeitems=3, linewidth=88, precision=8):
            text = repr(value)
    except Exception:
        text = f"<{kind(value)} that cannot be shown>"
    return text if len(text) <= limit else text[:limit] + " ..."


def kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, Opaque):
        return f"a {value.type}"
    return "None" if value is None else f"a {type(value).__name__}"
