"""REST API list filters: graph, current task, dates, and context data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.http import QueryDict
from django.utils import timezone

from graphflow_sessions.models import Session
from tests.support.api import APIClient, client_for, make_session, user

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> APIClient:
    return client_for(user("staff", staff=True))


def listed(client: APIClient, query: str) -> set[str]:
    response = client.get(f"/api/sessions/?{query}")
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def ids(*sessions: Session) -> set[str]:
    return {str(session.id) for session in sessions}


def test_graph_and_current_task_filters(staff: APIClient) -> None:
    car = make_session(graph_id="claims", current_task_id="CarInsuranceDetails")
    flat = make_session(graph_id="claims", current_task_id="ApartmentInsuranceDetails")
    other = make_session(graph_id="payroll", current_task_id="CarInsuranceDetails")
    assert listed(staff, "graph=claims") == ids(car, flat)
    assert listed(staff, "current_task=CarInsuranceDetails") == ids(car, other)
    assert listed(staff, "graph=claims&current_task=CarInsuranceDetails") == ids(car)


def test_date_filters(staff: APIClient) -> None:
    now = timezone.now()
    old = make_session()
    new = make_session()
    Session.objects.filter(pk=old.id).update(
        created_at=now - timedelta(days=10), updated_at=now - timedelta(days=5)
    )
    cut = (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert listed(staff, f"created_before={cut}") == ids(old)
    assert listed(staff, f"created_after={cut}") == ids(new)
    assert listed(staff, f"updated_before={cut}") == ids(old)
    assert listed(staff, f"updated_after={cut}") == ids(new)


def test_a_malformed_date_is_400_naming_the_filter(staff: APIClient) -> None:
    response = staff.get("/api/sessions/?created_after=yesterday")
    assert response.status_code == 400
    assert list(response.json()) == ["created_after"]


def test_data_filters_match_values_and_nested_keys(staff: APIClient) -> None:
    car = make_session(data={"insurance_type": "car", "claim_details": {"insurance_type": "car"}})
    flat = make_session(data={"insurance_type": "apartment"})
    make_session(data={})
    assert listed(staff, "data.insurance_type=car") == ids(car)
    assert listed(staff, "data.insurance_type=apartment") == ids(flat)
    assert listed(staff, "data.claim_details.insurance_type=car") == ids(car)
    assert listed(staff, "data.insurance_type=boat") == set()
    assert listed(staff, "data.insurance_type=car&graph=nothing") == set()


def test_data_filter_values_also_match_as_json_scalars(staff: APIClient) -> None:
    number = make_session(data={"retry_count": 3})
    text = make_session(data={"retry_count": "3"})
    make_session(data={"retry_count": 4})
    flag = make_session(data={"approved": True, "note": None})
    assert listed(staff, "data.retry_count=3") == ids(number, text)
    assert listed(staff, "data.approved=true") == ids(flag)
    assert listed(staff, "data.note=null") == ids(flag)


def test_a_value_inside_a_list_does_not_match_the_list(staff: APIClient) -> None:
    make_session(data={"tags": ["car", "urgent"]})
    assert listed(staff, "data.tags=car") == set()


@pytest.mark.parametrize("query", ["data.=x", "data.a..b=x", "data.a=%00"])
def test_a_malformed_data_filter_is_400(staff: APIClient, query: str) -> None:
    make_session(data={"a": "x"})
    response = staff.get(f"/api/sessions/?{query}")
    assert response.status_code == 400


@pytest.mark.postgres
def test_data_filters_are_served_by_the_gin_index_on_postgresql() -> None:
    from graphflow_sessions.rest_framework.filters import SessionFilterSet

    for index in range(50):
        make_session(data={"insurance_type": "car" if index % 10 == 0 else "apartment"})
    queryset = SessionFilterSet(
        data=QueryDict("data.insurance_type=car"), queryset=Session.objects.all()
    ).qs
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # this table is tiny; ask the index
    plan = queryset.explain()
    assert "gfs_context_data_gin" in plan
    assert "@>" in plan
    assert queryset.count() == 5


@pytest.mark.parametrize(
    "moment",
    [
        "0086-11-26T23:49:49%2B23:09",  # an offset PostgreSQL refuses (found by the fuzzer)
        "0001-01-01T00:00:00%2B05:00",  # a moment before year 1 in UTC
        "9999-12-31T23:59:59-05:00",  # a moment after year 9999 in UTC
    ],
)
def test_dates_outside_what_the_database_takes_are_400_or_answered(
    staff: APIClient, moment: str
) -> None:
    make_session()
    response = staff.get(f"/api/sessions/?created_after={moment}")
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert list(response.json()) == ["created_after"]
