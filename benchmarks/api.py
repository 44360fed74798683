"""REST API benchmark: list and retrieve on a large table, against a plain DRF viewset.

    createdb -h 127.0.0.1 -U postgres gfs_api_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gfs_api_bench \\
        python -m benchmarks.api --n 1000000 --context-bytes 1000

Loads ``--n`` sessions with ``benchmarks.loader.load_sessions`` (COPY) into an empty
``sessions`` table (``--reload`` empties it first), plus one session with a 10,000-message
history, then requests each endpoint with DRF's test client as a staff user and reports
the median time, the SQL query count, the SQL time and the response size. The baseline,
measured in the same run on the same rows, is what a project gets by writing the API
plainly: a ``ModelViewSet`` with a ``ModelSerializer`` (message count read from the loaded
context), DRF's PageNumberPagination (a COUNT per page) ordered by ``-updated_at``, and
django-filter ``filterset_fields`` with a ``context__data__...`` key lookup.

The database in DATABASE_URL is migrated and written to: use one made for this.
"""

from __future__ import annotations

import json
import os
import statistics
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
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

urlpatterns: list[Any] = []


def _setup_urls() -> None:
    """The project's URLs plus the plain viewset at /plain/ (this module is the URLconf)."""
    import django_filters
    from django.urls import include, path
    from rest_framework import pagination, permissions, serializers, viewsets
    from rest_framework.routers import SimpleRouter

    from graphflow_sessions.models import Session
    from tests.urls import urlpatterns as project_urls

    class PlainListSerializer(serializers.ModelSerializer):
        message_count = serializers.SerializerMethodField()

        class Meta:
            model = Session
            exclude = ("context",)

        def get_message_count(self, obj: Session) -> int:
            return obj.context.chat_history_len()

    class PlainSerializer(serializers.ModelSerializer):
        context = serializers.SerializerMethodField()

        class Meta:
            model = Session
            fields = "__all__"

        def get_context(self, obj: Session) -> Any:
            return obj.raw_context

    class PlainFilter(django_filters.FilterSet):
        session_id = django_filters.CharFilter(field_name="context__data__session_id")

        class Meta:
            model = Session
            fields = ("graph_id", "current_task_id")

    class Pages(pagination.PageNumberPagination):
        page_size = 50

    class PlainViewSet(viewsets.ModelViewSet):
        queryset = Session.objects.order_by("-updated_at")
        permission_classes = [permissions.IsAdminUser]
        pagination_class = Pages
        filterset_class = PlainFilter

        def get_serializer_class(self) -> Any:
            return PlainListSerializer if self.action == "list" else PlainSerializer

    from django_filters.rest_framework import DjangoFilterBackend

    PlainViewSet.filter_backends = [DjangoFilterBackend]
    router = SimpleRouter()
    router.register("sessions", PlainViewSet, basename="plain-session")
    urlpatterns[:] = [*project_urls, path("plain/", include(router.urls))]


def _append(client: Any, url: str, repeat: int) -> dict[str, Any]:
    times = []
    for index in range(repeat):
        start = time.perf_counter()
        response = client.post(url, {"role": "User", "content": f"bench {index}"}, format="json")
        times.append(time.perf_counter() - start)
        if response.status_code != 201:
            raise SystemExit(f"{url}: HTTP {response.status_code}")
    return {"url": url, "median_ms": round(statistics.median(times) * 1000, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = page_benchmark_arguments(
        __doc__.splitlines()[0], context_bytes=1_000, what="endpoint", baseline="the plain API"
    )
    args = parser.parse_args(argv)
    require_postgres_url()

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test.utils import override_settings
    from rest_framework.test import APIClient

    from graphflow_sessions.context import Context
    from graphflow_sessions.models import Session
    from graphflow_sessions.rest_framework.pagination import SessionCursorPagination

    _setup_urls()

    def long_context() -> Context:
        context = Context(max_messages=None)
        for index in range(10_000):
            context.add_message("User" if index % 2 == 0 else "Assistant", f"message {index}")
        return context

    table = prepare_table(args.n, args.context_bytes, reload=args.reload, long_context=long_context)
    rows, table_size, long_id = table.rows, table.size, table.long_session_id
    middle = Session.objects.order_by("-updated_at", "-id").values("updated_at", "id")[rows // 2]
    deep_cursor = SessionCursorPagination()._encode((middle["updated_at"], middle["id"], False))
    some = middle["id"]
    user_model = get_user_model()
    user = user_model.objects.filter(username="api-bench").first() or (
        user_model.objects.create_user("api-bench", is_staff=True)
    )
    client = APIClient()
    client.force_login(user)

    ours, plain = "/api/sessions/", "/plain/sessions/"
    endpoints = [
        ("list, first page", "", ""),
        ("list, page in the middle of the table", f"?cursor={deep_cursor}", f"?page={rows // 100}"),
        ("list, one graph (5%)", "?graph=billing", "?graph_id=billing"),
        ("list, data filter (one row)", f"?data.session_id={some}", f"?session_id={some}"),
        ("list, data filter + graph", "?data.insurance_type=car&graph=tenant-03", None),
        ("retrieve (typical context)", f"{some}/", f"{some}/"),
        ("retrieve (10,000 messages)", f"{long_id}/", f"{long_id}/"),
        ("messages, one page of 10,000", f"{long_id}/messages/?offset=9950&limit=50", None),
        ("data (10,000-message session)", f"{long_id}/data/", None),
    ]
    with override_settings(ROOT_URLCONF=__name__, DEBUG=False):
        results = measure_pages(
            client,
            endpoints,
            ours=ours,
            baseline=plain,
            label="endpoint",
            baseline_key="plain",
            repeat=args.repeat,
            skip_baseline=args.skip_baseline,
            counted=lambda sql: "sessions" in sql,  # not the auth and session lookups
        )
        appended = _append(client, f"{ours}{some}/messages/", args.repeat)

    print(
        f"\n{rows:,} sessions, contexts ~{args.context_bytes:,} bytes as JSON, table "
        f"{table_size}; median of {args.repeat} requests; 'queries' counts SQL on sessions\n"
    )
    print(
        "| endpoint | ours ms | SQL ms | queries | KB "
        "| plain DRF ms | SQL ms | queries | KB | plain / ours |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in results:
        print(f"| {row['endpoint']} | {result_cells(row['ours'], row.get('plain'))} |")
    print(f"\nappend one message (typical session): {appended['median_ms']} ms median")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(
                {
                    "rows": rows,
                    "context_bytes": args.context_bytes,
                    "results": results,
                    "append": appended,
                },
                handle,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
