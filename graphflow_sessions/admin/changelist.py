"""The session list: read from the list database, never load the context, fill in the
message counts and previews for the shown page with one more query."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest

from ..models import Session
from ..routers import list_database
from ..search.sessions import SessionSearch


class SessionChangeList(ChangeList):
    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet[Any]:
        # PostgreSQL cannot take a NUL character in a text parameter, and no stored text holds
        # one: such a filter value is an invalid lookup, as a malformed date is, whatever the
        # field or lookup, rather than an error from the database when the page is counted.
        for values in self.get_filters_params().values():
            if any("\x00" in value for value in values):
                raise IncorrectLookupParameters("a filter value contains a NUL character")
        # The admin list is a list-style read: the replica when one is configured.
        self.root_queryset = self.root_queryset.using(list_database()).defer("context")
        queryset = super().get_queryset(request, exclude_parameters)
        #: How the search (``SessionAdmin.get_search_results``) answered, for the pieces of
        #: the page that read more than its rows (the date drill-down).
        self.search: SessionSearch | None = getattr(request, "gfs_search", None)
        return queryset

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        rows = list(self.result_list)
        # Only the shown page's contexts are touched, whatever the ordering or filter.
        Session.objects.using(list_database()).summarize(rows)
        self.result_list = rows
