"""Properties of contexts and ids through the storage, on PostgreSQL and on SQLite.

For any generated context and id a save either round-trips, or raises one of the library's
errors and leaves what was stored as it was. "Round-trips" is exact on SQLite; PostgreSQL's
jsonb imposes three differences, and only these (``as_jsonb_returns``):

- a float Python prints with an exponent and no fraction (``1e+16``, ``-1e+22``) comes
  back as the integer of those digits (``printed_as_integer``), 64 bits or not; only the
  largest float is refused, on both databases: graph-flow's reader overflows on it;
- ``-0.0`` comes back as ``0.0`` (numeric has no negative zero);
- object keys come back in jsonb's order (shorter keys first), which no dict compares.

The examples are bounded and derandomized (the same ones each run, so a failure
reproduces): the ``graphflow`` profile in tests/conftest.py; ``HYPOTHESIS_PROFILE=explore``
draws new, more examples.
"""

from __future__ import annotations

import decimal
import math
import sys
import uuid
from typing import Any

import pytest
from django.db import connection, transaction
from hypothesis import given
from hypothesis import strategies as st

from graphflow_sessions.context import Context
from graphflow_sessions.exceptions import GraphFlowSessionsError
from graphflow_sessions.models import Session
from graphflow_sessions.storage import DatabaseSessionStorage

pytestmark = pytest.mark.django_db

storage = DatabaseSessionStorage()

# graph-flow's reader (serde_json) holds integers of 64 bits, signed or not.
INTEGERS = st.integers(min_value=-(2**63), max_value=2**64 - 1)
STORABLE_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
SCALARS = st.none() | st.booleans() | INTEGERS | FLOATS | STORABLE_TEXT
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(STORABLE_TEXT, children, max_size=4)
    ),
    max_leaves=20,
)
# What must be refused: text jsonb or the Rust reader cannot hold, numbers serde_json
# cannot read back, keys that are not strings (two of them could become one).
UNSTORABLE = (
    st.text(min_size=1).map(lambda text: text + "\x00")
    | st.sampled_from(["a\ud800b", "\udfff"])
    | st.sampled_from([math.nan, math.inf, -math.inf, 2**64, -(2**63) - 1, 10**400])
    | st.dictionaries(st.integers() | st.booleans() | st.none(), SCALARS, min_size=1, max_size=2)
)
ROLES = st.sampled_from(["User", "Assistant", "System"])
MESSAGES = st.lists(st.tuples(ROLES, STORABLE_TEXT), max_size=4)


def printed_as_integer(value: float) -> bool:
    """Python prints it with an exponent and no fraction (``1e+16``): PostgreSQL's numeric
    reads the digits Python printed as an integer (5.467993162305665e16 is
    54679931623056650, not the float's exact 54679931623056648)."""
    return value.is_integer() and "e" in repr(value)


def refused_number(value: Any) -> bool:
    """The largest float: graph-flow's reader (serde_json) overflows reading the integer
    PostgreSQL prints for it, so it is refused on every database (contract/jsonnumbers.py)."""
    if isinstance(value, float):
        return abs(value) == sys.float_info.max
    if isinstance(value, list):
        return any(refused_number(item) for item in value)
    if isinstance(value, dict):
        return any(refused_number(item) for item in value.values())
    return False


def as_jsonb_returns(value: Any) -> Any:
    """``value`` as PostgreSQL's jsonb gives it back (the module docstring's differences)."""
    if isinstance(value, float):
        if value == 0:
            return 0.0
        if printed_as_integer(value):
            return int(decimal.Decimal(repr(value)))
        return value
    if isinstance(value, list):
        return [as_jsonb_returns(item) for item in value]
    if isinstance(value, dict):
        return {key: as_jsonb_returns(item) for key, item in value.items()}
    return value


def exactly(value: Any) -> Any:
    """A comparable form that tells 1 from 1.0 and True from 1 (== does not)."""
    if isinstance(value, list):
        return ["list", [exactly(item) for item in value]]
    if isinstance(value, dict):
        return ["dict", sorted((key, exactly(item)) for key, item in value.items())]
    if isinstance(value, float):
        return ["float", math.copysign(1, value), value]
    return [type(value).__name__, value]


def session_with(data: dict[str, Any], messages: list[tuple[str, str]]) -> Session:
    context = Context()
    for key, value in data.items():
        context.set(key, value)
    for role, content in messages:
        context.add_message(role, content)
    return Session(id=uuid.uuid4(), graph_id="properties", current_task_id="t", context=context)


def snapshot(session_id: Any) -> tuple[Any, ...] | None:
    """Everything stored under the id, as stored."""
    stored = storage.get(session_id)
    if stored is None:
        return None
    return (stored.version, stored.updated_at, stored.status_message, stored.context.to_json())


@given(data=st.dictionaries(STORABLE_TEXT, JSON, max_size=5), messages=MESSAGES)
def test_a_storable_context_round_trips_as_the_database_returns_json(
    data: dict[str, Any], messages: list[tuple[str, str]]
) -> None:
    session = session_with(data, messages)

    if refused_number(data):
        with transaction.atomic(), pytest.raises(GraphFlowSessionsError, match="serde_json"):
            storage.save(session)
        assert storage.get(session.id) is None
        return
    storage.save(session)
    loaded = storage.get(session.id)

    assert loaded is not None
    expected = as_jsonb_returns(data) if connection.vendor == "postgresql" else data
    assert exactly(dict(loaded.context.data)) == exactly(expected)
    assert [(m.role.value, m.content) for m in loaded.context.get_all_messages()] == messages
    assert loaded.version == 1


@given(key=STORABLE_TEXT, bad=UNSTORABLE, nested=st.booleans())
def test_an_unstorable_value_is_a_library_error_and_changes_nothing(
    key: str, bad: Any, nested: bool
) -> None:
    session = session_with({"kept": [1, "two"]}, [("User", "hello")])
    storage.save(session)
    before = snapshot(session.id)

    # (atomic: a failed statement must not abort the test's transaction)
    with transaction.atomic(), pytest.raises(GraphFlowSessionsError):
        session.context.set(key, {"inside": [bad]} if nested else bad)
        storage.save(session)
    assert snapshot(session.id) == before


# The texts PostgreSQL's uuid input accepts for one uuid, beside ones it does not.
UUID_SPELLINGS = st.uuids().flatmap(
    lambda value: st.sampled_from(
        [value, str(value), str(value).upper(), value.hex, "{" + str(value) + "}"]
    )
)
NOT_IDS = st.text(max_size=40) | st.integers() | st.booleans() | st.none()


@given(session_id=UUID_SPELLINGS | NOT_IDS)
def test_an_id_is_stored_as_its_uuid_or_refused_with_nothing_stored(session_id: Any) -> None:
    try:
        expected = uuid.UUID(session_id) if isinstance(session_id, str) else session_id
    except ValueError:
        expected = None
    stored_before = Session.objects.count()
    # Hypothesis may draw a uuid again: saving it again updates the row it stored.
    again = isinstance(expected, uuid.UUID) and storage.get(expected) is not None
    session = session_with({}, [("User", "hi")])
    session.id = session_id

    with transaction.atomic():
        try:
            storage.save(session)
            saved = True
        except GraphFlowSessionsError:
            saved = False

    if saved:
        assert isinstance(expected, uuid.UUID), f"{session_id!r} was stored as an id"
        loaded = storage.get(expected)
        assert loaded is not None and loaded.id == expected
        assert Session.objects.count() == stored_before + (0 if again else 1)
    else:
        assert not isinstance(expected, uuid.UUID), f"{session_id!r} was refused"
        assert Session.objects.count() == stored_before
