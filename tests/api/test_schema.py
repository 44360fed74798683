"""REST API schema: OpenAPI 3 from drf-spectacular, and bounded schemathesis runs (each
operation, and stateful sequences along the links)."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test.utils import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api import APIClient, client_for, make_session, user

# The fuzz run needs schemathesis (the dev extra; scripts/matrix installs it with drf).
schemathesis = pytest.importorskip("schemathesis")
openapi_checks = pytest.importorskip("schemathesis.specs.openapi.checks")

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 15
STATEFUL_SEQUENCES, STATEFUL_STEPS = 40, 8
CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
]


@pytest.fixture
def staff() -> APIClient:
    return client_for(user("staff", staff=True))


def openapi(client: APIClient) -> dict[str, Any]:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_describes_every_endpoint(staff: APIClient) -> None:
    schema = openapi(staff)
    assert schema["openapi"].startswith("3.")
    operations = {(path, method) for path, methods in schema["paths"].items() for method in methods}
    assert operations == {
        ("/api/sessions/", "get"),
        ("/api/sessions/", "post"),
        ("/api/sessions/{id}/", "get"),
        ("/api/sessions/{id}/", "put"),
        ("/api/sessions/{id}/", "patch"),
        ("/api/sessions/{id}/", "delete"),
        ("/api/sessions/{id}/messages/", "get"),
        ("/api/sessions/{id}/messages/", "post"),
        ("/api/sessions/{id}/data/", "get"),
        ("/api/sessions/{id}/data/", "patch"),
    }


def test_the_schema_describes_the_context_shape(staff: APIClient) -> None:
    components = openapi(staff)["components"]["schemas"]
    context = components["Context"]
    assert set(context["required"]) == {"data", "chat_history"}
    history = components["ChatHistory"]["properties"]
    assert history["max_messages"]["nullable"] is True
    assert (history["max_messages"]["minimum"], history["max_messages"]["maximum"]) == (
        0,
        2**64 - 1,
    )
    message = components["Message"]
    assert set(message["required"]) == {"role", "content", "timestamp"}
    assert components["RoleEnum"]["enum"] == ["User", "Assistant", "System"]


def test_the_schema_documents_etag_and_the_conditional_headers(staff: APIClient) -> None:
    paths = openapi(staff)["paths"]
    retrieve = paths["/api/sessions/{id}/"]["get"]
    assert "ETag" in retrieve["responses"]["200"]["headers"]
    assert "If-None-Match" in {p["name"] for p in retrieve["parameters"]}
    for method in ("put", "patch", "delete"):
        operation = paths["/api/sessions/{id}/"][method]
        assert "If-Match" in {p["name"] for p in operation["parameters"]}
        assert {"412", "428"} <= set(operation["responses"])


def test_the_schema_states_the_bounds_of_the_paging_parameters(staff: APIClient) -> None:
    def bounds(path: str) -> dict[str, tuple[Any, Any]]:
        parameters = openapi(staff)["paths"][path]["get"]["parameters"]
        return {
            p["name"]: (p["schema"].get("minimum"), p["schema"].get("maximum"))
            for p in parameters
            if p["name"] in {"limit", "offset", "page_size"}
        }

    assert bounds("/api/sessions/") == {"page_size": (1, 500)}  # API_MAX_PAGE_SIZE
    assert bounds("/api/sessions/{id}/messages/") == {"limit": (1, 500), "offset": (0, None)}
    with override_settings(GRAPHFLOW_SESSIONS={"API_MAX_PAGE_SIZE": 7}):
        assert bounds("/api/sessions/")["page_size"] == (1, 7)


def test_the_schema_is_for_api_users_only() -> None:
    assert APIClient().get("/api/schema/").status_code in (401, 403)
    assert client_for(user("member")).get("/api/schema/").status_code == 403


def fuzzing_login() -> tuple[dict[str, str], dict[str, str]]:
    """Headers and cookies of a logged-in staff user, CSRF token included."""
    client = client_for(user("fuzzer", staff=True))
    client.get("/admin/")  # sets the CSRF cookie
    cookies = {name: client.cookies[name].value for name in ("sessionid", "csrftoken")}
    return {"X-CSRFToken": cookies["csrftoken"]}, cookies


def fuzzed_schema(staff: APIClient) -> Any:
    schema = schemathesis.openapi.from_dict(openapi(staff))
    schema.app = WSGIHandler()  # Django's real WSGI entry point, in this process
    return schema


@contextlib.contextmanager
def requests_keep_the_test_transaction() -> Iterator[None]:
    """As Django's test client does: the test's transaction (and its connection) must
    survive the end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_fuzzing_every_operation_finds_no_server_error_and_no_schema_mismatch(
    staff: APIClient,
) -> None:
    """Schemathesis generates requests from the schema (valid and not) for every operation,
    sends them through Django's WSGI handler, and checks each answer against the schema."""
    headers, cookies = fuzzing_login()
    schema = fuzzed_schema(staff)
    statuses: list[tuple[str, int]] = []

    def fuzz(operation: Any) -> None:
        # Stored sessions for the generated requests to find (three in four use one).
        known_ids = [
            str(make_session(data={"insurance_type": "car"}, messages=[("User", "hi")]).id)
            for _ in range(3)
        ]

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,  # the same examples every run: a failure reproduces
            suppress_health_check=list(HealthCheck),
        )
        @given(
            case=operation.as_strategy(),
            known=st.sampled_from(known_ids),
            use=st.sampled_from([True, True, True, False]),
        )
        def run(case: Any, known: str, use: bool) -> None:
            if use and "id" in (case.path_parameters or {}):
                case.path_parameters["id"] = known
            response = case.call(headers=headers, cookies=cookies)
            statuses.append((operation.label, response.status_code))
            case.validate_response(response, checks=CHECKS, headers=headers)

        run()

    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 10
    with requests_keep_the_test_transaction():
        for operation in operations:
            fuzz(operation)
    # The run got past authentication and reached the sessions: every operation succeeded
    # at least once, and the fuzzer's invalid inputs drew 400s.
    succeeded = {label for label, code in statuses if 200 <= code < 300}
    assert succeeded == {operation.label for operation in operations}, Counter(statuses)
    assert any(code == 400 for _, code in statuses)


@pytest.mark.heavy
def test_stateful_sequences_along_the_links_find_no_server_error_and_no_schema_mismatch(
    staff: APIClient, report_figure: Callable[[str], None]
) -> None:
    """Sequences of calls, each feeding the next through the schema's links (schemathesis
    infers them: the session a POST created is the {id} of a later GET, PATCH, append,
    DELETE), from an empty table, checked against the schema at every step."""
    headers, cookies = fuzzing_login()
    steps: list[tuple[str, int]] = []

    class Sequences(fuzzed_schema(staff).as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers, "cookies": cookies}

        def after_call(self, response: Any, case: Any) -> None:
            steps.append((case.operation.label, response.status_code))

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, headers=headers)

    with requests_keep_the_test_transaction():
        Sequences.run(
            settings=settings(
                max_examples=STATEFUL_SEQUENCES,
                stateful_step_count=STATEFUL_STEPS,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
        )
    report_figure(f"{len(steps)} calls in {STATEFUL_SEQUENCES} stateful sequences, no failure")
    # Nothing existed before the run and random ids are never taken: an operation on an
    # {id} that succeeded was handed the id by a link from the session's creation.
    linked = {label for label, code in steps if "{id}" in label and 200 <= code < 300}
    assert len(linked) >= 4, Counter(steps)
