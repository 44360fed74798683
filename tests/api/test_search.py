"""REST API search: ?search= on the list (hook, filters, cursor kept; completeness headers)
and on one session's messages (the matches with their positions)."""

from __future__ import annotations

import pytest
from django.test.utils import override_settings

from graphflow_sessions.models import Session
from tests.support.api import APIClient, client_for, detail, make_session, user
from tests.support.search import without_search_index  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> APIClient:
    return client_for(user("staff", staff=True))


def ids(*sessions: Session) -> set[str]:
    return {str(session.id) for session in sessions}


def only_graph(graph_id: str) -> dict[str, object]:
    """Settings letting any logged-in user in, scoped to one graph by the queryset hook."""

    def hook(request: object, queryset: object) -> object:
        return queryset.filter(graph_id=graph_id)  # type: ignore[attr-defined]

    return {
        "API_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        "API_QUERYSET_HOOK": hook,
    }


def search(client: APIClient, query: str):
    response = client.get("/api/sessions/", {"search": query})
    assert response.status_code == 200, response.content
    return response


def found(client: APIClient, query: str) -> set[str]:
    return {row["id"] for row in search(client, query).json()["results"]}


def test_every_word_must_occur_in_the_session(staff: APIClient) -> None:
    both = make_session(messages=[("User", "my Volvo was hit")], data={"city": "Lyon"})
    make_session(messages=[("User", "my Volvo was hit")], data={"city": "Paris"})
    assert found(staff, "volvo lyon") == ids(both)
    assert found(staff, '"volvo was" LYON') == ids(both)
    assert len(found(staff, "volvo")) == 2
    assert found(staff, "absent") == set()


def test_an_id_prefix_finds_that_session(staff: APIClient) -> None:
    target = make_session()
    make_session()
    assert found(staff, str(target.id)[:8]) == ids(target)
    response = search(staff, str(target.id))
    assert response["X-Search-Complete"] == "true" and response["X-Search-Scope"] == "all"


def test_filters_and_the_queryset_hook_apply_to_the_search(staff: APIClient) -> None:
    claims = make_session(graph_id="claims", data={"w": "needle"})
    payroll = make_session(graph_id="payroll", data={"w": "needle"})
    rows = staff.get("/api/sessions/", {"search": "needle", "graph": "claims"}).json()
    assert {row["id"] for row in rows["results"]} == ids(claims)
    with override_settings(GRAPHFLOW_SESSIONS=only_graph("payroll")):
        client = client_for(user("alice"))
        assert found(client, "needle") == ids(payroll)
        assert found(client, str(claims.id)) == set()  # an id outside the hook is not found


@pytest.mark.usefixtures("without_search_index")
def test_the_window_search_says_it_may_be_incomplete(staff: APIClient) -> None:
    make_session(data={"w": "needle"})
    with override_settings(GRAPHFLOW_SESSIONS={"ADMIN_SEARCH_WINDOW": 300}):
        response = search(staff, "needle")
        assert response["X-Search-Complete"] == "false"
        assert response["X-Search-Scope"] == "newest=300"
    with override_settings(GRAPHFLOW_SESSIONS={"ADMIN_SEARCH_WINDOW": None}):
        response = search(staff, "needle")
        assert response["X-Search-Complete"] == "true"
    # Without a search, no search headers.
    assert "X-Search-Complete" not in staff.get("/api/sessions/")


def test_search_results_page_with_the_cursor(staff: APIClient) -> None:
    made = {str(make_session(data={"w": f"needle {n}"}).id) for n in range(5)}
    make_session(data={"w": "hay"})
    seen: list[str] = []
    body = staff.get("/api/sessions/", {"search": "needle", "page_size": 2}).json()
    while True:
        seen += [row["id"] for row in body["results"]]
        if not body["next"]:
            break
        response = staff.get(body["next"])
        assert response["X-Search-Complete"] in ("true", "false")
        body = response.json()
    assert len(seen) == 5 and set(seen) == made


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("without_search_index")
def test_a_search_past_its_time_limit_is_a_503(staff: APIClient) -> None:
    make_session(data={"a": ["haystack"] * 200_000})
    with override_settings(GRAPHFLOW_SESSIONS={"SEARCH_TIMEOUT": 0.001}):
        response = staff.get("/api/sessions/", {"search": "needle"})
    assert response.status_code == 503
    assert "longer than 0.001 s" in response.json()["detail"]


def test_messages_search_returns_the_matches_with_their_positions(staff: APIClient) -> None:
    session = make_session(
        messages=[
            ("User", "hello"),
            ("Assistant", "Herr Müller, your claim"),
            ("User", "thanks"),
            ("User", "MULLER again"),
        ]
    )
    body = staff.get(detail(session.id, "messages/"), {"search": "muller"}).json()
    assert body["count"] == 2
    assert [(m["position"], m["content"]) for m in body["results"]] == [
        (1, "Herr Müller, your claim"),
        (3, "MULLER again"),
    ]
    # The position is the offset that reads the message.
    at = staff.get(detail(session.id, "messages/"), {"offset": 3, "limit": 1}).json()
    assert at["results"][0]["content"] == "MULLER again"
    # offset and limit page through the matches.
    second = staff.get(
        detail(session.id, "messages/"), {"search": "muller", "offset": 1, "limit": 1}
    ).json()
    assert [m["position"] for m in second["results"]] == [3] and second["count"] == 2


def test_messages_search_counts_positions_in_the_trimmed_history(staff: APIClient) -> None:
    session = make_session(
        max_messages=2, messages=[("User", "needle old"), ("User", "hay"), ("User", "needle")]
    )
    body = staff.get(detail(session.id, "messages/"), {"search": "needle"}).json()
    assert [m["position"] for m in body["results"]] == [1]


def test_messages_search_is_scoped_like_the_rest(staff: APIClient) -> None:
    hidden = make_session(graph_id="payroll", messages=[("User", "needle")])
    with override_settings(GRAPHFLOW_SESSIONS=only_graph("claims")):
        client = client_for(user("alice"))
        response = client.get(detail(hidden.id, "messages/"), {"search": "needle"})
        assert response.status_code == 404


def test_the_schema_documents_the_search_parameter_and_headers(staff: APIClient) -> None:
    schema = staff.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    listing = schema["paths"]["/api/sessions/"]["get"]
    assert "search" in {p["name"] for p in listing["parameters"]}
    headers = listing["responses"]["200"]["headers"]
    assert {"X-Search-Complete", "X-Search-Scope"} <= set(headers)
    messages = schema["paths"]["/api/sessions/{id}/messages/"]["get"]
    assert "search" in {p["name"] for p in messages["parameters"]}
