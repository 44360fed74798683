"""A history read by msgspec (contract/codec.py) keeps its messages as stored until they are used.

What a caller sees must not depend on it: every method gives what a history built by
Context.from_dict gives, appends and limits work on the unread items, and a save writes
back the same JSON, the unread contents verbatim.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from graphflow_sessions.context import Context, MessageRole, SerializableMessage
from graphflow_sessions.contract import codec
from graphflow_sessions.exceptions import ContextDeserializationError, ContextSerializationError
from graphflow_sessions.models import Session
from graphflow_sessions.storage import DatabaseSessionStorage
from tests.support.admin import insert_raw

pytestmark = pytest.mark.skipif(
    not codec.MSGSPEC_INSTALLED, reason="needs msgspec (postgres extra)"
)


def encode_context_jsonb(context: Context) -> tuple[str | None, bytes]:
    """The context as the PostgreSQL save sends it."""
    encoded = codec.write_context(context, jsonb=True)
    return encoded.text, encoded.utf8


def contract(count: int, max_messages: int | None = 1000) -> dict[str, Any]:
    roles = ("User", "Assistant", "System")
    messages = [
        {
            "role": roles[i % 3],
            "content": f'message {i}: € "quoted" \\ \n 😀',
            "timestamp": f"2026-01-01T00:00:{i:02d}.5Z",
        }
        for i in range(count)
    ]
    return {
        "data": {"k": [1, 2.5, None]},
        "chat_history": {"messages": messages, "max_messages": max_messages},
    }


def read(value: dict[str, Any]) -> Context:
    return codec.read_context(json.dumps(value, ensure_ascii=False))


def stored_items(context: Context) -> int:
    items = context.history_items_for_writing(lambda role, content, timestamp: None)
    return sum(type(item) is codec.StoredMessage for item in items)


def test_reading_builds_no_message_until_one_is_used() -> None:
    context = read(contract(5))
    assert stored_items(context) == 5
    assert context.chat_history_len() == 5
    assert not context.is_chat_history_empty()
    assert context.max_messages == 1000
    assert context.get("k") == [1, 2.5, None]
    assert stored_items(context) == 5  # none of that needed a message


def test_every_read_gives_what_the_eager_history_gives() -> None:
    value = contract(6)
    eager = Context.from_dict(value)
    for use in (
        lambda c: c.get_all_messages(),
        lambda c: c.get_last_messages(2),
        lambda c: c.get_last_messages(0),
        lambda c: c.get_last_messages(99),
        lambda c: list(c.get_chat_history()),
        lambda c: c.get_chat_history().messages,
        lambda c: c.to_dict(),
        lambda c: c.to_json(),
        lambda c: repr(c),
    ):
        assert use(read(value)) == use(eager)
    assert read(value) == eager
    assert eager == read(value)


def test_the_last_messages_are_built_alone() -> None:
    context = read(contract(5))
    last = context.get_last_messages(2)
    assert [m.content[:9] for m in last] == ["message 3", "message 4"]
    assert [m.role for m in last] == [MessageRole.USER, MessageRole.ASSISTANT]
    assert last[0].timestamp_text == "2026-01-01T00:00:03.5Z"
    assert stored_items(context) == 3
    assert context.get_last_messages(2)[0] is last[0]  # built once, then the history's own
    assert context.get_all_messages()[3] is last[0]
    assert stored_items(context) == 0


def test_appending_to_an_unread_history_keeps_the_limit_and_the_order() -> None:
    context = read(contract(4, max_messages=4))
    context.add_user_message("new one")
    assert stored_items(context) == 3  # the oldest stored one was dropped, none was built
    assert [m.content[:9] for m in context.get_all_messages()] == [
        "message 1",
        "message 2",
        "message 3",
        "new one",
    ]


def test_a_saved_unread_history_is_the_same_json(with_and_without_msgspec: str) -> None:
    value = contract(5)
    context = read(value)
    context.add_assistant_message("and one more")
    _text, data = encode_context_jsonb(context)
    expected = Context.from_dict(value)
    added = context.get_last_messages(1)[0]
    expected.add_message(added.role, added.content, added.timestamp_text)
    assert json.loads(data) == expected.to_dict()


def test_unread_contents_are_written_back_as_they_were_read() -> None:
    # The same characters, spelled as stored: nothing was decoded and encoded again.
    text = json.dumps(contract(2))  # ASCII: \u20ac for the euro sign, surrogate pairs...
    context = codec.read_context(text)
    _text, data = encode_context_jsonb(context)
    assert b"\\u20ac" in data and b"\\ud83d\\ude00" in data
    assert json.loads(data) == json.loads(text)


def test_a_message_changed_after_reading_is_saved_changed() -> None:
    context = read(contract(3))
    context.get_last_messages(1)[0].content = "edited"
    _text, data = encode_context_jsonb(context)
    assert json.loads(data)["chat_history"]["messages"][2]["content"] == "edited"
    assert stored_items(context) == 2


def test_clearing_an_unread_history() -> None:
    context = read(contract(3))
    context.clear_chat_history()
    assert context.chat_history_len() == 0 and context.get_all_messages() == []
    _text, data = encode_context_jsonb(context)
    assert json.loads(data)["chat_history"]["messages"] == []


def test_a_nul_read_from_another_service_is_refused_on_save_as_before() -> None:
    # PostgreSQL's jsonb cannot hold one; a SQLite row written by someone else can.
    value = contract(2)
    value["chat_history"]["messages"][1]["content"] = "a\x00b"
    context = read(value)
    assert stored_items(context) == 2
    with pytest.raises(ContextSerializationError, match=r"chat_history\.messages\[1\]\.content"):
        encode_context_jsonb(context)


def test_a_content_that_is_not_utf8_fails_where_it_is_used_naming_the_message() -> None:
    # Bytes are read as UTF-8 unchecked (the storage passes only a UTF8 database's); should
    # they be anything else, the error names the message when it is built.
    text = json.dumps(contract(3)).encode().replace(b"message 1", b"message \xff")
    context = codec.read_context(text)
    assert context.get_last_messages(1)[0].content.startswith("message 2")  # not affected
    with pytest.raises(ContextDeserializationError, match=r"chat_history\.messages\[1\]\.content"):
        context.get_all_messages()


def test_a_history_with_no_messages_has_nothing_stored() -> None:
    context = read(contract(0))
    assert stored_items(context) == 0
    assert context.get_all_messages() == []


def test_a_built_message_is_a_serializable_message() -> None:
    message = read(contract(1)).get_all_messages()[0]
    assert isinstance(message, SerializableMessage)
    assert message.timestamp.microsecond == 500000


@pytest.mark.django_db
def test_the_storage_reads_a_rust_row_lazily_and_saves_it_back_equal() -> None:
    value = contract(40)
    session_id = insert_raw(value)
    storage = DatabaseSessionStorage()
    found = storage.get(session_id)
    assert found is not None
    assert stored_items(found.context) == 40
    found.context.add_user_message("one more")
    storage.save(found)
    again = storage.get(session_id)
    assert again is not None
    assert (
        again.context.to_dict()["chat_history"]["messages"][:40]
        == value["chat_history"]["messages"]
    )
    assert again.context.get_last_messages(1)[0].content == "one more"
    assert Session.objects.get(pk=session_id).context == again.context


def test_an_unread_history_pickles_and_copies() -> None:
    # Django's cache and task queues pickle what they are given.
    import copy
    import pickle

    value = contract(3)
    for clone in (pickle.loads(pickle.dumps(read(value))), copy.deepcopy(read(value))):
        assert clone.to_dict() == Context.from_dict(value).to_dict()
