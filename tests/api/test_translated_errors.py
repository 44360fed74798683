"""REST API errors in the client's language (Accept-Language), and a bad role naming the
roles there are."""

from __future__ import annotations

import pytest

from tests.support.api import APIClient, client_for, detail, make_session, stored, user

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> APIClient:
    return client_for(user("staff", staff=True))


def post_message(client: APIClient, role: str, language: str = "en") -> dict:
    session = make_session()
    response = client.post(
        detail(session.id, "messages/"),
        {"role": role, "content": "hello"},
        format="json",
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 400
    assert stored(session.id).version == 1
    return response.json()


def test_a_bad_role_says_which_roles_there_are(staff: APIClient) -> None:
    assert post_message(staff, "user") == {
        "role": ['"user" is not a valid role: expected "User", "Assistant" or "System".']
    }


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("de", '„user“ ist keine gültige Rolle: erwartet wird "User", "Assistant" oder "System".'),
        ("fr", '« user » n’est pas un rôle valide : "User", "Assistant" ou "System" est attendu.'),
    ],
)
def test_a_bad_role_is_answered_in_the_clients_language(
    staff: APIClient, language: str, message: str
) -> None:
    assert post_message(staff, "user", language) == {"role": [message]}


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("en", "expected a JSON object: keys to set, null to remove a key"),
        (
            "de",
            "erwartet wird ein JSON-Objekt: zu setzende Schlüssel, null entfernt einen Schlüssel",
        ),
        ("fr", "un objet JSON est attendu : les clés à définir, null pour retirer une clé"),
    ],
)
def test_a_bad_context_data_patch_is_answered_in_the_clients_language(
    staff: APIClient, language: str, message: str
) -> None:
    session = make_session(data={"kept": True})

    response = staff.patch(
        detail(session.id, "data/"), [1, 2], format="json", HTTP_ACCEPT_LANGUAGE=language
    )

    assert response.status_code == 400
    assert response.json() == {"data": [message]}
    assert stored(session.id).context.get("kept") is True


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("de", "erwartet wird eine positive ganze Zahl"),
        ("fr", "un entier positif est attendu"),
    ],
)
def test_a_bad_page_size_is_answered_in_the_clients_language(
    staff: APIClient, language: str, message: str
) -> None:
    response = staff.get("/api/sessions/?page_size=0", HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 400
    assert response.json() == {"page_size": [message]}


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("de", "Die Sitzung hat sich geändert, seit Sie sie gelesen haben (If-Match stimmt nicht"),
        ("fr", "La session a changé depuis que vous l’avez lue (If-Match ne correspond pas)."),
    ],
)
def test_a_stale_if_match_is_refused_in_the_clients_language(
    staff: APIClient, language: str, message: str
) -> None:
    session = make_session()

    response = staff.delete(
        detail(session.id), HTTP_IF_MATCH='"99.0"', HTTP_ACCEPT_LANGUAGE=language
    )

    assert response.status_code == 412
    assert response.json()["detail"].startswith(message)
