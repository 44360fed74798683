"""Admin benchmark: our session admin against the stock Django admin on the same table.

    createdb -h 127.0.0.1 -U postgres gfs_admin_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gfs_admin_bench \\
        python -m benchmarks.admin --n 20000 --context-bytes 2000

Loads ``--n`` sessions with ``benchmarks.loader.load_sessions`` (COPY) into an empty
``sessions`` table (``--reload`` empties it first), plus one session with a 10,000-message
history, then requests each page with Django's test Client as a logged-in superuser and
reports the median time, the SQL query count and the response size (the overview page
uncached: ``ADMIN_OVERVIEW_CACHE_SECONDS`` 0). The baseline, measured
in the same run on the same rows, is a stock ``ModelAdmin`` (``list_display`` of the columns
and a message count read from the context, ``list_filter``/``search_fields`` on the text
columns, ``date_hierarchy``): what a project gets by registering the model plainly.

The database in DATABASE_URL is migrated and written to: use one made for this.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import django

from .pages import (
    measure_pages,
    page_benchmark_arguments,
    prepare_table,
    require_postgres_url,
    result_cells,
    superuser_client,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

_naive_site: Any = None
urlpatterns: list[Any] = []


def _setup_urls() -> None:
    """The project's URLs plus the stock admin at /naive/ (this module is the URLconf)."""
    global _naive_site
    from django.contrib import admin
    from django.urls import path

    from graphflow_sessions.models import Session
    from tests.urls import urlpatterns as project_urls

    class StockSessionAdmin(admin.ModelAdmin):
        list_display = (
            "id",
            "graph_id",
            "current_task_id",
            "status_message",
            "messages",
            "created_at",
            "updated_at",
        )
        list_filter = ("graph_id", "current_task_id", "updated_at", "created_at")
        search_fields = ("id", "graph_id", "current_task_id", "status_message")
        date_hierarchy = "updated_at"
        ordering = ("-updated_at",)
        # Shown as one JSON blob ("raw JSON at best"); as an editable field it cannot even
        # render (the JSON form field cannot serialize a Context).
        readonly_fields = ("context",)

        @admin.display(description="messages")
        def messages(self, obj: Session) -> int:
            return obj.context.chat_history_len()

    _naive_site = admin.AdminSite(name="naive")
    _naive_site.register(Session, StockSessionAdmin)
    urlpatterns[:] = [*project_urls, path("naive/", _naive_site.urls)]


def main(argv: list[str] | None = None) -> int:
    parser = page_benchmark_arguments(
        __doc__.splitlines()[0], context_bytes=2_000, what="page", baseline="the stock admin"
    )
    args = parser.parse_args(argv)
    require_postgres_url()

    django.setup()
    from django.db import connection
    from django.test.utils import override_settings

    from graphflow_sessions.models import Session
    from tests.support.admin import chat_context

    _setup_urls()
    table = prepare_table(
        args.n, args.context_bytes, reload=args.reload, long_context=lambda: chat_context(10_000)
    )
    rows, table_size, long_id = table.rows, table.size, table.long_session_id
    with connection.cursor() as cursor:
        # A 1% sample of the pages; a small table may sample none, then all rows are read.
        cursor.execute(
            "SELECT coalesce((SELECT avg(pg_column_size(context)) FROM sessions "
            "TABLESAMPLE SYSTEM (1)), (SELECT avg(pg_column_size(context)) FROM sessions))::int"
        )
        (stored_context,) = cursor.fetchone()
    some = Session.objects.order_by("pk").values_list("pk", flat=True)[rows // 2]
    client = superuser_client()

    ours = "/admin/graphflow_sessions/session/"
    naive = "/naive/graphflow_sessions/session/"
    pages = [
        ("list", "", ""),
        ("filtered list (graph)", "?graph_id=billing", "?graph_id__exact=billing"),
        (
            "filtered list (task + month)",
            f"?current_task_id=completed&updated_at__year={time.gmtime().tm_year}",
            f"?current_task_id__exact=completed&updated_at__year={time.gmtime().tm_year}",
        ),
        ("search: id prefix", f"?q={str(some)[:8]}", f"?q={str(some)[:8]}"),
        ("search: common word in one graph", "?graph_id=tenant-03&q=windscreen", None),
        ("search: common word (newest sessions)", "?q=windscreen", None),
        ("search: absent word (reads the whole window)", "?q=zebra", None),
        ("detail (typical context)", f"{some}/change/", f"{some}/change/"),
        ("detail (10,000 messages)", f"{long_id}/change/", f"{long_id}/change/"),
        ("detail (10,000 messages, newest page)", f"{long_id}/change/?transcript_page=last", None),
        # The stock admin has no overview: its reference is our own list, timed above.
        ("overview, 30 days (uncached)", "overview/", None),
        ("overview, 90 days (uncached)", "overview/?days=90", None),
    ]
    # Uncached overview, with retention rules so its prune preview has work to do.
    overview_settings = {
        "ADMIN_OVERVIEW_CACHE_SECONDS": 0,
        "RETENTION_DAYS": 180,
        "RETENTION_DAYS_BY_GRAPH": {"billing": 90},
    }
    with override_settings(
        ROOT_URLCONF=__name__, DEBUG=False, GRAPHFLOW_SESSIONS=overview_settings
    ):
        results = measure_pages(
            client,
            pages,
            ours=ours,
            baseline=naive,
            label="page",
            baseline_key="stock",
            repeat=args.repeat,
            skip_baseline=args.skip_baseline,
        )

    print(
        f"\n{rows:,} sessions, contexts ~{args.context_bytes:,} bytes as JSON "
        f"({stored_context:,} bytes stored on average), table {table_size}; "
        f"median of {args.repeat} requests\n"
    )
    print(
        "| page | ours ms | of which SQL ms | queries | KB "
        "| stock admin ms | of which SQL ms | queries | KB | stock / ours |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in results:
        print(f"| {row['page']} | {result_cells(row['ours'], row.get('stock'))} |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(
                {"rows": rows, "context_bytes": args.context_bytes, "results": results},
                handle,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
