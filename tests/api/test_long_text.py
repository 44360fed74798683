"""Graph and task ids over the limit the storage keeps (``sql.INDEXED_TEXT_CHARS``) are a
400 naming the field, on PostgreSQL and SQLite alike (random text: see
tests/storage/test_long_text.py)."""

from __future__ import annotations

import random
import string

import pytest

from graphflow_sessions.models import Session
from tests.support.api import APIClient, client_for, detail, make_session, stored, user

pytestmark = pytest.mark.django_db

TOO_LONG = "".join(random.Random(18).choices(string.ascii_letters + string.digits, k=3_000))
LIMIT = "Ensure this field has no more than 512 characters."


@pytest.fixture
def staff() -> APIClient:
    return client_for(user("staff", staff=True))


@pytest.mark.parametrize("field", ["graph_id", "current_task_id"])
def test_creating_with_an_overlong_id_is_400_naming_the_field(staff: APIClient, field: str) -> None:
    body = {"graph_id": "g", "current_task_id": "t", field: TOO_LONG}
    response = staff.post("/api/sessions/", body, format="json")
    assert (response.status_code, response.json()) == (400, {field: [LIMIT]})
    assert not Session.objects.exists()


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize("field", ["graph_id", "current_task_id"])
def test_updating_with_an_overlong_id_is_400_and_changes_nothing(
    staff: APIClient, method: str, field: str
) -> None:
    session = make_session()
    body = {
        "graph_id": "g",
        "current_task_id": "t",
        "context": {"data": {}, "chat_history": {"messages": []}},
        field: TOO_LONG,
    }
    response = getattr(staff, method)(detail(session.id), body, format="json")
    assert (response.status_code, response.json()) == (400, {field: [LIMIT]})
    assert stored(session.id).version == session.version


def test_the_schema_states_the_limit(staff: APIClient) -> None:
    schema = staff.get("/api/schema/?format=json").json()
    properties = schema["components"]["schemas"]["Session"]["properties"]
    assert properties["graph_id"]["maxLength"] == 512
    assert properties["current_task_id"]["maxLength"] == 512
