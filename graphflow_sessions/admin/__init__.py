"""The Django admin for graph-flow sessions: a fast list and a readable transcript.

Read-only by default (sessions are written by machines); ``ADMIN_ALLOW_EDITS`` turns on
adding and changing with a form that validates the context against the graph-flow
contract. Deleting needs the delete permission.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import PAGE_VAR, SEARCH_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import truncatechars
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..conf import app_settings
from ..exceptions import SearchTimedOut
from ..models import Session
from ..routers import list_database, sessions_database
from ..search.ids import names_an_id
from ..search.limits import bounded
from ..search.sessions import SessionSearch, matching_messages, search_sessions
from ..search.terms import parse_query
from ..storage import DatabaseSessionStorage
from ..templatetags.graphflow_sessions_time import session_time
from . import export, live
from .changelist import SessionChangeList
from .facets import BoundedDateFieldListFilter
from .filters import GraphFilter, TaskFilter
from .forms import SessionForm
from .overview_page import overview_view
from .paginator import BoundedCountPaginator
from .transcript import (
    PAGE_PARAMETER,
    ROLE_LABELS,
    ROLES_BY_NAME,
    data_entries,
    pretty_json,
    transcript_page,
)

__all__ = ["SessionAdmin"]

#: Characters of the status message shown in the list (the full text is in the tooltip).
STATUS_CHARS = 60
#: Characters of the last message shown in the list.
PREVIEW_CHARS = 80


def breakable_task_id(task_id: str) -> SafeString:
    """A Rust type path that may wrap after each ``::`` (each part escaped)."""
    parts = task_id.split("::")
    return format_html_join(mark_safe("::<wbr>"), "{}", ((part,) for part in parts))


def task_name(task_id: str) -> str:
    """The last part of a task path (after the last ``::`` or ``/``): what tells tasks apart
    in a narrow column."""
    return task_id.rsplit("::", 1)[-1].rsplit("/", 1)[-1] or task_id


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    form = SessionForm
    list_display = (
        "short_id",
        "graph",
        "task",
        "status",
        "messages_count",
        "last_message",
        "created",
        "updated",
    )
    list_display_links = ("short_id",)
    list_filter = (
        GraphFilter,
        TaskFilter,
        ("updated_at", BoundedDateFieldListFilter),
        ("created_at", BoundedDateFieldListFilter),
    )
    date_hierarchy = "updated_at"
    ordering = ("-updated_at",)
    search_fields = ("id", "graph_id", "current_task_id", "status_message")
    search_help_text = _(
        "A session id (whole, or its first 8+ hex digits), or words that must all occur in "
        "the graph, task, status message, chat messages or data text: quok* for a prefix, "
        '"refund policy" for a phrase. Case and accents are ignored.'
    )
    paginator = BoundedCountPaginator
    show_full_result_count = False

    @property
    def show_facets(self) -> admin.ShowFacets:  # type: ignore[override]
        # Read at request time, so the setting (and override_settings) applies at once.
        return admin.ShowFacets.ALLOW if app_settings.ADMIN_SHOW_FACETS else admin.ShowFacets.NEVER

    list_per_page = 100
    actions = ("export_json", "export_json_lines", "export_markdown", "export_text")
    readonly_fields = (
        "id",
        "current_task_display",
        "status_display",
        "created",
        "updated",
        "version",
    )
    change_form_template = "admin/graphflow_sessions/session/change_form.html"

    class Media:
        css = {"all": ("graphflow_sessions/admin.css",)}
        js = ("graphflow_sessions/transcript.js",)

    # Permissions ------------------------------------------------------------------------

    def edits_allowed(self) -> bool:
        return bool(app_settings.ADMIN_ALLOW_EDITS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.edits_allowed() and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.edits_allowed() and super().has_change_permission(request, obj)

    # Writes -----------------------------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Session, form: Any, change: bool) -> None:
        # The storage writes the row: a new session is created (never over a stored one), an
        # edited one saved only if still at the version the editor read.
        storage = DatabaseSessionStorage(using=sessions_database())
        if change:
            storage.save(obj, expected_version=form.cleaned_data.get("expected_version"))
        else:
            storage.create(obj)

    # List -------------------------------------------------------------------------------

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[SessionChangeList]:
        return SessionChangeList

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        if getattr(request, "gfs_search_stopped", False):
            return queryset.none(), False
        search = search_sessions(queryset, search_term)
        request.gfs_search = search  # type: ignore[attr-defined]
        return search.queryset, False

    def get_paginator(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        paginator = super().get_paginator(request, *args, **kwargs)
        search: SessionSearch | None = getattr(request, "gfs_search", None)
        if isinstance(paginator, BoundedCountPaginator) and search and search.walks_list:
            try:
                paginator.walked_to_page = int(request.GET.get(PAGE_VAR, 1))
            except ValueError:
                paginator.walked_to_page = 1  # as the list itself reads a bad page number
        return paginator

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        # A POST is an action (delete...) on the selected rows: not a search to cut short.
        if request.method != "GET" or not request.GET.get(SEARCH_VAR, "").strip():
            return super().changelist_view(request, extra_context)
        try:
            # Every query of the page (search, count, rows, drill-down) runs inside the
            # bound, so the page is rendered here rather than after the view returns.
            with bounded(list_database()):
                response = super().changelist_view(request, extra_context)
                return self._with_search_notice(request, response)
        except SearchTimedOut as exc:
            request.gfs_search_stopped = True  # type: ignore[attr-defined]
            request.gfs_search_error = exc  # type: ignore[attr-defined]
            response = super().changelist_view(request, extra_context)
            return self._with_search_notice(request, response)

    def _with_search_notice(self, request: HttpRequest, response: Any) -> Any:
        context = getattr(response, "context_data", None)
        if context is None:  # a redirect, or an action's file
            return response
        error = getattr(request, "gfs_search_error", None)
        search: SessionSearch | None = getattr(request, "gfs_search", None)
        if error is not None:
            context["gfs_search_error"] = _(
                "The search took longer than %(seconds)s seconds and was stopped, so nothing "
                "is listed. Narrow it with a filter (graph, task, date) or more words."
            ) % {"seconds": f"{error.seconds:g}"}
        elif search is not None and not search.complete:
            context["gfs_search_notice"] = search.describe()
        response.render()
        return response

    def response_action(
        self, request: HttpRequest, queryset: QuerySet[Any], *args: Any, **kwargs: Any
    ) -> Any:
        # The list reads the replica; actions (delete above all) act on the primary.
        return super().response_action(
            request, queryset.using(sessions_database()), *args, **kwargs
        )

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        if isinstance(objs, QuerySet):
            objs = objs.defer("context")  # the confirmation page lists ids, not contexts
        return super().get_deleted_objects(objs, request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        queryset.defer("context").delete()

    def action_checkbox(self, obj: Session) -> SafeString:
        # Django's own renders a form widget through the template engine for every row
        # (~0.3 ms each, 30 ms of a 100-row page); this is the same element, formatted.
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            format_html(str(_("Select this object for an action - {}")), str(obj)),
        )

    @admin.display(description=_("id"), ordering="id")
    def short_id(self, obj: Session) -> SafeString:
        full = str(obj.pk)
        return format_html('<code class="gfs-id" title="{}">{}</code>', full, full[:8])

    @admin.display(description=_("graph"))
    def graph(self, obj: Session) -> SafeString:
        return format_html(
            '<span class="gfs-graph gfs-clamp" title="{}">{}</span>', obj.graph_id, obj.graph_id
        )

    @admin.display(description=_("current task"))
    def task(self, obj: Session) -> SafeString:
        return format_html(
            '<span class="gfs-task gfs-clamp" title="{}">{}</span>',
            obj.current_task_id,
            task_name(obj.current_task_id),
        )

    @admin.display(description=_("status message"))
    def status(self, obj: Session) -> SafeString | str:
        text = obj.status_message
        if not text:
            return "-"
        return format_html(
            '<span class="gfs-status gfs-clamp" title="{}">{}</span>',
            text,
            truncatechars(text, STATUS_CHARS),
        )

    @admin.display(description=_("messages"))
    def messages_count(self, obj: Session) -> Any:
        count = getattr(obj, "message_count", None)
        return "?" if count is None else count

    @admin.display(description=_("last message"))
    def last_message(self, obj: Session) -> SafeString | str:
        preview = getattr(obj, "last_message_preview", None)
        if preview is None:
            return "-"
        role = getattr(obj, "last_message_role", None) or "?"
        label = ROLE_LABELS.get(ROLES_BY_NAME.get(role), role)  # type: ignore[arg-type]
        return format_html(
            '<span class="gfs-preview gfs-clamp">'
            '<span class="gfs-role-badge gfs-role-{}">{}</span> <span title="{}">{}</span></span>',
            role.lower(),
            label,
            preview,
            truncatechars(preview.replace("\n", " "), PREVIEW_CHARS),
        )

    @admin.display(
        description=Session._meta.get_field("created_at").verbose_name, ordering="created_at"
    )
    def created(self, obj: Session) -> SafeString | str:
        return session_time(obj.created_at)

    @admin.display(
        description=Session._meta.get_field("updated_at").verbose_name, ordering="updated_at"
    )
    def updated(self, obj: Session) -> SafeString | str:
        return session_time(obj.updated_at)

    # One session ------------------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        editing = (
            self.has_change_permission(request, obj) if obj else self.has_add_permission(request)
        )
        if editing:
            main = ["graph_id", "current_task_id", "status_message", "context_json"]
            main += ["expected_version"] if obj else []
        else:
            main = ["graph_id", "current_task_display", "status_display"]
        if obj is None:
            return [(None, {"fields": main})]
        return [
            (None, {"fields": ["id", *main]}),
            (
                _("Bookkeeping"),
                {"fields": ["created", "updated", "version"], "classes": ["collapse"]},
            ),
        ]

    @admin.display(description=_("current task"))
    def current_task_display(self, obj: Session) -> SafeString:
        return format_html(
            '<strong class="gfs-big">{}</strong>', breakable_task_id(obj.current_task_id)
        )

    @admin.display(description=_("status message"))
    def status_display(self, obj: Session) -> SafeString | str:
        if obj.status_message is None:
            return "-"
        return format_html('<span class="gfs-big gfs-pre">{}</span>', obj.status_message)

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("overview/", wrap(self.overview_view), name="{}_{}_overview".format(*info)),
            path(
                "<path:object_id>/raw/",
                wrap(self.raw_context_view),
                name="{}_{}_raw".format(*info),
            ),
            path(
                "<path:object_id>/live/",
                wrap(self.live_view),
                name="{}_{}_live".format(*info),
            ),
            path(
                "<path:object_id>/transcript.<str:kind>",
                wrap(self.transcript_view),
                name="{}_{}_transcript".format(*info),
            ),
            *super().get_urls(),
        ]

    def overview_view(self, request: HttpRequest) -> HttpResponse:
        return overview_view(self, request)

    def _viewable_object(self, request: HttpRequest, object_id: str) -> Session | None:
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_view_permission(request, obj):
            return None
        return obj

    def _missing(self, request: HttpRequest, object_id: str) -> HttpResponse:
        raise Http404(_("No session with id %(id)s.") % {"id": object_id})

    def raw_context_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._viewable_object(request, object_id)
        if obj is None:
            return self._missing(request, object_id)
        return export.raw_context_response(obj, download="download" in request.GET)

    def live_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The messages added since the page was drawn (``live.py``); the change page's
        checks: the view permission, and the session among those the admin shows."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        queryset = self.get_queryset(request)
        obj = live.find(queryset, object_id)
        if obj is None:
            return self._missing(request, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        return live.tail_response(request, queryset, obj)

    def transcript_view(self, request: HttpRequest, object_id: str, kind: str) -> HttpResponse:
        obj = self._viewable_object(request, object_id)
        if obj is None:
            return self._missing(request, object_id)
        if kind not in ("md", "txt"):
            return HttpResponse(status=404)
        error = obj.context_error
        if error is not None:
            self.message_user(
                request,
                _(
                    "This session's context breaks the graph-flow contract (%(error)s); "
                    "download the raw JSON instead."
                )
                % {"error": error},
                messages.ERROR,
            )
            return HttpResponseRedirect(
                reverse(
                    f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                    args=[obj.pk],
                    current_app=self.admin_site.name,
                )
            )
        return export.transcript_response(obj, kind)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        if obj is not None and obj.pk is not None:
            context.update(self.session_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def session_context(self, request: HttpRequest, obj: Session) -> dict[str, Any]:
        info = self.opts.app_label, self.opts.model_name
        urls = {
            "raw": reverse("admin:{}_{}_raw".format(*info), args=[obj.pk]),
            "markdown": reverse("admin:{}_{}_transcript".format(*info), args=[obj.pk, "md"]),
            "text": reverse("admin:{}_{}_transcript".format(*info), args=[obj.pk, "txt"]),
        }
        error = obj.context_error
        if error is not None:
            raw_json, truncated = pretty_json(obj.raw_context, limit=100_000)
            return {
                "gfs_urls": urls,
                "gfs_context_error": str(error),
                "gfs_raw_json": raw_json,
                "gfs_raw_truncated": truncated,
            }
        context = obj.context
        query = None
        matches: list[int] = []
        search_text = self.search_text(request)
        if search_text and not names_an_id(search_text):
            query = parse_query(search_text) or None
            if query is not None:
                matches = matching_messages(obj, query)
        page = transcript_page(context, request.GET.get(PAGE_PARAMETER), query, matches)
        live_url = reverse("admin:{}_{}_live".format(*info), args=[obj.pk])
        return {
            "gfs_urls": urls,
            "gfs_transcript": page,
            "gfs_live": live.page_state(
                live_url,
                obj,
                context.get_all_messages(),
                first=page.first_number,
                newest=page.number == page.num_pages,
            ),
            "gfs_page_parameter": PAGE_PARAMETER,
            "gfs_max_messages": context.max_messages,
            "gfs_data": data_entries(context.data),
        }

    def search_text(self, request: HttpRequest) -> str:
        """The search a session page was opened with: ``?q=``, or the list's query that the
        admin carries in ``_changelist_filters``."""
        text = request.GET.get(SEARCH_VAR)
        if text is None:
            carried = parse_qs(request.GET.get("_changelist_filters", ""))
            text = (carried.get(SEARCH_VAR) or [""])[0]
        return text.strip()

    # Actions ----------------------------------------------------------------------------

    @admin.action(description=_("Export selected sessions as JSON"), permissions=["view"])
    def export_json(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        return export.export_json(queryset)

    @admin.action(
        description=_("Export selected sessions as JSON Lines (one per line)"),
        permissions=["view"],
    )
    def export_json_lines(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        return export.export_json_lines(queryset)

    def _one_transcript(self, request: HttpRequest, queryset: QuerySet[Any], kind: str) -> Any:
        ids = list(queryset.values_list("pk", flat=True)[:2])
        if len(ids) != 1:
            self.message_user(
                request,
                ngettext(
                    "Select exactly one session to export its transcript (%(count)d selected).",
                    "Select exactly one session to export its transcript (%(count)d selected).",
                    len(ids),
                )
                % {"count": len(ids) if len(ids) < 2 else queryset.count()},
                messages.WARNING,
            )
            return None
        return HttpResponseRedirect(
            reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_transcript",
                args=[ids[0], kind],
                current_app=self.admin_site.name,
            )
        )

    @admin.action(description=_("Export the selected transcript as Markdown"), permissions=["view"])
    def export_markdown(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        return self._one_transcript(request, queryset, "md")

    @admin.action(
        description=_("Export the selected transcript as plain text"), permissions=["view"]
    )
    def export_text(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        return self._one_transcript(request, queryset, "txt")
