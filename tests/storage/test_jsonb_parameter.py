"""The PostgreSQL save's fast path, pinned to the plain one.

On PostgreSQL with psycopg 3 the storage runs its statement on a server-binding cursor of
Django's connection and sends the context as a jsonb parameter, written by msgspec when the
data is plain JSON (``jsontext.is_plain_json``), else with ``\\u`` escapes
(``contract.jsontext.encode_jsonb``). These tests hold it to what the plain path does: the same
values accepted, the same errors for what is refused, the characters (not the escapes)
stored, and Django's query logging and execute wrappers still seeing every statement.
"""

from __future__ import annotations

import collections
import enum
import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from graphflow_sessions.context import Context
from graphflow_sessions.contract import codec
from graphflow_sessions.contract.jsontext import encode_json_utf8, encode_jsonb
from graphflow_sessions.exceptions import ContextSerializationError, ContextTooLarge
from graphflow_sessions.models import Session
from graphflow_sessions.storage import DatabaseSessionStorage

LIMIT = 1000


class Colour(enum.IntEnum):
    RED = 1


class Name(str):
    pass


def nested(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels):
        value = [value]
    return value


VALUES = [
    pytest.param({"text": "plain ascii"}, id="ascii"),
    pytest.param({"text": "déjà vu, naïve façade"}, id="latin-1"),
    pytest.param({"text": "€ “quotes” — a dash, 日本語"}, id="beyond-latin-1"),
    pytest.param({"text": "emoji 😀 and a flag 🇫🇷"}, id="astral-characters"),
    pytest.param({"text": "spelled out: \\u0000 and \\ud800"}, id="escape-look-alikes"),
    pytest.param({"text": "nul \x00 inside"}, id="nul"),
    pytest.param({"deep": {"key\x00": 1}}, id="nul-in-a-key"),
    pytest.param({"text": "lone \ud800 high surrogate"}, id="lone-high-surrogate"),
    pytest.param({"text": "lone \udc00 low surrogate"}, id="lone-low-surrogate"),
    pytest.param({"text": "\ud83d\ude00"}, id="a-surrogate-pair-as-two-code-points"),
    pytest.param({"n": float("nan")}, id="nan"),
    pytest.param({"o": object()}, id="not-serializable"),
    pytest.param({1: "int key", None: "null key", 2.5: "float key"}, id="non-string-keys"),
    # Escaped, this is longer than the limit; as UTF-8 it fits, so it must be accepted.
    pytest.param({"text": "€" * 300}, id="escaped-over-the-limit-utf8-within"),
    pytest.param({"text": "€" * 400}, id="over-the-limit-either-way"),
    pytest.param({"deep": nested(124)}, id="as-deep-as-graph-flow-reads"),
    pytest.param({"deep": nested(125)}, id="deeper-than-graph-flow-reads"),
    pytest.param({"n": (1, "two", [3.5])}, id="a-tuple"),
    pytest.param({"n": Colour.RED, "s": Name("x")}, id="int-and-str-subclasses"),
    pytest.param({"n": collections.OrderedDict(a=1)}, id="a-dict-subclass"),
]


# Message texts: the chat history is written by msgspec when it is installed.
TEXTS = [
    pytest.param("plain ascii", id="ascii"),
    pytest.param("€ “quotes” — 日本語 déjà", id="beyond-ascii"),
    pytest.param("emoji 😀 and a flag 🇫🇷", id="astral-characters"),
    pytest.param("spelled out: \\u0000 and \\ud800", id="escape-look-alikes"),
    pytest.param('{"a":null, "b": NaN}', id="json-with-null-inside-the-text"),
    pytest.param("nul \x00 inside", id="nul"),
    pytest.param("lone \ud800 high surrogate", id="lone-high-surrogate"),
    pytest.param("\ud83d\ude00", id="a-surrogate-pair-as-two-code-points"),
    pytest.param("€" * 300, id="escaped-over-the-limit-utf8-within"),
    pytest.param("x" * 1100, id="over-the-limit"),
]


def contract(data: Any, text: str, max_messages: int | None = 1000) -> dict[str, Any]:
    message = {"role": "User", "content": text, "timestamp": "2026-01-01T00:00:00Z"}
    return {
        "data": data,
        "chat_history": {"messages": [message, dict(message)], "max_messages": max_messages},
    }


def outcome(encode: Any, value: Any) -> tuple[Any, Any]:
    try:
        _text, data = encode(value, max_bytes=LIMIT, session_id="s-1")
    except (ContextSerializationError, ContextTooLarge) as exc:
        return type(exc), str(exc)
    return "stored", json.loads(data)


@pytest.mark.parametrize("value", VALUES)
def test_the_jsonb_form_accepts_and_refuses_exactly_what_the_utf8_form_does(value: Any) -> None:
    assert outcome(encode_jsonb, value) == outcome(encode_json_utf8, value)


def context_outcome(context: Context) -> tuple[Any, Any]:
    return outcome(lambda _value, **kw: encode_context_jsonb(context, **kw), None)


def encode_context_jsonb(context: Context, **kwargs: Any) -> tuple[str | None, bytes]:
    """The context as the PostgreSQL save sends it."""
    encoded = codec.write_context(context, jsonb=True, **kwargs)
    return encoded.text, encoded.utf8


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("max_messages", [1000, None])
def test_a_context_in_the_jsonb_form_is_what_the_utf8_form_gives(
    with_and_without_msgspec: str, text: str, max_messages: int | None
) -> None:
    context = Context.from_dict(contract({"k": "v"}, text, max_messages))
    assert context_outcome(context) == outcome(encode_json_utf8, context.to_dict())


@pytest.mark.parametrize("data", VALUES)
def test_context_data_in_the_jsonb_form_is_what_the_utf8_form_gives(
    with_and_without_msgspec: str, data: Any
) -> None:
    context = Context.from_dict(contract(data, "hello"))
    assert context_outcome(context) == outcome(encode_json_utf8, context.to_dict())


# Numbers at the edges of what graph-flow's reader keeps (refused by every write, which the
# UTF-8 form alone does not check), and of what msgspec writes.
NUMBERS = [
    pytest.param([2**64 - 1, -(2**63), 0.1, -0.0, 5e-324, 1e30, 1.5e-7], id="64-bit-edges"),
    pytest.param(2**64, id="an-int-beyond-u64"),
    pytest.param(-(2**63) - 1, id="an-int-below-i64"),
    pytest.param(10**30, id="an-int-that-is-a-float-as-printed"),
    pytest.param(1.7976931348623157e308, id="the-largest-float"),
    pytest.param(float("-inf"), id="infinity"),
]


@pytest.mark.parametrize("number", NUMBERS)
def test_numbers_written_by_msgspec_are_accepted_and_refused_as_on_json_path(number: Any) -> None:
    context = Context.from_dict(contract({"n": number}, "hello"))
    written = context_outcome(context)
    with codec.without_msgspec():
        assert context_outcome(context) == written


# Any JSON-like data, of plain types and the ones msgspec would write but json refuses.
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text()
    | st.sampled_from([Colour.RED, Name("n"), 1.7976931348623157e308, 2**64, 10**30])
)
_DATA = st.recursive(
    _LEAVES,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children)
        | st.dictionaries(st.text(max_size=5) | st.integers(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), _DATA, max_size=5))
def test_any_data_is_written_by_msgspec_exactly_as_json_writes_it(data: dict[str, Any]) -> None:
    context = Context.from_dict(contract(data, "hello"))
    written = context_outcome(context)
    with codec.without_msgspec():
        assert context_outcome(context) == written


def test_the_jsonb_form_of_text_beyond_ascii_is_ascii() -> None:
    text, data = encode_jsonb({"text": "€ “quotes”"})
    assert data.isascii()
    assert text is None
    assert json.loads(data) == {"text": "€ “quotes”"}


def test_with_msgspec_the_context_is_written_by_msgspec() -> None:
    assert codec.MSGSPEC_INSTALLED  # the postgres extra installs msgspec
    value = contract({"k": "€"}, "€ long text " * 10_000)
    text, data = encode_context_jsonb(Context.from_dict(value))
    # Not the careful path (which returns text too), and the whole context is UTF-8, not
    # json's \\u20ac escapes.
    assert text is None
    assert data.count("€".encode()) == 20_001
    assert '"data":{"k":"€"}'.encode() in data
    assert json.loads(data) == value


def new_session(text: str) -> Session:
    ctx = Context()
    ctx.set("text", text)
    ctx.add_user_message(text)
    return Session(graph_id="g", current_task_id="t", status_message=None, context=ctx)


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_stores_the_characters_not_their_escapes() -> None:
    text = "€ “quotes” 😀 déjà 日本語"
    session = new_session(text)
    storage = DatabaseSessionStorage()
    storage.save(session)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT context -> 'data' ->> 'text', context::text FROM sessions WHERE id = %s",
            [session.id],
        )
        stored_text, stored_json = cursor.fetchone()
    assert stored_text == text
    assert "\\u" not in stored_json  # jsonb keeps characters; its output writes them as such
    found = storage.get(session.id)
    assert found is not None
    assert found.context == session.context


@pytest.mark.django_db
def test_django_query_logging_still_sees_every_storage_statement() -> None:
    storage = DatabaseSessionStorage()
    session = new_session("€ logged")
    with CaptureQueriesContext(connection) as captured:
        storage.save(session)
        found = storage.get(session.id)
        deleted = storage.delete(session.id)
    statements = [query["sql"].split()[0].upper() for query in captured.captured_queries]
    assert statements == ["INSERT", "SELECT", "DELETE"]
    assert found is not None
    assert found.context == session.context
    assert deleted is True


@pytest.mark.django_db
def test_an_execute_wrapper_still_sees_every_storage_statement() -> None:
    storage = DatabaseSessionStorage()
    session = new_session("wrapped")
    seen: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql.split()[0].upper())
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        storage.save(session)
        assert storage.get(session.id) is not None
        assert storage.delete(session.id) is True
    assert seen == ["INSERT", "SELECT", "DELETE"]
