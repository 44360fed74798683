"""The storage reads a stored context with msgspec when installed, and gets what json gives.

msgspec reads a context in the contract's shape straight into a Context (see contract/codec.py);
anything else (not JSON, a breach of the contract, unusual timestamps, deep nesting) takes
json's path, so values and errors are json's whichever way a context was read (and
PostgreSQL's numeric holds any integer).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from graphflow_sessions.context import Context
from graphflow_sessions.contract import codec
from graphflow_sessions.contract.codec import read_stored as decode_context_json
from graphflow_sessions.contract.jsontext import decode_json
from graphflow_sessions.exceptions import ContextDeserializationError
from graphflow_sessions.storage import DatabaseSessionStorage
from tests.support.admin import insert_raw

BIG = 123456789012345678901234567890
MESSAGE = {"role": "User", "content": "hi", "timestamp": "2026-01-01T00:00:00Z"}


def context_text(data: Any, messages: Any = (), max_messages: Any = 1000) -> str:
    history = {"messages": list(messages), "max_messages": max_messages}
    return json.dumps({"data": data, "chat_history": history}, ensure_ascii=False)


def with_message(**changes: Any) -> str:
    return context_text({"k": "v"}, [MESSAGE, {**MESSAGE, **changes}])


TEXTS = [
    pytest.param(context_text({"k": "v", "n": 1, "f": 0.1}, [MESSAGE]), id="plain"),
    pytest.param(context_text({"text": '€ “quotes” 😀 日本語 \\ " \n'}), id="characters"),
    pytest.param(context_text({"n": BIG, "deep": [{"m": -BIG}]}), id="big-ints-in-data"),
    pytest.param(context_text({"u64": 2**64 - 1, "i64": -(2**63)}), id="64-bit-edges"),
    pytest.param(context_text({"f": 1e300, "g": -0.0, "h": 5e-324}), id="float-edges"),
    pytest.param(context_text({}, [MESSAGE], max_messages=BIG), id="big-max-messages"),
    pytest.param(context_text({"n": 1e400}).replace("Infinity", "1e400"), id="overflowing"),
    pytest.param('{"data": {"x": NaN}, "chat_history": {}}', id="nan"),
    pytest.param("\ufeff" + context_text({}), id="bom"),
    pytest.param('{"data": ' + "[" * 2000 + "]" * 2000 + "}", id="nested-2000-deep"),
    pytest.param(context_text({"deep": [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}), id="nested"),
    pytest.param(context_text({"x": [[]] * 3} | {"d": {"a": {"b": []}}}), id="nested-wide"),
    pytest.param(
        '{"data": {"a": ' + "[" * 200 + "]" * 200 + '}, "chat_history": {"messages": []}}',
        id="deeper-than-graph-flow-reads",
    ),
    pytest.param("[1, 2]", id="not-an-object"),
    pytest.param('{"data": {"a": 1', id="truncated"),
    # The messages: what the contract allows, and each way of breaking it.
    pytest.param(context_text({}, []), id="no-messages"),
    pytest.param('{"data": {}, "chat_history": {"messages": []}}', id="no-max-messages"),
    pytest.param(with_message(content='say "hi" \\ \n\t €😀'), id="content-escapes"),
    pytest.param(with_message(content="a\u0000b"), id="content-with-nul"),
    pytest.param(  # the escape, as JSON text (a str holding the surrogate has no UTF-8)
        with_message(content="a?b").replace("a?b", "a\\ud800b"), id="content-with-lone-surrogate"
    ),
    pytest.param(with_message(content=5), id="content-a-number"),
    pytest.param(with_message(content=None), id="content-null"),
    pytest.param(with_message(content={"text": "hi"}), id="content-an-object"),
    pytest.param(with_message(content=["hi"]), id="content-a-list"),
    pytest.param(with_message(role="user"), id="role-lower-case"),
    pytest.param(with_message(role=1), id="role-a-number"),
    pytest.param(with_message(timestamp="2026-01-01T01:00:00+01:00"), id="timestamp-offset"),
    pytest.param(with_message(timestamp="2026-01-01T00:00:00.123456789Z"), id="timestamp-ns"),
    pytest.param(with_message(timestamp="2025-02-29T00:00:00Z"), id="timestamp-no-such-day"),
    pytest.param(with_message(timestamp="yesterday"), id="timestamp-not-rfc-3339"),
    pytest.param(  # each line canonical: a check by lines must count them
        with_message(timestamp="2026-01-01T00:00:00Z\n2026-01-01T00:00:01Z"),
        id="timestamp-two-lines",
    ),
    pytest.param(with_message(extra="ignored"), id="message-extra-field"),
    pytest.param(context_text({}, [{"role": "User", "content": "hi"}]), id="message-no-time"),
    pytest.param(context_text({}, ["hi"]), id="message-a-string"),
    pytest.param(context_text({}, [MESSAGE], max_messages=-1), id="max-messages-negative"),
    pytest.param(context_text({}, [MESSAGE], max_messages=2.0), id="max-messages-float"),
    pytest.param(context_text({}, [MESSAGE], max_messages=True), id="max-messages-bool"),
    pytest.param('{"data": [], "chat_history": {"messages": []}}', id="data-a-list"),
    pytest.param('{"data": {}, "chat_history": {"messages": {}}}', id="messages-an-object"),
    pytest.param('{"data": {}}', id="no-chat-history"),
    pytest.param('{"data": {"k": 1, "k": 2}, "chat_history": {"messages": []}}', id="dup-keys"),
]


def result(decode: Any, text: str | bytes) -> tuple[str, str]:
    """What reading ``text`` gives: the context's JSON (repr: 1 and 1.0 differ, as do
    their types) or the error, whether the decoder built the Context or left it to
    Context.from_dict (as the model's descriptor does)."""
    try:
        value = decode(text)
        context = value if isinstance(value, Context) else Context.from_dict(value)
        return "value", repr(context.to_dict())
    except ContextDeserializationError as exc:
        return "error", str(exc)


@pytest.mark.parametrize("text", TEXTS)
def test_a_context_is_read_as_json_reads_it(with_and_without_msgspec: str, text: str) -> None:
    assert result(decode_context_json, text) == result(decode_json, text)
    assert result(decode_context_json, text.encode()) == result(decode_json, text.encode())
    assert result(Context.from_json, text) == result(decode_json, text)


def test_the_usual_context_is_read_by_msgspec_and_the_rest_by_json() -> None:
    # Not only the same results: the fast path is the one taken where it can be.
    assert isinstance(decode_context_json(context_text({"k": 1}, [MESSAGE] * 3)), Context)
    for unusual in (with_message(role="user"), with_message(content=5), "[1, 2]"):
        assert not isinstance(decode_context_json(unusual), Context)


@pytest.mark.django_db
def test_integers_beyond_64_bits_stored_by_sql_read_back_exactly() -> None:
    # Saving such an integer is refused (graph-flow would read it rounded: see
    # test_numbers), but a row written with SQL still reads as the database holds it.
    session_id = insert_raw(
        {
            "data": {"big": BIG, "nested": {"list": [-BIG, 2**64, 1.5]}},
            "chat_history": {"messages": [MESSAGE], "max_messages": 1000},
        }
    )

    found = DatabaseSessionStorage().get(session_id)

    assert found is not None
    assert found.context.get("big") == BIG and type(found.context.get("big")) is int
    assert found.context.get("nested") == {"list": [-BIG, 2**64, 1.5]}


@pytest.mark.django_db
def test_a_big_integer_where_the_contract_wants_text_gets_the_same_error() -> None:
    # msgspec reads the content as JSON text, found not to be a string: json's path then
    # builds the error, the same with msgspec as without.
    session_id = insert_raw(
        {"data": {}, "chat_history": {"messages": [{**MESSAGE, "content": BIG}]}}
    )
    errors = []
    with pytest.raises(ContextDeserializationError) as raised:
        DatabaseSessionStorage().get(session_id)
    errors.append(str(raised.value))
    with codec.without_msgspec(), pytest.raises(ContextDeserializationError) as raised:
        DatabaseSessionStorage().get(session_id)
    errors.append(str(raised.value))
    assert errors[0] == errors[1]
    assert "chat_history.messages[0].content: expected a string, got a number" in errors[0]


@pytest.mark.django_db
def test_a_stored_context_is_equal_however_it_was_read() -> None:
    value = {
        "data": {"amount": 1450.5, "n": BIG, "text": "€ 😀", "none": None, "t": True},
        "chat_history": {"messages": [MESSAGE] * 3, "max_messages": None},
    }
    session_id = insert_raw(value)
    storage = DatabaseSessionStorage()
    fast = storage.get(session_id)
    with codec.without_msgspec():
        plain = storage.get(session_id)
    assert fast is not None and plain is not None
    assert repr(fast.context.to_dict()) == repr(plain.context.to_dict())
    assert fast.context.to_dict() == value
    assert uuid.UUID(str(session_id)) == fast.id
