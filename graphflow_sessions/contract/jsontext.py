"""JSON as PostgreSQL's jsonb and graph-flow's Rust reader (serde_json) accept it.

One encoder serves every write path (storage, admin form, REST API, import) so that the
same bad input gets the same error on PostgreSQL and SQLite: a NUL character, NaN or
Infinity, a lone surrogate, or a value JSON cannot hold is refused before anything reaches
the database, with the key path in the message. The checks cost nothing on the common path:
the encoder itself refuses NaN and unknown types, and only when it fails (or its output
contains an escaped NUL) do we walk the value to find out where. ``check_numbers`` refuses,
the same way, a number graph-flow's reader would refuse or read back rounded (see
``jsonnumbers``); it walks only when the encoder's output shows a number that might be one.
``check_structure`` walks every save's containers (nesting beyond graph-flow's reader, an
object key that is not a string, which the encoder would silently turn into text).

This module knows JSON, not the context's shape: that is ``shape.py``'s.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ..exceptions import ContextDeserializationError, ContextSerializationError, ContextTooLarge
from .jsonnumbers import I64_MIN, U64_MAX, literal_problem, number_problem

__all__ = [
    "MAX_NESTING",
    "check_structure",
    "check_numbers",
    "decode_json",
    "encode_json",
    "encode_json_utf8",
    "encode_jsonb",
    "escaped_json",
    "find_misshapen",
    "find_unstorable",
    "format_size",
    "is_plain_json",
]

#: graph-flow reads a context with serde_json, which refuses JSON nested 128 levels deep
#: (arrays and objects, the context itself being level 1). Deeper contexts are refused on
#: save, on every database, so that whatever is stored the Rust service can read.
MAX_NESTING = 127

# serde_json's compact form: no spaces, non-ASCII written as UTF-8.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
# The same with non-ASCII characters as \u escapes: see encode_jsonb.
_ASCII_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False)
# In that form, the escapes of a NUL or of any surrogate (the encoder writes lower-case hex);
# one search for both is faster than two substring tests.
_NUL_OR_SURROGATE_ESCAPE = re.compile(r"\\u(?:0000|d[89a-f])")
# A number graph-flow's reader may not read back as it is shows in the encoder's output as a
# run of 19 digits or more (every int beyond -2**63..2**64-1 has 19) or as the exponent of
# the largest floats (no float below 1e308 can overflow serde_json's parser). Mapping the
# digits to one and searching for the run is the fastest test Python offers; strings that
# hold such text only cost a walk.
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19
_LARGEST_FLOATS = b"e+308"


def encode_json(
    value: Any, *, max_bytes: int | None = None, session_id: Any = None, what: str = "context"
) -> str:
    """Encode ``value`` as compact JSON or raise ContextSerializationError naming the path."""
    return encode_json_utf8(value, max_bytes=max_bytes, session_id=session_id, what=what)[0]


def encode_json_utf8(
    value: Any, *, max_bytes: int | None = None, session_id: Any = None, what: str = "context"
) -> tuple[str, bytes]:
    """``encode_json``, also returning the UTF-8 bytes it measured, so that a caller sending
    bytes (the PostgreSQL save) does not encode a megabyte-sized context a second time."""
    check_structure(value, what=what, session_id=session_id)
    return _encode_utf8(value, max_bytes=max_bytes, session_id=session_id, what=what)


def _encode_utf8(
    value: Any, *, max_bytes: int | None, session_id: Any, what: str
) -> tuple[str, bytes]:
    # encode_json_utf8 once the depth is known to be fine (checked once per public call).
    try:
        text = _ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise _unstorable_error(value, what, session_id, exc) from exc
    if "\\u0000" in text:  # json escapes NUL; a false alarm here only costs a walk
        problem = find_unstorable(value)
        if problem is not None:
            raise _unstorable_error(value, what, session_id, None, problem)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: jsonb and UTF-8 refuse it
        raise _unstorable_error(value, what, session_id, exc) from exc
    size = len(data)
    if max_bytes is not None and size > max_bytes:
        who = f" of session {session_id}" if session_id is not None else ""
        raise ContextTooLarge(
            f"the {what}{who} is {format_size(size)} as JSON, over the limit of "
            f'{format_size(max_bytes)} (GRAPHFLOW_SESSIONS["MAX_CONTEXT_BYTES"])',
            size=size,
            limit=max_bytes,
            session_id=session_id,
        )
    return text, data


def encode_jsonb(
    value: Any,
    *,
    max_bytes: int | None = None,
    session_id: Any = None,
    what: str = "context",
    structure_checked: bool = False,
) -> tuple[str | None, bytes]:
    """``encode_json_utf8`` for a PostgreSQL jsonb parameter: the same checks, errors and
    stored value, usually written with non-ASCII characters as ``\\u`` escapes. The text is
    None when only bytes were made.

    jsonb keeps characters, not their spelling, so PostgreSQL stores exactly what the UTF-8
    form would give. Python writes the escaped form about twice as fast once the text holds
    characters beyond Latin-1 (curly quotes, dashes, the euro sign, CJK), and it needs no UTF-8
    encoding pass. The escaped form is never shorter than the UTF-8 one, so within the limit
    it proves the UTF-8 form is too. Whenever that form could differ in outcome (near the
    limit, an escaped NUL, any escaped surrogate: lone, or half of an emoji's pair) or the
    encoder fails, encode_json_utf8 decides, with its own errors.

    ``structure_checked``: the caller has already run ``check_structure`` on every part of
    ``value`` that can nest or hold any key (a context's data), so the walk is not repeated.
    """
    if not structure_checked:
        check_structure(value, what=what, session_id=session_id)
    data = escaped_json(value)
    if data is None or (max_bytes is not None and len(data) > max_bytes):
        return _encode_utf8(value, max_bytes=max_bytes, session_id=session_id, what=what)
    return None, data


def escaped_json(value: Any) -> bytes | None:
    """``value`` as JSON with non-ASCII characters as ``\\u`` escapes (see encode_jsonb), or
    None when encode_json_utf8 must decide (the encoder fails, or the text holds an escaped
    NUL or surrogate)."""
    try:
        text = _ASCII_ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError):
        return None
    if _NUL_OR_SURROGATE_ESCAPE.search(text) is not None:
        return None
    return text.encode("ascii")


def decode_json(text: str | bytes | bytearray, *, what: str = "context") -> Any:
    """Parse JSON as graph-flow's reader does: NaN and Infinity are not JSON."""
    try:
        if type(text) is str and not text.startswith("\ufeff"):
            return _DECODER.decode(text)  # json.loads, minus building a decoder per call
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        long_integer = _find_long_integer(text) if isinstance(exc, ValueError) else None
        if long_integer is not None:
            path, problem = long_integer
            raise ContextDeserializationError(f"{what}: {path}: {problem}", path=path) from exc
        raise ContextDeserializationError(f"{what}: not valid JSON: {exc}") from exc
    except RecursionError as exc:  # Python's parser recurses once per nesting level
        raise ContextDeserializationError(f"{what}: JSON is nested too deeply to read") from exc


# A JSON string, escapes included (the unrolled form: no backtracking on long strings).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def count_json_items(text: bytes, *, in_strings: bool = True) -> tuple[int, int]:
    """``(containers, commas)`` in JSON ``text``: its objects and arrays (``{`` and ``[``)
    and its commas (about one per value or key beyond the first in each), without building
    any Python value. ``in_strings``: count the characters inside strings too, an upper
    bound made by three passes at C speed; else only outside strings (one pass over the
    strings, about a microsecond each, in constant memory). For text that is not valid
    JSON the counts are approximate: decoding it then says what is wrong."""
    containers = text.count(b"{") + text.count(b"[")
    commas = text.count(b",")
    if not in_strings:
        for match in _JSON_STRING.finditer(text):
            start, end = match.span()
            containers -= text.count(b"{", start, end) + text.count(b"[", start, end)
            commas -= text.count(b",", start, end)
    return containers, commas


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


class _LongInteger(str):
    """An integer literal longer than Python converts (``sys.get_int_max_str_digits``)."""


def _keep_long_integer(literal: str) -> int | _LongInteger:
    try:
        return int(literal)
    except ValueError:
        return _LongInteger(literal)


def _find_long_integer(text: str | bytes | bytearray) -> tuple[str, str] | None:
    """``(path, problem)`` for the first integer in ``text`` too long for Python to read,
    which json refuses without saying where; None when that is not why it fails. Parsing
    again costs nothing on the common path: only text json refused gets here."""
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_int=_keep_long_integer)
    except (ValueError, RecursionError):
        return None
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, _LongInteger):
            # Every such integer is beyond the floats serde_json reads (about 309 digits).
            return where or "(root)", literal_problem(item) or "is out of range"
        if isinstance(item, dict):
            stack.extend(
                (child, f"{where}.{key}" if where else key) for key, child in reversed(item.items())
            )
        elif isinstance(item, list):
            stack.extend(
                (child, f"{where}[{index}]") for index, child in reversed(list(enumerate(item)))
            )
    return None


def find_misshapen(
    value: Any, *, depth: int = 1, path: str = "", keys: bool = True
) -> tuple[str, str] | None:
    """``(path, problem)`` for the first array or object nested more than MAX_NESTING levels
    deep or object key that is not a string, else None; ``value`` itself is at level
    ``depth`` and at ``path``.

    Python's encoders write an int, float, bool or None key as text, so ``{1: "a"}`` would
    come back as ``{"1": "a"}`` and ``{1: "a", "1": "b"}`` as one key: keys are checked in
    the walk every save makes for the depth anyway. ``keys=False``: only the depth, for
    values decoded from JSON (whose keys are strings by construction).
    """
    if not isinstance(value, (dict, list, tuple)):
        return None
    # Containers seen: (container, level, index of its parent here, its key there). A path
    # is spelled out only for the container reported.
    seen: list[tuple[Any, int, int, Any]] = []
    stack: list[tuple[Any, int, int, Any]] = [(value, depth, -1, None)]
    while stack:
        entry = stack.pop()
        item, level = entry[0], entry[1]
        if level > MAX_NESTING:
            return _path_to(entry, seen, path), _TOO_DEEP
        index = len(seen)
        seen.append(entry)
        if isinstance(item, dict):
            for key, child in item.items():
                if keys and not isinstance(key, str):
                    return _path_to(entry, seen, path), _key_problem(key)
                if isinstance(child, (dict, list, tuple)):
                    stack.append((child, level + 1, index, key))
        else:
            for position, child in enumerate(item):
                if isinstance(child, (dict, list, tuple)):
                    stack.append((child, level + 1, index, position))
    return None


_TOO_DEEP = (
    f"is nested more than {MAX_NESTING} levels deep, which graph-flow's reader (serde_json) refuses"
)


def _key_problem(key: Any) -> str:
    return f"has a key of type {type(key).__name__} ({key!r}), but JSON object keys are strings"


def _path_to(entry: tuple[Any, int, int, Any], seen: list[Any], root: str) -> str:
    parts = []
    while entry[2] >= 0:
        parent = seen[entry[2]]
        parts.append(f"[{entry[3]}]" if not isinstance(parent[0], dict) else f".{entry[3]}")
        entry = parent
    path = root + "".join(reversed(parts))
    return path.lstrip(".") or "(root)"


# Beyond these (the largest floats) serde_json's parser may overflow: see jsonnumbers.
_LARGEST_FLOAT = 1.7976931348623157e308


def is_plain_json(value: Any, *, depth: int = 1) -> bool:
    """Whether ``value`` (at level ``depth``) is built of nothing but dicts with str keys,
    lists, tuples, str, bool, None, ints graph-flow's reader keeps exactly and floats it
    reads without overflow (every type exactly, no subclass), nested within MAX_NESTING.

    Such a value passes ``check_structure`` and ``check_numbers``, and any JSON writer gives
    the same JSON values for it, so a fast writer may write it; only its strings are left to
    check (NUL, lone surrogates). False means nothing but "not sure": the careful checks
    then decide, with their errors. One walk, touching each value once.
    """
    stack: list[tuple[Any, int]] = [([value], depth - 1)]  # the value as a child, like any
    while stack:
        item, level = stack.pop()
        if level > MAX_NESTING:
            return False
        if type(item) is dict:
            for key in item:
                if type(key) is not str:
                    return False
            children: Any = item.values()
        elif type(item) is list or type(item) is tuple:
            children = item
        else:
            return False
        for child in children:
            kind = type(child)
            if kind is str or kind is bool or child is None:
                continue
            if kind is dict or kind is list or kind is tuple:
                stack.append((child, level + 1))
            elif kind is int:
                if not I64_MIN <= child <= U64_MAX:
                    return False
            elif kind is float:
                if not -_LARGEST_FLOAT < child < _LARGEST_FLOAT:  # also NaN and infinities
                    return False
            else:
                return False
    return True


def check_structure(
    value: Any, *, depth: int = 1, path: str = "", what: str = "context", session_id: Any = None
) -> None:
    """Raise ContextSerializationError when ``value`` (at level ``depth`` and ``path``) nests
    deeper than graph-flow's reader reads or has an object key that is not a string."""
    problem = find_misshapen(value, depth=depth, path=path)
    if problem is not None:
        raise _unstorable_error(value, what, session_id, None, problem)


def check_numbers(
    value: Any,
    encoded: bytes | None = None,
    *,
    path: str = "",
    what: str = "context",
    session_id: Any = None,
) -> None:
    """Raise ContextSerializationError naming the path when ``value`` (at ``path``) holds a
    number graph-flow's reader refuses or would read back rounded (see ``jsonnumbers``).

    ``encoded``: the value's JSON as ``escaped_json`` made it, when the caller has it; else
    it is made here. Only when it shows a number that might be unreadable is the value walked.
    A value the encoder refuses is left to the encoding that follows, which says why.
    """
    if encoded is None:
        try:
            encoded = _ASCII_ENCODER.encode(value).encode("ascii")
        except (TypeError, ValueError, RecursionError):
            return
    if (
        _NINETEEN_DIGITS not in encoded.translate(_DIGITS_AS_ZEROS)
        and _LARGEST_FLOATS not in encoded
    ):
        return
    problem = find_unstorable(value, path, numbers=True)
    if problem is not None:
        raise _unstorable_error(value, what, session_id, None, problem)


def find_unstorable(value: Any, path: str = "", *, numbers: bool = False) -> tuple[str, str] | None:
    """Return ``(path, problem)`` for the first value JSON/jsonb cannot store, else ``None``;
    with ``numbers``, also for the first number graph-flow's reader cannot read back."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > 500:
            return where or "(root)", "is nested too deeply"
        if isinstance(item, str):
            problem = _string_problem(item)
            if problem:
                return where or "(root)", problem
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            problem = number_problem(item) if numbers else None
            if problem:
                return where or "(root)", problem
        elif isinstance(item, float):
            if not math.isfinite(item):
                return (
                    where or "(root)",
                    f"{item!r} is not valid JSON (NaN and Infinity are refused)",
                )
            problem = number_problem(item) if numbers else None
            if problem:
                return where or "(root)", problem
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                if not isinstance(key, str):
                    return where or "(root)", _key_problem(key)
                key_path = f"{where}.{key}" if where else key
                problem = _string_problem(key)
                if problem:
                    return key_path, f"the key {problem}"
                children.append((child, key_path, depth + 1))
            stack.extend(reversed(children))
        elif isinstance(item, (list, tuple)):
            stack.extend(
                (child, f"{where}[{index}]", depth + 1)
                for index, child in reversed(list(enumerate(item)))
            )
        else:
            return (
                where or "(root)",
                f"value of type {type(item).__name__} is not JSON serializable",
            )
    return None


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which PostgreSQL jsonb cannot store"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate, which is not valid UTF-8"
    return None


def _unstorable_error(
    value: Any,
    what: str,
    session_id: Any,
    exc: BaseException | None,
    problem: tuple[str, str] | None = None,
) -> ContextSerializationError:
    if problem is None:
        # With numbers: an int too long for the encoder to write (str()'s digit limit) is
        # refused as the number graph-flow's reader cannot read that it also is.
        problem = find_unstorable(value, numbers=True)
    who = f" of session {session_id}" if session_id is not None else ""
    if problem is None:  # the walk found nothing the encoder did: report the encoder's words
        path, reason = "(root)", str(exc)
    else:
        path, reason = problem
    return ContextSerializationError(
        f"cannot store the {what}{who}: {path}: {reason}", path=path, session_id=session_id
    )


def format_size(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")
