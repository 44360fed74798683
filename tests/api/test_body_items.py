"""Bodies of many tiny values are refused before they are decoded, so that one request's
memory stays near a few times its size (``parsers.max_items``; the figures are measured by
``benchmarks/memory.py``, not here)."""

from __future__ import annotations

import json

import pytest

from graphflow_sessions.contract.jsontext import count_json_items
from graphflow_sessions.models import Session
from tests.support.api import APIClient, client_for, detail, make_session, stored, user

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> APIClient:
    return client_for(user("staff", staff=True))


def create_body(value: str) -> str:
    context = '{"data":{"v":' + value + '},"chat_history":{"messages":[]}}'
    return '{"current_task_id":"t","context":' + context + "}"


def post(client: APIClient, body: str) -> object:
    return client.generic("POST", "/api/sessions/", body, content_type="application/json")


@pytest.mark.parametrize(
    "unit",
    ["{}", "[]", "1", '"ab"', '{"k":[]}'],
    ids=["objects", "arrays", "digits", "strings", "nested"],
)
def test_a_body_of_tiny_values_is_400_saying_what_was_counted(staff: APIClient, unit: str) -> None:
    body = create_body("[" + ",".join([unit] * 200_000) + "]")
    response = post(staff, body)
    assert response.status_code == 400
    detail_text = response.json()["detail"]
    assert detail_text.startswith("request body: ")
    assert "objects and arrays" in detail_text and "send fewer, larger values" in detail_text
    assert Session.objects.count() == 0


def test_a_data_patch_of_tiny_values_is_refused_too(staff: APIClient) -> None:
    session = make_session(data={"kept": 1})
    patch = '{"v":[' + ",".join(["{}"] * 200_000) + "]}"
    response = staff.generic(
        "PATCH", detail(session.id, "data/"), patch, content_type="application/merge-patch+json"
    )
    assert response.status_code == 400
    assert stored(session.id).context.data == {"kept": 1}


def test_values_at_the_allowed_density_are_accepted(staff: APIClient) -> None:
    # One 17-digit number and its comma per 18 bytes: as dense as a large body may be.
    numbers = [12345678901234567] * 100_000
    body = create_body(json.dumps(numbers, separators=(",", ":")))
    containers, commas = count_json_items(body.encode())
    from graphflow_sessions.rest_framework.parsers import max_items  # needs the drf extra

    assert 4 * containers + commas <= max_items(len(body)) < 4 * containers + commas + 20_000
    response = post(staff, body)
    assert response.status_code == 201
    assert stored(response.json()["id"]).context.get("v") == numbers


def test_brackets_and_commas_inside_strings_are_not_counted(staff: APIClient) -> None:
    text = '{[,"\\\\' * 100_000  # text, not structure (with escaped quotes and backslashes)
    response = post(staff, create_body(json.dumps([text, {"a": text}])))
    assert response.status_code == 201
    assert stored(response.json()["id"]).context.get("v") == [text, {"a": text}]


def test_the_counts_skip_strings_exactly() -> None:
    text = json.dumps({"a": [1, 2, {}], "b": 'x,{["\\', "c": [[]]}).encode()
    assert count_json_items(text, in_strings=False) == (5, 4)
    assert count_json_items(text) == (7, 5)
