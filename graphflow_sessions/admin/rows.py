"""The session list's rows, written directly.

Django's ``items_for_result`` looks every column up again for every row (which kind of
field, which link, which empty value, the change URL reversed and the preserved filters
merged into it) and costs ~0.7 ms a row here: 70 ms of a 100-row page, more than a search's
SQL. The list's columns are known (``SessionAdmin.list_display``: the action checkbox, then
display methods returning HTML), so this decides each column's cell once per page and
writes the same cells (``tests/admin/test_list.py`` compares them with Django's). A
list it was not written for (a popup, list_editable forms, another model admin's columns
that are fields) is left to Django.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.admin.templatetags.admin_list import ResultList, results
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import display_for_value
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ObjectDoesNotExist
from django.urls import NoReverseMatch
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString


@dataclass(frozen=True)
class _Column:
    render: Callable[[Any], Any]
    tag: str
    css: str
    empty: str
    links: bool


def _columns(cl: ChangeList) -> list[_Column] | None:
    """How each column's cell is written, or None when the list has a column whose cell
    Django writes by rules not repeated here (a model field, a boolean, no links)."""
    model_admin = cl.model_admin
    links = cl.list_display_links
    names = [name for name in cl.list_display if isinstance(name, str)]
    if not links or len(names) != len(cl.list_display):
        return None
    fields = {field.name for field in cl.opts.get_fields()} | {cl.opts.pk.attname}
    empty = model_admin.get_empty_value_display()
    columns, first_link = [], True
    for name in names:
        render = getattr(model_admin, name, None)
        if name in fields or name == "__str__" or not callable(render):
            return None
        if getattr(render, "boolean", False):
            return None
        tag = "td"
        if name in links and first_link:
            tag, first_link = "th", False
        css = "action-checkbox" if name == "action_checkbox" else f"field-{name}"
        columns.append(
            _Column(render, tag, css, getattr(render, "empty_value_display", empty), name in links)
        )
    return columns


def _query_of_change_urls(cl: ChangeList, result: Any) -> str:
    """What Django's list adds to each change URL: the list's filters, to return to them.
    The same for every row (the id is in the path)."""
    url = cl.url_for_result(result)
    preserved = add_preserved_filters(
        {"preserved_filters": cl.preserved_filters, "opts": cl.opts}, url
    )
    return preserved[len(url) :]


def _cells(cl: ChangeList, columns: list[_Column], query: str, result: Any) -> list[SafeString]:
    cells = []
    for column in columns:
        css = column.css
        try:
            value = column.render(result)
        except ObjectDoesNotExist:
            shown: Any = column.empty
        else:
            shown = display_for_value(value, column.empty)
            if isinstance(value, (datetime.date, datetime.time)):
                css += " nowrap"
        if column.links:
            shown = format_html('<a href="{}">{}</a>', cl.url_for_result(result) + query, shown)
        cells.append(
            SafeString(f'<{column.tag} class="{css}">{conditional_escape(shown)}</{column.tag}>')
        )
    return cells


def session_results(cl: ChangeList) -> Iterator[ResultList]:
    """The rows of ``cl``'s page, as Django's ``results`` gives them."""
    columns = _columns(cl)
    rows = list(cl.result_list)
    if columns is None or cl.is_popup or cl.formset or cl.to_field or not rows:
        yield from results(cl)
        return
    try:
        query = _query_of_change_urls(cl, rows[0])
    except NoReverseMatch:
        yield from results(cl)
        return
    for result in rows:
        yield ResultList(None, _cells(cl, columns, query, result))
