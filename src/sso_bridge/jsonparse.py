"""The one way the library reads JSON from anyone: bounded in size, depth and number of
arrays and objects, numbers finite.

``json.loads`` on its own recurses once per nesting level (deep input raises
``RecursionError``) and accepts ``NaN``, ``Infinity`` and ``1e999`` (an infinite float).
:func:`parse_json` refuses all of these with :class:`~sso_bridge.errors.InvalidInput`
(``input.bad_json``), so callers need to handle one error only.

Cost is bounded as well as shape: arrays and objects are counted in the raw text before
anything is decoded, since each one costs a Python call (the duplicate-member check) and a
step of the depth check; what is left scales with the size limit alone.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

from sso_bridge.errors import InvalidInput

__all__ = ["MAX_JSON_BYTES", "MAX_JSON_CONTAINERS", "MAX_JSON_DEPTH", "parse_json"]

MAX_JSON_BYTES: Final = 1024 * 1024
"""Default size limit of a JSON document, in bytes."""
MAX_JSON_DEPTH: Final = 32
"""Default limit on nested arrays and objects."""
MAX_JSON_CONTAINERS: Final = 10_000
"""Default limit on arrays and objects in one document, counted as ``[`` and ``{`` in the
raw text (inside strings too, so the count is an upper bound). Real documents (tokens,
JWKS, userinfo, ESIA's person documents) hold a few dozen."""


def _refuse(reason: str) -> InvalidInput:
    return InvalidInput(f"bad JSON: {reason}", code="input.bad_json")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _refuse("a number is out of range")
    return value


def _no_constant(name: str) -> None:
    raise _refuse(f"{name} is not a JSON number")


def _deeper_than(value: Any, max_depth: int) -> bool:
    """Whether arrays and objects nest more than ``max_depth`` levels (iteratively)."""
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 8259 leaves duplicate names to the parser; taking the last one silently would let
    # two readers of one signed document see different values. Refused instead.
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _refuse("a member name occurs twice in one object")
    return value


_SPACE: Final = " \t\n\r"
"""JSON's whitespace (RFC 8259 §2); anything else before or after the value is refused."""

# Built once: json.loads would build a decoder on every call with these hooks.
_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_object, parse_float=_finite_float, parse_constant=_no_constant
)


def parse_json(
    data: bytes | str,
    *,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
    max_containers: int = MAX_JSON_CONTAINERS,
) -> Any:
    """``data`` parsed as JSON (bytes in UTF-8, RFC 8259 §8.1); ``input.bad_json`` if it is
    not JSON, exceeds ``max_bytes``, ``max_depth`` or ``max_containers`` (arrays and objects),
    holds a non-finite number (``NaN``, ``Infinity``, ``1e999``) or repeats a member name
    within an object."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise _refuse(f"more than {max_bytes} bytes")
    containers = raw.count(b"[") + raw.count(b"{")
    if containers > max_containers:
        raise _refuse(f"more than {max_containers} arrays and objects")
    try:
        text = raw.decode("utf-8-sig") if raw.startswith(b"\xef\xbb\xbf") else raw.decode()
        # The C decoder guards its own recursion (RecursionError, caught below); the depth
        # limit is checked on the result, and only when there are brackets enough to break it.
        start = 0 if text[:1] not in _SPACE else len(text) - len(text.lstrip(_SPACE))
        value, end = _DECODER.raw_decode(text, start)
        if end != len(text) and text[end:].strip(_SPACE):
            raise _refuse(f"extra data after the JSON value (at character {end})")
        if containers > max_depth and _deeper_than(value, max_depth):
            raise _refuse(f"nested more than {max_depth} levels deep")
        return value
    except InvalidInput:
        raise
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise _refuse(" ".join(str(exc).split())[:120]) from None
