"""Everything from a session is shown as text: HTML in it never becomes markup."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.support.admin import XSS_IMG, XSS_SCRIPT, chat_context, insert_raw, make_session

pytestmark = pytest.mark.django_db

ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
ESCAPED_IMG = "&lt;img src=x onerror=alert(1)&gt;"


def _hostile_session():
    context = chat_context(0, data={XSS_SCRIPT: XSS_IMG, "nested": {"html": XSS_SCRIPT}})
    context.add_message("User", XSS_SCRIPT)
    context.add_message("Assistant", XSS_IMG)
    return make_session(
        graph_id=XSS_SCRIPT, task=f"tasks::{XSS_IMG}", status=XSS_SCRIPT, context=context
    )


def _assert_no_markup_from_session(html: str) -> None:
    assert XSS_SCRIPT not in html
    assert XSS_IMG not in html
    assert "onerror=alert(1)>" not in html


def test_list_escapes_every_session_value(admin_client):
    _hostile_session()
    html = admin_client.get(reverse("admin:graphflow_sessions_session_changelist")).content.decode()
    _assert_no_markup_from_session(html)
    assert ESCAPED_SCRIPT in html and ESCAPED_IMG in html


def test_detail_page_escapes_messages_data_and_fields(admin_client):
    session = _hostile_session()
    url = reverse("admin:graphflow_sessions_session_change", args=[session.pk])
    html = admin_client.get(url).content.decode()
    _assert_no_markup_from_session(html)
    assert f'<div class="gfs-content">{ESCAPED_SCRIPT}</div>' in html
    assert f'<div class="gfs-content">{ESCAPED_IMG}</div>' in html
    assert f"<code>{ESCAPED_SCRIPT}</code>" in html  # a data key


def test_broken_context_notice_escapes_the_raw_json_and_the_error(admin_client):
    session_id = insert_raw({"data": {}, "chat_history": {"messages": [{"role": XSS_SCRIPT}]}})
    url = reverse("admin:graphflow_sessions_session_change", args=[session_id])
    html = admin_client.get(url).content.decode()
    _assert_no_markup_from_session(html)
    assert "gfs-notice" in html
