"""Expressions over the stored context, computed by the database so the context stays there.

A context can be megabytes; a list of sessions needs only the number of messages and the
start of the last one, a page of the messages endpoint fifty messages, the admin's search a
yes or no, and trimming only the rows whose history is over its limit. These expressions
compute each in SQL (PostgreSQL's jsonb operators and jsonpath, SQLite's JSON1 functions)
and send back a few bytes per row. Each is written for the databases named in its
docstring; on any other, compiling it raises NotImplementedError.

The reading ones survive contexts that break the contract (someone wrote them with raw
SQL): a ``messages`` that is not a list, a context that is not an object, or on SQLite text
that is not JSON at all give NULL (or no match) instead of an error, so one bad row never
breaks a page.

Use them in querysets (``Session.objects.annotate(count=MessageCount())``) or, in a
hand-written statement, through ``expression_sql``.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import (
    BooleanField,
    Expression,
    F,
    FloatField,
    Func,
    IntegerField,
    JSONField,
    Model,
    TextField,
)
from django.db.models.sql import Query

__all__ = [
    "PREVIEW_CHARS",
    "ROLE_CHARS",
    "TIMESTAMP_CHARS",
    "ContextContainsText",
    "HistoryLimit",
    "HistorySummary",
    "HistoryOverLimit",
    "LastMessageField",
    "MessageCount",
    "MessagesSlice",
    "StoredSize",
    "TrimmedHistory",
    "expression_sql",
    "like_pattern",
]

#: Characters of the last message sent back for a preview (cut in the database).
PREVIEW_CHARS = 200
#: Characters of the last message's role and timestamp sent back for a list.
ROLE_CHARS = 16
TIMESTAMP_CHARS = 64

_PG_MESSAGES = "({column} -> 'chat_history' -> 'messages')"
_PG_MAX_MESSAGES = "({column} -> 'chat_history' -> 'max_messages')"
_PG_MAX_MESSAGES_TEXT = "({column} -> 'chat_history' ->> 'max_messages')"
_SQLITE_MESSAGES = "'$.chat_history.messages'"


class _ContextFunc(Func):
    """A function of the context column whose SQL is written per database."""

    def __init__(self, context: Expression | str = "context", **extra: Any) -> None:
        super().__init__(F(context) if isinstance(context, str) else context, **extra)

    def _column(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        sql, params = compiler.compile(self.get_source_expressions()[0])
        return sql, list(params)

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} is not written for {connection.vendor}")

    def _sqlite_when_history_is_list(self, column: str, then: str) -> str:
        # Nested CASEs because SQLite does not promise to short-circuit AND, and json_type()
        # raises on text that is not JSON.
        return (
            f"CASE WHEN json_valid({column}) THEN CASE WHEN "
            f"json_type({column}, {_SQLITE_MESSAGES}) = 'array' THEN {then} END END"
        )


def expression_sql(model: type[Model], expression: Expression, using: str) -> tuple[str, list[Any]]:
    """``expression`` as SQL for the connection ``using``, its columns named by the table
    (``"sessions"."context"``), for a statement the ORM cannot write."""
    query = Query(model)
    sql, params = query.get_compiler(using=using).compile(expression.resolve_expression(query))
    return sql, list(params)


# Reading -----------------------------------------------------------------------------------


def _pg_count(messages: str) -> str:
    # NULL, not an error, when the stored history is not a list.
    return f"CASE WHEN jsonb_typeof({messages}) = 'array' THEN jsonb_array_length({messages}) END"


def _pg_last_field(messages: str, field: str, length: int) -> str:
    # ``-> -1`` on something that is not a list gives NULL, never an error.
    return f"LEFT({messages} -> -1 ->> '{field}', {int(length)})"


class MessageCount(_ContextFunc):
    """Number of chat messages, or NULL when the stored history is not a list.
    PostgreSQL and SQLite."""

    output_field = IntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = self._column(compiler, connection)
        return _pg_count(_PG_MESSAGES.format(column=column)), params * 2

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = self._column(compiler, connection)
        sql = self._sqlite_when_history_is_list(
            column, f"json_array_length({column}, {_SQLITE_MESSAGES})"
        )
        return sql, params * 3


class LastMessageField(_ContextFunc):
    """One field (``role``, ``content`` or ``timestamp``) of the last chat message as text,
    cut to ``length`` characters by the database. PostgreSQL and SQLite."""

    output_field = TextField()

    def __init__(
        self, field: str, context: Expression | str = "context", length: int = PREVIEW_CHARS
    ) -> None:
        if field not in ("role", "content", "timestamp"):
            raise ValueError(f"unknown message field {field!r}")
        super().__init__(context)
        self.message_field, self.length = field, int(length)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = self._column(compiler, connection)
        messages = _PG_MESSAGES.format(column=column)
        return _pg_last_field(messages, self.message_field, self.length), params

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = self._column(compiler, connection)
        path = f"'$.chat_history.messages[#-1].{self.message_field}'"
        value = f"substr(CAST(json_extract({column}, {path}) AS TEXT), 1, {self.length})"
        return self._sqlite_when_history_is_list(column, value), params * 4


class HistorySummary(_ContextFunc):
    """What a list shows of the history, as a JSON array: ``[message_count,
    last_message_role, last_message_preview, last_message_at]``, each as ``MessageCount``
    and ``LastMessageField`` compute it (cut to ``ROLE_CHARS``, ``PREVIEW_CHARS`` and
    ``TIMESTAMP_CHARS``). PostgreSQL and SQLite.

    On PostgreSQL the context is read once for all four: each of those expressions reads
    (and decompresses) the stored context again, four times per row, which is most of the
    cost of a list page of long sessions."""

    output_field = JSONField()

    #: The fields, in the array's order, with the characters kept of each.
    FIELDS = (("role", ROLE_CHARS), ("content", PREVIEW_CHARS), ("timestamp", TIMESTAMP_CHARS))

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = self._column(compiler, connection)
        # The subquery's OFFSET 0 keeps ``m`` one value, computed (read from TOAST and
        # decompressed) once, rather than the expression copied into every use.
        parts = [_pg_count("h.m"), *(_pg_last_field("h.m", f, n) for f, n in self.FIELDS)]
        sql = (
            f"(SELECT jsonb_build_array({', '.join(parts)}) "
            f"FROM (SELECT {_PG_MESSAGES.format(column=column)} AS m OFFSET 0) AS h)"
        )
        return sql, params

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        context = self.get_source_expressions()[0]
        parts = [MessageCount(context), *(LastMessageField(f, context, n) for f, n in self.FIELDS)]
        compiled = [compiler.compile(part) for part in parts]
        sql = f"json_array({', '.join(part_sql for part_sql, _ in compiled)})"
        return sql, [param for _, part_params in compiled for param in part_params]


class MessagesSlice(_ContextFunc):
    """``chat_history.messages[offset:offset + limit]`` as a JSON list: one page of the
    history, cut by the database. PostgreSQL and SQLite."""

    output_field = JSONField()

    #: Past the end of any history: a jsonb array holds at most 2**28 - 1 elements, a SQLite
    #: value at most 2**31 - 1 bytes. Bounds beyond it are cut to it, so that they fit the
    #: int parameters of either database and still select nothing past the end.
    PAST_ANY_END = 2**31 - 1

    def __init__(self, offset: int, limit: int, context: Expression | str = "context") -> None:
        super().__init__(context)
        self.offset, self.limit = int(offset), int(limit)

    def _bounds(self) -> tuple[int, int]:
        """The first index in the slice and the one after its last, cut to PAST_ANY_END."""
        first = min(self.offset, self.PAST_ANY_END)
        return first, min(first + self.limit, self.PAST_ANY_END)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = self._column(compiler, connection)
        # Lax mode: subscripts past the end give nothing rather than an error.
        sql = (
            f"jsonb_path_query_array({_PG_MESSAGES.format(column=column)}, "
            "'$[$first to $last]', jsonb_build_object('first', %s::int, 'last', %s::int), true)"
        )
        first, end = self._bounds()
        return sql, [*params, first, end - 1]

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = self._column(compiler, connection)
        sql = (
            "(SELECT json_group_array(json(m.value)) FROM "
            f"(SELECT value FROM json_each({column}, {_SQLITE_MESSAGES}) "
            "WHERE key >= %s AND key < %s ORDER BY key) AS m)"
        )
        return sql, [*params, *self._bounds()]


class HistoryLimit(_ContextFunc):
    """``chat_history.max_messages`` as a number, or NULL when the history is unbounded
    (null) or the stored value is not a number. PostgreSQL and SQLite."""

    output_field = FloatField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = self._column(compiler, connection)
        limit = _PG_MAX_MESSAGES.format(column=column)
        limit_text = _PG_MAX_MESSAGES_TEXT.format(column=column)
        return f"CASE WHEN jsonb_typeof({limit}) = 'number' THEN {limit_text}::float8 END", (
            params * 2
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = self._column(compiler, connection)
        path = "'$.chat_history.max_messages'"
        sql = (
            f"CASE WHEN json_valid({column}) THEN CASE WHEN json_type({column}, {path}) "
            f"IN ('integer', 'real') THEN json_extract({column}, {path}) END END"
        )
        return sql, params * 3


class StoredSize(Func):
    """Bytes a column takes on disk as stored (compressed, TOAST included), read from the
    value's header or TOAST pointer: a context is never decompressed or fetched from TOAST.
    PostgreSQL."""

    function = "pg_column_size"
    output_field = IntegerField()

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:
        if connection.vendor != "postgresql":
            raise NotImplementedError(f"StoredSize is not written for {connection.vendor}")
        return super().as_sql(compiler, connection, *args, **extra)


def like_pattern(text: str) -> str:
    """``%text%`` for LIKE/ILIKE, the wildcards in ``text`` escaped with a backslash."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ContextContainsText(_ContextFunc):
    """True when ``text`` occurs, ignoring case, in a chat message's content or in a string
    value of the data (keys, numbers, booleans, roles and timestamps do not count).
    PostgreSQL and SQLite.

    It reads every candidate context: on large tables, narrow with an indexed filter (graph,
    task, dates) first. Its work grows with the context's size only: one pass of the
    jsonpath engine per part, nothing expanded into rows (a data list of a million numbers
    once made a row per element, for minutes and gigabytes).
    """

    output_field = BooleanField()
    conditional = True

    def __init__(self, text: str, context: Expression | str = "context") -> None:
        super().__init__(context)
        self.text = text

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = self._column(compiler, connection)
        # Strings are matched inside the jsonpath engine (like_regex, flag q = the text is
        # literal, i = ignoring case): several times faster on long histories than
        # expanding every message into a row. like_regex is false on anything but a string,
        # so numbers and booleans never match. silent => true: a context in the wrong shape
        # matches nothing instead of failing.
        literal = json.dumps(self.text, ensure_ascii=False)
        in_messages = (
            f'strict $.chat_history.messages[*].content ? (@ like_regex {literal} flag "iq")'
        )
        in_data = f'strict $.data.** ? (@ like_regex {literal} flag "iq")'
        sql = (
            f"(jsonb_path_exists({column}, %s::jsonpath, '{{}}', true)"
            f" OR jsonb_path_exists({column}, %s::jsonpath, '{{}}', true))"
        )
        return sql, [*params, in_messages, *params, in_data]

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = self._column(compiler, connection)
        sql = (
            f"(CASE WHEN json_valid({column}) THEN ("
            f"EXISTS (SELECT 1 FROM json_each({column}, {_SQLITE_MESSAGES}) AS m "
            "WHERE m.type = 'object' AND json_type(m.value, '$.content') = 'text' "
            "AND json_extract(m.value, '$.content') LIKE %s ESCAPE '\\')"
            f" OR EXISTS (SELECT 1 FROM json_tree({column}, '$.data') AS d "
            "WHERE d.type = 'text' AND d.atom LIKE %s ESCAPE '\\')"
            ") ELSE 0 END)"
        )
        pattern = like_pattern(self.text)
        return sql, [*params, *params, *params, pattern, *params, pattern]


# Trimming ----------------------------------------------------------------------------------


class HistoryOverLimit(_ContextFunc):
    """True when ``chat_history.messages`` is a list longer than ``chat_history.max_messages``
    (a number); false for an unbounded history (``max_messages`` null) and for a context in
    any other shape. PostgreSQL."""

    output_field = BooleanField()
    conditional = True

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = self._column(compiler, connection)
        messages = _PG_MESSAGES.format(column=column)
        limit = _PG_MAX_MESSAGES.format(column=column)
        limit_text = _PG_MAX_MESSAGES_TEXT.format(column=column)
        # CASE, so that jsonb_array_length never sees a non-list: SQL does not promise to
        # evaluate AND left to right.
        sql = (
            f"CASE WHEN jsonb_typeof({messages}) = 'array' "
            f"AND jsonb_typeof({limit}) = 'number' "
            f"THEN jsonb_array_length({messages}) > {limit_text}::numeric "
            "ELSE false END"
        )
        return sql, params * 4


class TrimmedHistory(_ContextFunc):
    """The context with only the newest ``max_messages`` messages of its history, in order;
    everything else kept as stored (``jsonb_set`` replaces ``chat_history.messages`` only).
    Meant for rows where ``HistoryOverLimit`` holds. PostgreSQL."""

    output_field = JSONField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = self._column(compiler, connection)
        messages = _PG_MESSAGES.format(column=column)
        limit_text = _PG_MAX_MESSAGES_TEXT.format(column=column)
        sql = (
            f"jsonb_set({column}, '{{chat_history,messages}}', COALESCE(("
            "SELECT jsonb_agg(m.value ORDER BY m.n) "
            f"FROM jsonb_array_elements({messages}) WITH ORDINALITY AS m(value, n) "
            f"WHERE m.n > jsonb_array_length({messages}) - {limit_text}::numeric"
            "), '[]'::jsonb))"
        )
        return sql, params * 4
