"""The storage reads a stored context with orjson when installed, and gets what json gives.

orjson turns integers beyond 64 bits into floats and refuses what json refuses in other
words; ``decode_context_json`` and ``DatabaseSessionStorage.get`` fall back to json for
those, so values and errors are json's (and PostgreSQL's numeric holds any integer).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from graphflow_sessions import serialization
from graphflow_sessions.context import Context
from graphflow_sessions.exceptions import ContextDeserializationError
from graphflow_sessions.serialization import decode_context_json, decode_json
from graphflow_sessions.storage import DatabaseSessionStorage
from tests.admin_support import insert_raw

BIG = 123456789012345678901234567890
MESSAGE = {"role": "User", "content": "hi", "timestamp": "2026-01-01T00:00:00Z"}


def context_text(data: Any, messages: Any = (), max_messages: Any = 1000) -> str:
    history = {"messages": list(messages), "max_messages": max_messages}
    return json.dumps({"data": data, "chat_history": history}, ensure_ascii=False)


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
    pytest.param("[1, 2]", id="not-an-object"),
    pytest.param('{"data": {"a": 1', id="truncated"),
]


def result(decode: Any, text: str | bytes) -> tuple[str, str]:
    try:
        return "value", repr(decode(text))  # repr: 1 and 1.0 differ, as do their types
    except ContextDeserializationError as exc:
        return "error", str(exc)


@pytest.mark.parametrize("text", TEXTS)
def test_a_context_is_decoded_as_json_decodes_it(with_and_without_orjson: str, text: str) -> None:
    assert result(decode_context_json, text) == result(decode_json, text)
    assert result(decode_context_json, text.encode()) == result(decode_json, text.encode())


@pytest.mark.django_db
def test_integers_beyond_64_bits_come_back_exactly() -> None:
    storage = DatabaseSessionStorage()
    context = Context(max_messages=BIG)
    context.set("big", BIG)
    context.set("nested", {"list": [-BIG, 2**64, 1.5]})
    context.add_user_message("hello")
    from graphflow_sessions.models import Session

    session = Session(graph_id="g", current_task_id="t", context=context)
    storage.save(session)

    found = storage.get(session.id)

    assert found is not None
    assert found.context.get("big") == BIG and type(found.context.get("big")) is int
    assert found.context.get("nested") == {"list": [-BIG, 2**64, 1.5]}
    assert found.context.max_messages == BIG


@pytest.mark.django_db
def test_a_big_integer_where_the_contract_wants_text_gets_the_same_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # orjson reads it as a float here (decode_context_json looks at data and max_messages
    # only); the contract error is the same, as it names no number.
    session_id = insert_raw(
        {"data": {}, "chat_history": {"messages": [{**MESSAGE, "content": BIG}]}}
    )
    errors = []
    for orjson in (serialization._orjson, None):
        monkeypatch.setattr(serialization, "_orjson", orjson)
        with pytest.raises(ContextDeserializationError) as raised:
            DatabaseSessionStorage().get(session_id)
        errors.append(str(raised.value))
    assert errors[0] == errors[1]
    assert "chat_history.messages[0].content: expected a string, got a number" in errors[0]


@pytest.mark.django_db
def test_a_stored_context_is_equal_however_it_was_read(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {
        "data": {"amount": 1450.5, "n": BIG, "text": "€ 😀", "none": None, "t": True},
        "chat_history": {"messages": [MESSAGE] * 3, "max_messages": None},
    }
    session_id = insert_raw(value)
    storage = DatabaseSessionStorage()
    fast = storage.get(session_id)
    monkeypatch.setattr(serialization, "_orjson", None)
    plain = storage.get(session_id)
    assert fast is not None and plain is not None
    assert repr(fast.context.to_dict()) == repr(plain.context.to_dict())
    assert fast.context.to_dict() == value
    assert uuid.UUID(str(session_id)) == fast.id
