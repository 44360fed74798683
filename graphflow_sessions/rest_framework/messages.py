"""One page of a session's chat history, cut by the database.

A history can hold thousands of messages; a page needs fifty. On PostgreSQL the slice is a
jsonpath subscript and on SQLite a ``json_each`` range, so only the page (and the count,
``summaries.MessageCount``) leaves the database, not the whole context.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F, Func, JSONField


class MessagesSlice(Func):
    """``chat_history.messages[offset:offset + limit]`` as a JSON list."""

    output_field = JSONField()

    def __init__(self, offset: int, limit: int, context: str = "context") -> None:
        super().__init__(F(context))
        self.offset, self.limit = int(offset), int(limit)

    def _column(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        sql, params = compiler.compile(self.get_source_expressions()[0])
        return sql, list(params)

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:
        raise NotImplementedError(f"MessagesSlice is not written for {connection.vendor}")

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = self._column(compiler, connection)
        # Lax mode: subscripts past the end give nothing rather than an error.
        sql = (
            f"jsonb_path_query_array({column} -> 'chat_history' -> 'messages', "
            "'$[$first to $last]', jsonb_build_object('first', %s::int, 'last', %s::int), true)"
        )
        return sql, [*params, self.offset, self.offset + self.limit - 1]

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = self._column(compiler, connection)
        sql = (
            "(SELECT json_group_array(json(m.value)) FROM "
            f"(SELECT value FROM json_each({column}, '$.chat_history.messages') "
            "WHERE key >= %s AND key < %s ORDER BY key) AS m)"
        )
        return sql, [*params, self.offset, self.offset + self.limit]
