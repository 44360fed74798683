"""Export to JSON Lines and import back: filters, validation, upserts, exact round trips."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.utils import timezone

from graphflow_sessions.context import Context
from graphflow_sessions.models import Session
from graphflow_sessions.storage import DatabaseSessionStorage
from graphflow_sessions.transfer import (
    EXPORT_FIELDS,
    LineError,
    export_sessions,
    import_sessions,
    iter_export_lines,
)

storage = DatabaseSessionStorage()


def make_session(
    graph_id: str = "claims", task: str = "start", status: str | None = None, **data: Any
) -> uuid.UUID:
    context = Context()
    for key, value in data.items():
        context.set(key, value)
    context.add_user_message("I had a car accident")
    context.add_assistant_message("Sorry to hear that — what happened? 🚗")
    session = Session(graph_id=graph_id, current_task_id=task, status_message=status)
    session.context = context
    storage.save(session)
    return session.id


def set_times(session_id: uuid.UUID, **times: Any) -> None:
    Session.objects.filter(id=session_id).update(**times)


def raw_rows() -> list[tuple[Any, ...]]:
    """Every column of every row, the context as the database returns its text."""
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, graph_id, current_task_id, status_message, context, version "
            "FROM sessions ORDER BY id"
        )
        rows = [
            tuple(str(value) if i == 0 else value for i, value in enumerate(row)) for row in cursor
        ]
    times = {
        str(sid).replace("-", ""): (created, updated)
        for sid, created, updated in Session.objects.values_list("id", "created_at", "updated_at")
    }
    return [row + times[row[0].replace("-", "")] for row in rows]


def exported(**filters: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in iter_export_lines(**filters)]


def import_text(text: str, **options: Any) -> Any:
    return import_sessions(StringIO(text), **options)


def line(**overrides: Any) -> str:
    record = {
        "id": str(uuid.uuid4()),
        "graph_id": "claims",
        "current_task_id": "start",
        "status_message": None,
        "context": {"data": {}, "chat_history": {"messages": [], "max_messages": 1000}},
        "created_at": "2026-01-01T09:00:00.123456+00:00",
        "updated_at": "2026-01-02T09:00:00+00:00",
        "version": 3,
    }
    record.update(overrides)
    return json.dumps({key: value for key, value in record.items() if value is not ...})


# Export ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_export_writes_every_column_and_the_stored_context() -> None:
    session_id = make_session(status="waiting for the claim", insurance_type="car")
    stored = Session.objects.get(id=session_id)

    (record,) = exported()

    assert list(record) == list(EXPORT_FIELDS)
    assert record["id"] == str(session_id)
    assert record["graph_id"] == "claims"
    assert record["current_task_id"] == "start"
    assert record["status_message"] == "waiting for the claim"
    assert record["context"] == stored.raw_context
    assert datetime.fromisoformat(record["created_at"]) == stored.created_at
    assert datetime.fromisoformat(record["updated_at"]) == stored.updated_at
    assert record["created_at"].endswith("+00:00")
    assert record["version"] == 1


@pytest.mark.django_db
def test_export_writes_one_json_object_per_line() -> None:
    make_session()
    make_session()

    out = StringIO()
    count = export_sessions(out)

    text = out.getvalue()
    assert count == 2
    assert text.count("\n") == 2
    assert text.endswith("\n")
    assert all(json.loads(text_line)["graph_id"] == "claims" for text_line in text.splitlines())
    assert text.startswith('{"id":"')
    assert "🚗" in text  # UTF-8, not \\u escapes


@pytest.mark.django_db
def test_export_reads_every_row_across_chunks_in_id_order() -> None:
    ids = sorted(make_session() for _ in range(7))

    records = exported(chunk_size=3)

    assert [record["id"] for record in records] == [str(sid) for sid in ids]


@pytest.mark.django_db
def test_export_filters_by_graph_task_and_dates() -> None:
    now = timezone.now()
    claims_start = make_session("claims", "start")
    claims_done = make_session("claims", "done")
    chat = make_session("chat", "start")
    set_times(claims_start, created_at=now - timedelta(days=10), updated_at=now - timedelta(days=9))
    set_times(claims_done, created_at=now - timedelta(days=5), updated_at=now - timedelta(days=1))
    set_times(chat, created_at=now - timedelta(days=2), updated_at=now - timedelta(days=2))

    def ids(**filters: Any) -> set[str]:
        return {record["id"] for record in exported(**filters)}

    assert ids(graph_id="claims") == {str(claims_start), str(claims_done)}
    assert ids(task_id="done") == {str(claims_done)}
    assert ids(created_after=now - timedelta(days=6)) == {str(claims_done), str(chat)}
    assert ids(created_before=now - timedelta(days=5)) == {str(claims_start)}
    assert ids(updated_after=now - timedelta(days=1, seconds=1)) == {str(claims_done)}
    assert ids(updated_before=now - timedelta(days=3), graph_id="claims") == {str(claims_start)}


# Round trip --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_export_then_import_into_an_empty_table_reproduces_every_row() -> None:
    make_session(status="needs review", insurance_type="car", amount=950.5, tags=["a", "ü"])
    make_session("chat", "a::b::SmartClaimValidatorTask")
    unbounded = Session(graph_id="raw", current_task_id="x")
    unbounded.context = {
        "data": {"nested": {"deep": [1, None, True, "x"]}},
        "chat_history": {
            "messages": [
                {"role": "User", "content": "", "timestamp": "2025-06-10T12:34:56.123456789Z"}
            ],
            "max_messages": None,
        },
    }
    storage.save(unbounded)
    storage.save(unbounded)  # version 2
    unknown_created = make_session()
    set_times(unknown_created, created_at=None)
    before = raw_rows()
    out = StringIO()
    export_sessions(out)

    Session.objects.all().delete()
    result = import_text(out.getvalue())

    assert result.errors == []
    assert (result.created, result.updated) == (4, 0)
    assert raw_rows() == before


@pytest.mark.django_db
def test_import_replaces_an_existing_row_with_the_file_values() -> None:
    session_id = make_session()
    storage.save(storage.get(session_id))  # version 2, newer timestamps

    result = import_text(
        line(id=str(session_id), version=1, current_task_id="restored", graph_id="g")
    )

    stored = Session.objects.get(id=session_id)
    assert (result.created, result.updated) == (0, 1)
    assert (stored.version, stored.current_task_id, stored.graph_id) == (1, "restored", "g")
    assert stored.created_at == datetime(2026, 1, 1, 9, 0, 0, 123456, tzinfo=dt_timezone.utc)
    assert stored.updated_at == datetime(2026, 1, 2, 9, tzinfo=dt_timezone.utc)


@pytest.mark.django_db
def test_import_defaults_missing_optional_fields() -> None:
    session_id = uuid.uuid4()

    import_text(
        line(id=str(session_id), status_message=..., created_at=..., updated_at=..., version=...)
    )

    stored = Session.objects.get(id=session_id)
    assert (stored.status_message, stored.created_at, stored.updated_at, stored.version) == (
        None,
        None,
        None,
        0,
    )


@pytest.mark.django_db
def test_import_of_the_same_id_twice_keeps_the_later_line() -> None:
    session_id = str(uuid.uuid4())

    result = import_text(
        line(id=session_id, current_task_id="first")
        + "\n"
        + line(id=session_id, current_task_id="second")
    )

    assert result.errors == []
    assert Session.objects.get(id=session_id).current_task_id == "second"


@pytest.mark.django_db
def test_import_dry_run_counts_and_writes_nothing() -> None:
    existing = make_session()

    result = import_text(
        line(id=str(existing)) + "\n" + line() + "\n" + line(version="x"), dry_run=True
    )

    assert (result.created, result.updated, len(result.errors)) == (1, 1, 1)
    assert Session.objects.count() == 1
    assert Session.objects.get(id=existing).version == 1


# Bad lines ---------------------------------------------------------------------------------

_NUL = "\x00"
_LONE = "\ud800"  # half of a surrogate pair: json.dumps writes it as an escape


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("{not json", "line: not valid JSON"),
        ("[1, 2]", "expected a JSON object, got a list"),
        (line(id="not-a-uuid"), "id: invalid session id 'not-a-uuid'"),
        (line(id=...), "missing field(s): id"),
        (line(colour="red"), "unknown field(s): colour"),
        (line(graph_id=7), "graph_id: expected a string, got the number 7"),
        (line(status_message=f"a{_NUL}b"), "status_message: contains a NUL character"),
        (line(graph_id=f"a{_LONE}b"), "graph_id: contains a lone surrogate"),
        (line(current_task_id=f"a{_LONE}b"), "current_task_id: contains a lone surrogate"),
        (line(status_message=f"a{_LONE}b"), "status_message: contains a lone surrogate"),
        (line(graph_id="g" * 513), "graph_id: is 513 characters long; at most 512 can be"),
        (line(current_task_id="t" * 600), "current_task_id: is 600 characters long; at most"),
        (
            line(
                context={
                    "data": {},
                    "chat_history": {
                        "messages": [{"role": "user", "content": "hi", "timestamp": "x"}]
                    },
                }
            ),
            "context: chat_history.messages[0].role",
        ),
        (line(context={"data": {"k": f"{_NUL}"}, "chat_history": {"messages": []}}), "context:"),
        (line(context={"chat_history": {"messages": []}}), "context: data: required field"),
        (
            line(context={"data": {"n": [2**64]}, "chat_history": {"messages": []}}),
            ": data.n[0]: the integer 18446744073709551616 does not fit 64 bits",
        ),
        (
            line(context={"data": {}, "chat_history": {"messages": [], "max_messages": 2**64}}),
            "context: chat_history.max_messages: expected an integer from 0 to",
        ),
        (line(created_at="yesterday"), "created_at: expected an RFC 3339 timestamp"),
        (line(updated_at=5), "updated_at: expected an RFC 3339 timestamp or null"),
        (line(version=-1), "version: expected a whole number from 0, got the number -1"),
        (line(version=True), "version: expected a whole number from 0, got a boolean"),
        (line(version=2**63), "version: expected a whole number from 0"),
    ],
)
@pytest.mark.django_db
def test_a_bad_line_is_reported_with_its_number_and_not_written(bad: str, reason: str) -> None:
    good_before, good_after = str(uuid.uuid4()), str(uuid.uuid4())
    text = line(id=good_before) + "\n\n" + bad + "\n" + line(id=good_after) + "\n"

    result = import_text(text)

    (error,) = result.errors
    assert error.line == 3
    assert reason in error.reason
    assert result.created == 2
    assert {str(sid) for sid in Session.objects.values_list("id", flat=True)} == {
        good_before,
        good_after,
    }


@pytest.mark.django_db
def test_a_big_float_exported_as_an_integer_imports_again() -> None:
    # PostgreSQL exports the float 1e30 as the integer it equals; graph-flow reads it as 1e30.
    context = {"data": {"n": 10**30}, "chat_history": {"messages": [], "max_messages": 1000}}

    result = import_text(line(context=context) + "\n")

    assert (result.created, result.errors) == (1, [])
    assert Session.objects.get().context.get("n") == 10**30


@pytest.mark.django_db
def test_a_line_that_is_not_utf8_is_reported() -> None:
    result = import_sessions([line().encode(), b'{"id": "\xff"}\n'])

    assert [(e.line, e.reason.split(":")[0]) for e in result.errors] == [(2, "not UTF-8 text")]
    assert result.created == 1


@pytest.mark.django_db
def test_a_line_the_database_refuses_is_reported_and_the_rest_of_its_batch_written() -> None:
    connection = connections["default"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse_graph() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN IF NEW.graph_id = 'refused' THEN RAISE EXCEPTION 'graph is refused'; "
                "END IF; RETURN NEW; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON sessions "
                "FOR EACH ROW EXECUTE FUNCTION refuse_graph()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON sessions "
                "WHEN NEW.graph_id = 'refused' BEGIN SELECT RAISE(ABORT, 'graph is refused'); END"
            )
    lines = [line() for _ in range(3)] + [line(graph_id="refused")] + [line() for _ in range(3)]

    result = import_text("\n".join(lines), batch_size=10)

    assert [(e.line, "graph is refused" in e.reason) for e in result.errors] == [(4, True)]
    assert result.created == 6
    assert Session.objects.count() == 6
    assert not Session.objects.filter(graph_id="refused").exists()


# Commands ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_export_command_writes_a_file_and_reports_on_stderr(tmp_path: Path) -> None:
    make_session("claims")
    make_session("chat")
    target = tmp_path / "sessions.jsonl"
    out, err = StringIO(), StringIO()

    call_command(
        "graphflow_sessions_export", "--output", str(target), "--graph", "chat",
        stdout=out, stderr=err,
    )  # fmt: skip

    records = [json.loads(text) for text in target.read_text().splitlines()]
    assert [record["graph_id"] for record in records] == ["chat"]
    assert out.getvalue() == ""
    assert f"Exported 1 session to {target}" in err.getvalue()
    assert not (tmp_path / "sessions.jsonl.partial").exists()


@pytest.mark.django_db
def test_export_command_writes_to_stdout_by_default() -> None:
    session_id = make_session()
    out = StringIO()

    call_command("graphflow_sessions_export", "--created-after", "2000-01-01", stdout=out,
                 stderr=StringIO())  # fmt: skip

    assert [json.loads(text)["id"] for text in out.getvalue().splitlines()] == [str(session_id)]


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "2026-02-30T00:00:00"])
def test_export_command_rejects_a_bad_date(value: str) -> None:
    with pytest.raises(CommandError, match="--updated-before: "):
        call_command("graphflow_sessions_export", "--updated-before", value, stdout=StringIO())


@pytest.mark.django_db
def test_import_command_reports_bad_lines_and_fails_at_the_end(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(line() + "\n" + line(version=-5) + "\n" + line() + "\n")
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match="1 of 3 lines was rejected"):
        call_command("graphflow_sessions_import", str(source), stdout=out, stderr=err)

    assert "line 2: version: expected a whole number from 0" in err.getvalue()
    assert "Imported 2 sessions (2 new, 0 replaced) from 3 lines" in out.getvalue()
    assert Session.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("dry_run", [False, True], ids=["import", "dry run"])
def test_import_command_reports_a_lone_surrogate_and_goes_on(tmp_path: Path, dry_run: bool) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(line() + "\n" + line(graph_id=f"a{_LONE}b") + "\n" + line() + "\n")
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match="1 of 3 lines was rejected"):
        call_command(
            "graphflow_sessions_import",
            str(source),
            *(["--dry-run"] if dry_run else []),
            stdout=out,
            stderr=err,
        )

    assert "line 2: graph_id: contains a lone surrogate" in err.getvalue()
    verb = "Would import" if dry_run else "Imported"
    assert f"{verb} 2 sessions (2 new, 0 replaced) from 3 lines" in out.getvalue()
    assert Session.objects.count() == (0 if dry_run else 2)


@pytest.mark.django_db
def test_import_command_dry_run(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(line() + "\n")
    out = StringIO()

    call_command("graphflow_sessions_import", str(source), "--dry-run", stdout=out,
                 stderr=StringIO())  # fmt: skip

    assert "Would import 1 session (1 new, 0 replaced)" in out.getvalue()
    assert Session.objects.count() == 0


def test_import_command_says_when_the_file_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read"):
        call_command("graphflow_sessions_import", str(tmp_path / "missing.jsonl"))


def test_line_error_reads_as_a_sentence() -> None:
    assert str(LineError(12, "id: bad")) == "line 12: id: bad"


@pytest.mark.django_db
def test_a_context_stored_pretty_printed_is_still_exported_on_one_line() -> None:
    session_id = make_session()
    context = Session.objects.get(id=session_id).raw_context
    connection = connections["default"]
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE sessions SET context = %s{cast} WHERE id = %s",
            [
                json.dumps(context, indent=2),
                Session._meta.pk.get_db_prep_value(session_id, connection),
            ],
        )

    lines = list(iter_export_lines())

    assert len(lines) == 1 and lines[0].count("\n") == 1
    assert json.loads(lines[0])["context"] == context
