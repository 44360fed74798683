"""Context: graph-flow's API, its exact JSON, and clear errors for JSON that breaks the contract.

These tests need no database: Context is plain Python.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphflow_sessions.context import (
    DEFAULT_MAX_MESSAGES,
    ChatHistory,
    Context,
    MessageRole,
    SerializableMessage,
    canonical_timestamp,
    format_timestamp,
    parse_timestamp,
)
from graphflow_sessions.contract.codec import check_context, write_context
from graphflow_sessions.exceptions import (
    ContextDeserializationError,
    ContextError,
    ContextSerializationError,
    StorageError,
)
from tests.support.graph_flow import SEED_EXAMPLE_JSON

REPO = Path(__file__).resolve().parents[2]


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def contract(messages: list[Any], *, data: Any = None, max_messages: Any = 1000) -> dict:
    return {
        "data": {} if data is None else data,
        "chat_history": {"messages": messages, "max_messages": max_messages},
    }


def message(role: str = "User", content: str = "hi", timestamp: str = "2026-01-01T00:00:00Z"):
    return {"role": role, "content": content, "timestamp": timestamp}


# Data ---------------------------------------------------------------------------------------


def test_set_then_get_returns_the_value():
    ctx = Context()
    ctx.set("insurance_type", "car")
    ctx.set("claim_details", {"estimated_cost": 150, "additional_info": None})
    assert ctx.get("insurance_type") == "car"
    assert ctx.get("claim_details") == {"estimated_cost": 150, "additional_info": None}


def test_get_of_an_absent_key_returns_the_default():
    ctx = Context()
    assert ctx.get("missing") is None
    assert ctx.get("missing", 3) == 3


def test_set_overwrites_and_rejects_non_string_keys():
    ctx = Context()
    ctx.set("retry_count", 1)
    ctx.set("retry_count", 2)
    assert ctx.get("retry_count") == 2
    with pytest.raises(TypeError, match="keys must be str"):
        ctx.set(1, "x")  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [1, True, None, 2.5])
def test_a_key_that_is_not_a_string_anywhere_in_the_data_is_refused_naming_its_path(key):
    # json would write it as text: {1: "a", "1": "b"} as {"1":"a","1":"b"}, read back as one.
    ctx = Context()
    ctx.set("v", {"inner": [{key: "a", str(key): "b"}]})
    for write in (ctx.to_json, lambda: check_context(ctx), lambda: write_context(ctx.to_dict())):
        with pytest.raises(ContextSerializationError) as caught:
            write()
        assert caught.value.path == "data.v.inner[0]"
        assert f"has a key of type {type(key).__name__} ({key!r})" in str(caught.value)


def test_remove_returns_the_old_value_and_none_when_absent():
    ctx = Context()
    ctx.set("approval_state", "pending")
    assert ctx.remove("approval_state") == "pending"
    assert "approval_state" not in ctx
    assert ctx.remove("approval_state") is None


def test_clear_removes_data_but_keeps_the_chat_history():
    ctx = Context()
    ctx.set("a", 1)
    ctx.add_user_message("hello")
    ctx.clear()
    assert ctx.keys() == []
    assert ctx.chat_history_len() == 1


def test_data_is_a_read_only_live_view():
    ctx = Context()
    view = ctx.data
    ctx.set("k", "v")
    assert view["k"] == "v"
    with pytest.raises(TypeError):
        view["k"] = "w"  # type: ignore[index]


# Chat history -------------------------------------------------------------------------------


def test_a_new_context_keeps_1000_messages():
    assert DEFAULT_MAX_MESSAGES == 1000
    assert Context().max_messages == 1000
    assert Context().to_dict()["chat_history"]["max_messages"] == 1000


def test_add_messages_records_role_content_and_a_utc_timestamp():
    ctx = Context()
    before = datetime.now(timezone.utc)
    ctx.add_user_message("u")
    ctx.add_assistant_message("a")
    ctx.add_system_message("s")
    after = datetime.now(timezone.utc)
    messages = ctx.get_all_messages()
    assert [(m.role, m.content) for m in messages] == [
        (MessageRole.USER, "u"),
        (MessageRole.ASSISTANT, "a"),
        (MessageRole.SYSTEM, "s"),
    ]
    for m in messages:
        assert before - timedelta(microseconds=1) <= m.timestamp <= after
        assert m.timestamp_text.endswith("Z")


def test_chat_history_len_and_is_empty():
    ctx = Context()
    assert ctx.is_chat_history_empty()
    assert ctx.chat_history_len() == 0
    ctx.add_user_message("x")
    assert not ctx.is_chat_history_empty()
    assert ctx.chat_history_len() == 1


def test_get_last_messages_returns_the_last_n_oldest_first():
    ctx = Context()
    for text in ("1", "2", "3", "4"):
        ctx.add_user_message(text)
    assert [m.content for m in ctx.get_last_messages(2)] == ["3", "4"]
    assert [m.content for m in ctx.get_last_messages(10)] == ["1", "2", "3", "4"]
    assert ctx.get_last_messages(0) == []


def test_clear_chat_history_keeps_data_and_the_limit():
    ctx = Context.with_max_chat_messages(5)
    ctx.set("k", 1)
    ctx.add_user_message("x")
    ctx.clear_chat_history()
    assert ctx.is_chat_history_empty()
    assert ctx.get("k") == 1
    assert ctx.max_messages == 5


def test_get_chat_history_is_a_copy():
    ctx = Context()
    ctx.add_user_message("x")
    history = ctx.get_chat_history()
    history.append(SerializableMessage("User", "y"))
    assert isinstance(history, ChatHistory)
    assert ctx.chat_history_len() == 1
    assert len(history) == 2


def test_max_messages_2_drops_the_oldest_on_append():
    ctx = Context.with_max_chat_messages(2)
    ctx.add_user_message("U1")
    ctx.add_assistant_message("A1")
    ctx.add_user_message("U2")
    assert [(m.role.value, m.content) for m in ctx.get_all_messages()] == [
        ("Assistant", "A1"),
        ("User", "U2"),
    ]


def test_max_messages_none_is_unbounded():
    ctx = Context(max_messages=None)
    for i in range(1500):
        ctx.add_user_message(str(i))
    assert ctx.chat_history_len() == 1500
    assert ctx.to_dict()["chat_history"]["max_messages"] is None


def test_a_loaded_history_longer_than_its_limit_is_trimmed_only_on_the_next_append():
    stored = contract([message(content=str(i)) for i in range(5)], max_messages=2)
    ctx = Context.from_dict(stored)
    assert ctx.chat_history_len() == 5
    assert ctx.to_dict() == stored
    ctx.add_user_message("new")
    assert [m.content for m in ctx.get_all_messages()] == ["4", "new"]


def test_lowering_max_messages_applies_from_the_next_append():
    ctx = Context()
    for text in ("a", "b", "c"):
        ctx.add_user_message(text)
    ctx.max_messages = 1
    assert ctx.chat_history_len() == 3
    ctx.add_user_message("d")
    assert [m.content for m in ctx.get_all_messages()] == ["d"]


@pytest.mark.parametrize("bad", [-1, 1.5, True, "10"])
def test_max_messages_must_be_a_non_negative_int_or_none(bad):
    with pytest.raises(ValueError, match="max_messages"):
        Context(max_messages=bad)


def test_message_role_accepts_the_enum_or_its_exact_spelling():
    assert SerializableMessage("Assistant", "x").role is MessageRole.ASSISTANT
    assert SerializableMessage(MessageRole.SYSTEM, "x").role is MessageRole.SYSTEM
    with pytest.raises(ValueError):
        SerializableMessage("user", "x")
    with pytest.raises(TypeError, match="content must be str"):
        SerializableMessage("User", 3)  # type: ignore[arg-type]


def test_message_with_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        SerializableMessage("User", "x", datetime(2026, 1, 1))


# JSON ---------------------------------------------------------------------------------------


def test_to_dict_gives_exactly_the_contract_json():
    ctx = Context()
    ctx.set("insurance_type", "car")
    ctx.add_message("User", "hi", datetime(2026, 1, 1, tzinfo=timezone.utc))
    ctx.add_message("Assistant", "hello", datetime(2026, 1, 1, 0, 0, 1, 500, timezone.utc))
    assert ctx.to_json() == compact(
        {
            "data": {"insurance_type": "car"},
            "chat_history": {
                "messages": [
                    {"role": "User", "content": "hi", "timestamp": "2026-01-01T00:00:00Z"},
                    {
                        "role": "Assistant",
                        "content": "hello",
                        "timestamp": "2026-01-01T00:00:01.000500Z",
                    },
                ],
                "max_messages": 1000,
            },
        }
    )


def test_from_dict_then_to_dict_gives_back_the_same_json():
    stored = contract(
        [message("User", "a"), message("Assistant", "b"), message("System", "c")],
        data={"n": 1, "nested": {"list": [1, 2.5, None, True, "x"]}},
        max_messages=50,
    )
    assert Context.from_dict(stored).to_dict() == stored


def test_the_seed_example_json_round_trips_without_loss():
    ctx = Context.from_json(SEED_EXAMPLE_JSON)
    assert ctx.to_json() == compact(json.loads(SEED_EXAMPLE_JSON))
    assert ctx.get("claim_decision")["approved"] is True
    assert ctx.max_messages is None
    assert [m.role for m in ctx.get_all_messages()] == [MessageRole.USER, MessageRole.ASSISTANT]


def test_absent_max_messages_reads_as_unbounded():
    stored = {"data": {}, "chat_history": {"messages": []}}
    assert Context.from_dict(stored).max_messages is None


def test_non_ascii_text_is_written_as_utf8_not_escaped():
    ctx = Context()
    ctx.set("name", "Zoë ✓ 日本")
    assert '"Zoë ✓ 日本"' in ctx.to_json()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-10T12:34:56Z", datetime(2025, 6, 10, 12, 34, 56, tzinfo=timezone.utc)),
        ("2025-06-10T12:34:56.123Z", datetime(2025, 6, 10, 12, 34, 56, 123000, timezone.utc)),
        ("2025-06-10T12:34:56.123456Z", datetime(2025, 6, 10, 12, 34, 56, 123456, timezone.utc)),
        (
            "2025-06-10T12:34:56.123456789Z",
            datetime(2025, 6, 10, 12, 34, 56, 123456, timezone.utc),
        ),
        ("2025-06-10T14:34:56+02:00", datetime(2025, 6, 10, 12, 34, 56, tzinfo=timezone.utc)),
        (
            "2025-06-10T10:04:56.5-02:30",
            datetime(2025, 6, 10, 12, 34, 56, 500000, timezone.utc),
        ),
        ("2025-06-10T12:34:56.000001+00:00", datetime(2025, 6, 10, 12, 34, 56, 1, timezone.utc)),
    ],
)
def test_timestamps_with_0_3_6_9_digits_and_any_offset_are_read(text, expected):
    assert parse_timestamp(text) == expected
    ctx = Context.from_dict(contract([message(timestamp=text)]))
    assert ctx.get_all_messages()[0].timestamp == expected


def test_rust_nanosecond_timestamps_are_written_back_unchanged():
    stored = contract([message(timestamp="2025-06-10T12:34:56.123456789Z")])
    assert Context.from_dict(stored).to_json() == compact(stored)


def test_timestamps_with_an_offset_are_written_back_in_utc_with_z():
    stored = contract(
        [
            message(timestamp="2025-06-10T14:34:56.123456789+02:00"),
            message(timestamp="2025-06-10t12:34:56z"),
            message(timestamp="2025-12-31T23:30:00-01:00"),
        ]
    )
    written = [
        m["timestamp"] for m in Context.from_dict(stored).to_dict()["chat_history"]["messages"]
    ]
    assert written == [
        "2025-06-10T12:34:56.123456789Z",
        "2025-06-10T12:34:56Z",
        "2026-01-01T00:30:00Z",
    ]


def test_a_message_built_with_offset_text_is_written_in_utc():
    msg = SerializableMessage("User", "x", "2026-01-01T01:00:00+01:00")
    assert msg.to_dict()["timestamp"] == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "text", ["2016-12-31T23:59:60Z", "2017-01-01T00:59:60+01:00", "2016-12-31T23:59:60.5z"]
)
def test_a_leap_second_keeps_its_spelling_in_utc(text):
    written = canonical_timestamp(text)
    assert written.startswith("2016-12-31T23:59:60")
    assert written.endswith("Z")
    assert parse_timestamp(written) == datetime(2017, 1, 1, tzinfo=timezone.utc) + timedelta(
        microseconds=500000 if ".5" in text else 0
    )


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("0412-10-07T17:18:28.1851-06:29", "0412-10-07T23:47:28.1851Z"),
        ("0404-02-29T20:58:31.047609Z", "0404-02-29T20:58:31.047609Z"),
        ("0001-01-01T00:30:00+00:30", "0001-01-01T00:00:00Z"),
        ("0099-12-31T23:59:60z", "0099-12-31T23:59:60Z"),
    ],
)
def test_years_before_1000_keep_four_digits(text, written):
    assert canonical_timestamp(text) == written
    moment = parse_timestamp(text)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", format_timestamp(moment))
    assert parse_timestamp(format_timestamp(moment)) == moment


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_moment_outside_python_datetimes_range_is_a_clear_contract_error(text):
    with pytest.raises(ContextDeserializationError, match=r"messages\[0\]\.timestamp"):
        Context.from_dict(contract([message(timestamp=text)]))


def test_format_timestamp_writes_utc_with_z():
    plus_two = timezone(timedelta(hours=2))
    assert format_timestamp(datetime(2026, 1, 1, 2, 0, tzinfo=plus_two)) == "2026-01-01T00:00:00Z"
    assert (
        format_timestamp(datetime(2026, 1, 1, 0, 0, 0, 7, timezone.utc))
        == "2026-01-01T00:00:00.000007Z"
    )


def test_equal_contexts_compare_equal_and_copies_are_independent():
    ctx = Context()
    ctx.set("nested", {"a": [1]})
    ctx.add_user_message("x")
    copy = ctx.copy()
    assert copy == ctx
    copy.get("nested")["a"].append(2)
    assert ctx.get("nested") == {"a": [1]}
    assert copy != ctx


# Contract errors name the path ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"data": {}}, "chat_history: required field is missing"),
        ({"chat_history": {"messages": []}}, "data: required field is missing"),
        ([], "context: expected an object with data and chat_history, got a list"),
        ({"data": [], "chat_history": {"messages": []}}, "data: expected an object, got a list"),
        ({"data": {}, "chat_history": "x"}, "chat_history: expected an object, got a string"),
        ({"data": {}, "chat_history": {}}, "chat_history.messages: required field is missing"),
        (
            {"data": {}, "chat_history": {"messages": {"0": {}}}},
            "chat_history.messages: expected a list, got an object",
        ),
        (
            contract([], max_messages=-3),
            "chat_history.max_messages: expected an integer from 0 to 18446744073709551615 "
            "or null, got a number",
        ),
        (
            contract([], max_messages="10"),
            "chat_history.max_messages: expected an integer from 0 to 18446744073709551615 "
            'or null, got "10"',
        ),
        (
            contract([message(), message(), message(), message(role="user")]),
            'chat_history.messages[3].role: expected "User", "Assistant" or "System", got "user"',
        ),
        (
            contract([message(role=None)]),  # type: ignore[arg-type]
            'chat_history.messages[0].role: expected "User", "Assistant" or "System", got null',
        ),
        (
            contract([message(), "hello"]),
            "chat_history.messages[1]: expected an object, got a string",
        ),
        (
            contract([{"role": "User", "content": "x"}]),
            "chat_history.messages[0].timestamp: required field is missing",
        ),
        (
            contract([message(content=5)]),  # type: ignore[arg-type]
            "chat_history.messages[0].content: expected a string, got a number",
        ),
        (
            contract([message(timestamp="yesterday")]),
            "chat_history.messages[0].timestamp: expected an RFC 3339 timestamp such as "
            '2026-01-01T00:00:00Z, got "yesterday"',
        ),
        (
            contract([message(timestamp="2026-01-01 00:00:00")]),
            "chat_history.messages[0].timestamp: expected an RFC 3339 timestamp",
        ),
        (
            contract([message(timestamp="2026-02-30T00:00:00Z")]),
            "chat_history.messages[0].timestamp: expected an RFC 3339 timestamp",
        ),
        (
            contract([message(timestamp="2026-13-01T00:00:00Z")]),
            "chat_history.messages[0].timestamp: expected an RFC 3339 timestamp",
        ),
        (
            contract([message(timestamp=1767225600)]),  # type: ignore[arg-type]
            "chat_history.messages[0].timestamp: expected an RFC 3339 timestamp",
        ),
    ],
)
def test_json_that_breaks_the_contract_raises_an_error_naming_the_path(value, expected):
    with pytest.raises(ContextDeserializationError) as caught:
        Context.from_dict(value)
    assert str(caught.value).startswith(expected)
    path = expected.split(":")[0]
    if path != "context":
        assert caught.value.path == path


@pytest.mark.parametrize(
    "text",
    [
        "\uff12\uff10\uff12\uff15-06-10T12:34:56Z",  # full-width digits
        "2025-06-10T12:34:\u0665\u0666Z",  # Arabic-Indic digits
        "2025-06-10T12:34:56.\u0967\u0968Z",  # Devanagari digits
        "2025-06-10T12:34:56+0\u0661:00",
    ],
)
def test_timestamps_with_non_ascii_digits_are_refused_as_rust_refuses_them(text):
    with pytest.raises(ContextDeserializationError, match=r"messages\[0\]\.timestamp"):
        Context.from_dict(contract([message(timestamp=text)]))
    with pytest.raises(ValueError):
        parse_timestamp(text)
    with pytest.raises(ValueError):
        SerializableMessage("User", "x", text)


def test_a_valid_leap_day_is_read_and_an_invalid_one_is_refused():
    assert Context.from_dict(contract([message(timestamp="2024-02-29T00:00:00Z")]))
    with pytest.raises(ContextDeserializationError, match=r"messages\[0\]\.timestamp"):
        Context.from_dict(contract([message(timestamp="2025-02-29T00:00:00Z")]))


def test_contract_errors_belong_to_the_storage_error_family():
    with pytest.raises(ContextDeserializationError) as caught:
        Context.from_dict({})
    assert isinstance(caught.value, ContextError)
    assert isinstance(caught.value, StorageError)
    assert isinstance(caught.value, ValueError)


def test_from_json_refuses_text_that_is_not_json_and_nan():
    with pytest.raises(ContextDeserializationError, match="not valid JSON"):
        Context.from_json("{")
    with pytest.raises(ContextDeserializationError, match="not valid JSON"):
        Context.from_json('{"data": {"x": NaN}, "chat_history": {"messages": []}}')


def test_to_json_refuses_values_json_cannot_hold_and_names_the_key():
    ctx = Context()
    ctx.set("when", datetime(2026, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(ContextSerializationError) as caught:
        ctx.to_json()
    assert caught.value.path == "data.when"
    assert "datetime is not JSON serializable" in str(caught.value)


# Round-trip property ------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)
timestamps = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(timezone.utc)
)
messages = st.builds(
    lambda role, content, moment: SerializableMessage(role, content, moment),
    st.sampled_from(list(MessageRole)),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
    timestamps,
)


@st.composite
def contexts(draw: st.DrawFn) -> Context:
    ctx = Context(max_messages=draw(st.none() | st.integers(min_value=0, max_value=5)))
    for key, value in draw(st.dictionaries(st.text(max_size=8), json_values, max_size=5)).items():
        if "\x00" not in key and not any(0xD800 <= ord(c) <= 0xDFFF for c in key):
            ctx.set(key, value)
    for msg in draw(st.lists(messages, max_size=8)):
        ctx.add_message(msg.role, msg.content, msg.timestamp)
    return ctx


@settings(max_examples=100, deadline=None)
@given(contexts())
def test_any_context_round_trips_through_json(ctx):
    text = ctx.to_json()
    again = Context.from_json(text)
    assert again == ctx
    assert again.to_json() == text
    assert again.max_messages == ctx.max_messages
    assert [m.timestamp for m in again.get_all_messages()] == [
        m.timestamp for m in ctx.get_all_messages()
    ]


@settings(max_examples=150, deadline=None)
@given(timestamps, st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59))
def test_any_formatted_timestamp_parses_back_to_the_same_moment(moment, offset_minutes):
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    assert parse_timestamp(format_timestamp(local)) == moment
    assert parse_timestamp(local.isoformat()) == moment
    written = canonical_timestamp(local.isoformat())
    assert written.endswith("Z")
    assert parse_timestamp(written) == moment
    assert canonical_timestamp(written) == written


# Import without Django ------------------------------------------------------------------------


def test_context_is_importable_and_usable_without_django_configured():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = (
        "import sys\n"
        "from graphflow_sessions.context import Context\n"
        "c = Context(); c.set('k', 1); c.add_user_message('hi')\n"
        "assert Context.from_json(c.to_json()) == c\n"
        "assert 'django.conf' not in sys.modules or not __import__('django.conf').conf"
        ".settings.configured\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_json_nested_past_the_parser_limit_is_a_contract_error_not_a_recursion_error() -> None:
    nested = "[" * 100_000 + "]" * 100_000
    deep = '{"data": {"x": ' + nested + '}, "chat_history": {"messages": []}}'
    with pytest.raises(ContextDeserializationError, match="nested too deeply"):
        Context.from_json(deep)


def test_a_message_content_stays_a_str_however_it_is_set() -> None:
    ctx = Context()
    ctx.add_user_message("hello")
    message = ctx.get_all_messages()[0]
    message.content = "edited"
    assert ctx.to_dict()["chat_history"]["messages"][0]["content"] == "edited"
    with pytest.raises(TypeError, match="message content must be str, got float"):
        message.content = float("nan")  # type: ignore[assignment]
    assert message.content == "edited"
