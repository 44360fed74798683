"""Message timestamps as graph-flow writes and reads them: RFC 3339 text.

graph-flow's ``SerializableMessage`` stores a chrono ``DateTime<Utc>``, which serde writes as
RFC 3339 in UTC with a ``Z`` and up to nine fractional digits, and reads in any RFC 3339
spelling. Python's datetime keeps microseconds only, so a message keeps its timestamp's text
and converts to a datetime only when asked (see ``SerializableMessage.timestamp``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

__all__ = [
    "all_canonical",
    "canonical_timestamp",
    "format_timestamp",
    "is_canonical",
    "parse_timestamp",
]

# RFC 3339 with the field ranges checked (any offset, any number of fractional digits).
# ASCII: in a str pattern \d also matches other scripts' digits, which Rust refuses.
_RFC3339 = re.compile(
    r"(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):([0-5]\d):([0-5]\d|60)"
    r"(?:\.(\d+))?(?:([Zz])|([+-])([01]\d|2[0-3]):([0-5]\d))",
    re.ASCII,
)

# What graph-flow itself writes: UTC, "T" and "Z", and a real calendar day. A stored history
# is validated with one match of this per message instead of building a datetime for each
# (loading a long history is on the hot path of every ``get``); only Feb 29, leap seconds and
# other spellings (offsets, lower case) take the slower path through canonical_timestamp().
_CANONICAL = re.compile(
    r"\d{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
    r"|(?:0[13578]|1[02])-31)T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?Z",
    re.ASCII,
)
# The same for a whole history in one match: its timestamps, each followed by a newline
# (which no timestamp contains), ASCII digits only; anything else takes the per-message path.
_CANONICAL_LINES = re.compile("(?:(?:" + _CANONICAL.pattern.replace(r"\d", "[0-9]") + ")\n)*")


def parse_timestamp(text: str) -> datetime:
    """Parse RFC 3339 text (any offset, any number of fractional digits) to an aware UTC datetime.

    Python keeps microseconds: nanosecond digits written by Rust are truncated here, while
    :class:`SerializableMessage` keeps the original text so nothing is lost on re-save.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(
            f"expected an RFC 3339 timestamp such as 2026-01-01T00:00:00Z, got {text!r}"
        )
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    leap = second == "60"  # RFC 3339 allows a leap second; datetime does not.
    moment = datetime(
        int(year),
        int(month),
        int(day),
        int(hour),
        int(minute),
        59 if leap else int(second),
        micro,
        tzinfo=timezone.utc,
    )
    try:
        if leap:
            moment += timedelta(seconds=1)
        if not zulu:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            moment -= offset if sign == "+" else -offset
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00, before datetime.min in UTC
        raise ValueError(f"{text!r} is outside the years 1 to 9999 in UTC") from None
    return moment


def is_canonical(text: str) -> bool:
    """Whether ``text`` is a timestamp in graph-flow's own form (UTC, ``T``, ``Z``)."""
    return _CANONICAL.fullmatch(text) is not None


def all_canonical(timestamps: list[str]) -> bool:
    """Whether every timestamp is in graph-flow's own form, checked in one match: joined
    by newlines, which a canonical timestamp never holds (counted, so that one holding
    several lines is not taken for several timestamps). Every item must be a str."""
    joined = "\n".join(timestamps)
    return (
        joined.count("\n") == len(timestamps) - 1
        and _CANONICAL_LINES.fullmatch(joined + "\n") is not None
    )


def canonical_timestamp(text: str) -> str:
    """Return RFC 3339 ``text`` as graph-flow writes it: the same moment in UTC with ``Z``.

    The fractional digits are kept as written (Rust's nanoseconds survive); a timestamp with
    an offset is moved to UTC, as the Rust crate does when it re-saves a message. Raises
    ValueError for text that is not RFC 3339 or names no real day (2025-02-29).
    """
    if _CANONICAL.fullmatch(text):
        return text
    moment = parse_timestamp(text)  # validates the calendar day too
    match = _RFC3339.fullmatch(text)
    assert match is not None
    second, fraction = match.group(6), match.group(7)
    if second == "60":  # keep the leap second's spelling: the minute it belongs to, then :60
        moment -= timedelta(seconds=1)
    seconds = "60" if second == "60" else f"{moment.second:02d}"
    return f"{_up_to_minutes(moment)}{seconds}{'.' + fraction if fraction else ''}Z"


def format_timestamp(moment: datetime) -> str:
    """Format an aware datetime as graph-flow writes it: UTC with a ``Z`` suffix.

    Six fractional digits, or none for a whole second (both within the contract).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("message timestamps must be timezone-aware")
    moment = moment.astimezone(timezone.utc)
    if moment.microsecond:
        return f"{_up_to_minutes(moment)}{moment.second:02d}.{moment.microsecond:06d}Z"
    return f"{_up_to_minutes(moment)}{moment.second:02d}Z"


def _up_to_minutes(moment: datetime) -> str:
    # Not strftime: its %Y drops the zero padding before year 1000 ("412-10-07").
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:"
    )
