"""JSON numbers as graph-flow's Rust reader reads them: serde_json's default parser.

graph-flow reads a stored context with ``serde_json::from_str`` and no ``arbitrary_precision``
or ``float_roundtrip`` feature. That parser keeps an integer exactly when it fits a u64 or an
i64; any other number becomes an f64, built as ``significand * 10**exponent`` from at most
the first 19 or 20 digits. Where that product overflows, it refuses the whole context
("number out of range"), so the session cannot be loaded in Rust at all.

The Rust service reads what PostgreSQL prints, and jsonb prints a number as its exact decimal
value, never in exponent form: the float ``1e30`` comes back as
``1000000000000000000000000000000``, read by Python as an int. So a Python number is judged
here as PostgreSQL will print it:

- an int from -2**63 to 2**64-1 is read exactly;
- any other int is read as a float. It is kept only when it is the value of its nearest
  float as Python (and Rust) print that float, i.e. a float read back from PostgreSQL, such
  as 10**30; any other would be read back rounded, and written back rounded;
- a float (and such an int) is kept when serde_json reads its printed form without overflow:
  every finite float but the largest, +-1.7976931348623157e308.

serde_json's default parser also reads many ordinary floats a unit in the last place off,
now and then two (its product or quotient of two rounded floats is not always the nearest
float; one float in four or five, over all magnitudes). That is graph-flow's own reading, of
what Rust itself wrote too, so it is not refused here.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

__all__ = ["I64_MIN", "U64_MAX", "literal_problem", "number_problem", "read_number"]

U64_MAX = 2**64 - 1
I64_MIN = -(2**63)
_I32_MAX = 2**31 - 1
_I32_MIN = -(2**31)

# serde_json's table of powers of ten: Rust's float literals 1e0..1e308, which, like Python's,
# are the nearest floats.
_POW10 = [float(f"1e{k}") for k in range(309)]

_LITERAL = re.compile(r"(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?)([0-9]+))?")


class _OutOfRange(Exception):
    """serde_json's ``ErrorCode::NumberOutOfRange``."""


def read_number(literal: str) -> int | float | None:
    """What serde_json reads from the JSON number ``literal``: an int when it keeps a u64 or
    i64, else a float; None when it refuses the literal as out of range. ValueError if the
    literal is not a JSON number."""
    match = _LITERAL.fullmatch(literal)
    if match is None:
        raise ValueError(f"not a JSON number: {literal!r}")
    sign, integer, fraction, exponent_sign, exponent = match.groups()
    try:
        return _parse(not sign, integer, fraction, exponent_sign, exponent)
    except _OutOfRange:
        return None


def _overflows(significand: int, digit: int, limit: int) -> bool:
    # serde_json's overflow! macro: would significand * 10 + digit exceed limit?
    return significand >= limit // 10 and (significand > limit // 10 or digit > limit % 10)


def _parse(
    positive: bool, integer: str, fraction: str | None, exponent_sign: str, exponent: str | None
) -> int | float:
    # parse_integer: digits into a u64 until the next one would overflow it; the digits
    # left over only count towards the exponent (parse_long_integer).
    significand = 0
    scale = 0
    for position, char in enumerate(integer):
        digit = ord(char) - 48
        if _overflows(significand, digit, U64_MAX):
            scale = len(integer) - position
            break
        significand = significand * 10 + digit
    if fraction is None and exponent is None:
        if scale:
            return _float_from_parts(positive, significand, scale)
        if positive:
            return significand
        # parse_number: a negation that does not fit an i64 (or -0) is read as a float.
        return -significand if 0 < significand <= -I64_MIN else -float(significand)
    if fraction is not None:
        # parse_decimal: each digit taken lowers the exponent; from the first that would
        # overflow the significand on, digits are ignored (parse_decimal_overflow).
        for char in fraction:
            digit = ord(char) - 48
            if _overflows(significand, digit, U64_MAX):
                break
            significand = significand * 10 + digit
            scale -= 1
    if exponent is None:
        return _float_from_parts(positive, significand, scale)
    # parse_exponent: the exponent is an i32; one that overflows it means infinity (refused)
    # or zero (parse_exponent_overflow).
    value = 0
    for char in exponent:
        digit = ord(char) - 48
        if _overflows(value, digit, _I32_MAX):
            if significand != 0 and exponent_sign != "-":
                raise _OutOfRange
            return 0.0 if positive else -0.0
        value = value * 10 + digit
    total = scale - value if exponent_sign == "-" else scale + value
    return _float_from_parts(positive, significand, max(_I32_MIN, min(_I32_MAX, total)))


def _float_from_parts(positive: bool, significand: int, exponent: int) -> float:
    # f64_from_parts without float_roundtrip: one multiplication or division by a power of
    # ten from the table, each rounded, as f64 arithmetic is in Rust and in Python.
    value = float(significand)
    while True:
        # exponent.wrapping_abs() as usize: i32::MIN stays negative, so off the table.
        index = -exponent if _I32_MIN < exponent < 0 else exponent
        if 0 <= index < len(_POW10):
            if exponent >= 0:
                value *= _POW10[index]
                if value == float("inf"):
                    raise _OutOfRange
            else:
                value /= _POW10[index]
            break
        if value == 0.0:
            break
        if exponent >= 0:
            raise _OutOfRange
        value /= 1e308
        exponent += 308
    return value if positive else -value


def _printed_by_postgresql(value: float) -> str:
    """The literal PostgreSQL's jsonb prints for the float Python's json writes: its exact
    decimal value, without an exponent (``1e+30`` is ``1000000000000000000000000000000``)."""
    return format(Decimal(repr(value)), "f")


def number_problem(value: int | float) -> str | None:
    """Why graph-flow's reader cannot read ``value`` (an int or a finite float) back as it
    is once PostgreSQL has stored it, or None when it can."""
    if isinstance(value, int):
        if I64_MIN <= value <= U64_MAX:
            return None
        try:
            nearest = float(value)
        except OverflowError:
            return f"{_show(value)} is {_OUT_OF_RANGE}"
        if int(Decimal(repr(nearest))) != value:
            return (
                f"the integer {_show(value)} does not fit 64 bits, so graph-flow's reader "
                f"(serde_json) would read it rounded, as {nearest!r}"
            )
        if read_number(str(value)) is None:
            return f"{_show(value)} is {_OUT_OF_RANGE}"
        return None
    printed = _printed_by_postgresql(value)
    if read_number(printed) is None:
        return f"{value!r}, which PostgreSQL prints as {_show_literal(printed)}, is {_OUT_OF_RANGE}"
    return None


_OUT_OF_RANGE = "out of the range graph-flow's reader (serde_json) can read"


def literal_problem(literal: str) -> str | None:
    """Why graph-flow's reader refuses the JSON number ``literal``, or None when it reads it
    (perhaps rounded: see ``number_problem`` for what a save refuses)."""
    if read_number(literal) is None:
        return f"{_show_literal(literal)} is {_OUT_OF_RANGE}"
    return None


def _show(value: int) -> str:
    if value.bit_length() < _STR_SAFE_BITS:
        return _show_literal(str(value))
    # Beyond what str() converts (sys.get_int_max_str_digits): the ends, by arithmetic.
    magnitude = abs(value)
    digits = int(magnitude.bit_length() * _LOG10_2)  # never more than the true count
    while 10**digits <= magnitude:
        digits += 1
    sign = "-" if value < 0 else ""
    head = magnitude // 10 ** (digits - 12 + len(sign))  # as _show_literal cuts the text
    return f"{sign}{head}...{magnitude % 10**6:06d} ({digits} digits)"


# Ints of fewer bits have fewer than 1,000 digits: str() converts them under any digit limit
# Python allows (the smallest it accepts is 640).
_STR_SAFE_BITS = 2000
_LOG10_2 = math.log10(2)


def _show_literal(literal: str) -> str:
    if len(literal) <= 40:
        return literal
    digits = len(literal.lstrip("-"))
    return f"{literal[:12]}...{literal[-6:]} ({digits} digits)"
