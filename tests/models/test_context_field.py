"""ContextField behaves like any Django field for forms, validation and fixtures."""

from __future__ import annotations

import io
import json

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from graphflow_sessions.context import Context
from graphflow_sessions.exceptions import ContextDeserializationError, ContextSerializationError
from graphflow_sessions.models import Session


class SessionForm(forms.ModelForm):
    class Meta:
        model = Session
        fields = ["graph_id", "current_task_id", "status_message", "context"]


def claim_session() -> Session:
    context = Context()
    context.set("insurance_type", "car")
    context.add_user_message("<b>hello</b>")
    return Session.objects.create(graph_id="claims", current_task_id="t", context=context)


@pytest.mark.django_db
def test_a_plain_model_form_renders_the_context_as_json() -> None:
    session = claim_session()

    html = SessionForm(instance=session).as_p()

    assert "insurance_type" in html
    assert "&lt;b&gt;hello&lt;/b&gt;" in html  # escaped, inside the JSON textarea


@pytest.mark.django_db
def test_a_model_form_refuses_a_context_that_breaks_the_contract_and_names_the_path() -> None:
    session = claim_session()
    broken = session.raw_context
    broken["chat_history"]["messages"][0]["role"] = "user"
    data = {"graph_id": "claims", "current_task_id": "t", "context": json.dumps(broken)}

    form = SessionForm(data, instance=session)

    assert not form.is_valid()
    assert "chat_history.messages[0].role" in str(form.errors["context"])
    session.refresh_from_db()
    assert session.context.get_all_messages()[0].role.value == "User"


@pytest.mark.django_db
def test_full_clean_refuses_a_nul_character_in_context_data() -> None:
    session = Session(
        current_task_id="t", context={"data": {"x": "a\x00b"}, "chat_history": {"messages": []}}
    )

    with pytest.raises(ValidationError, match=r"data\.x"):
        session.full_clean()


@pytest.mark.django_db
def test_raw_context_of_a_contract_breaking_row_is_readable_without_an_error() -> None:
    session = claim_session()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sessions SET context = %s WHERE id = %s",
            [
                json.dumps({"data": {}, "chat_history": {"messages": "nope"}}),
                session.pk.hex if connection.vendor == "sqlite" else session.pk,
            ],
        )
    stored = Session.objects.get(pk=session.pk)

    assert stored.raw_context == {"data": {}, "chat_history": {"messages": "nope"}}
    assert "chat_history.messages" in str(stored.context_error)


@pytest.mark.django_db
def test_dumpdata_and_loaddata_round_trip_a_session(tmp_path) -> None:
    session = claim_session()
    expected = session.raw_context
    out = io.StringIO()
    call_command("dumpdata", "graphflow_sessions.session", stdout=out)
    fixture = tmp_path / "sessions.json"
    fixture.write_text(out.getvalue())
    Session.objects.all().delete()

    call_command("loaddata", str(fixture), verbosity=0)

    assert Session.objects.get(pk=session.pk).context.to_dict() == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "path"),
    [({"v": 2**64}, "data.v"), ({"list": [0, 1, -(10**400)]}, "data.list[2]")],
)
def test_the_orm_refuses_a_number_graph_flow_cannot_read_back_and_writes_nothing(
    data: dict[str, object], path: str
) -> None:
    context = {"data": data, "chat_history": {"messages": []}}
    with pytest.raises(ContextSerializationError) as caught:
        Session.objects.create(current_task_id="t", context=context)
    assert caught.value.path == path
    session = claim_session()
    session.context.set("v", data)
    with pytest.raises(ContextSerializationError) as caught:
        session.save()
    assert caught.value.path == f"data.v.{path.removeprefix('data.')}"
    with pytest.raises(ValidationError, match=path.replace("[", r"\[").replace(".", r"\.")):
        Session(current_task_id="t", context=context).full_clean()
    assert Session.objects.get().context.get("v") is None


@pytest.mark.django_db
def test_the_orm_refuses_a_history_limit_beyond_64_bits_naming_it() -> None:
    context = {"data": {}, "chat_history": {"messages": [], "max_messages": 2**64}}
    with pytest.raises(ContextDeserializationError) as caught:
        Session.objects.create(current_task_id="t", context=context)
    assert caught.value.path == "chat_history.max_messages"
    assert not Session.objects.exists()


@pytest.mark.django_db
def test_a_big_float_read_back_through_the_orm_saves_again() -> None:
    session = claim_session()
    session.context.set("avogadro", 6.02214076e23)
    session.save()
    stored = Session.objects.get(pk=session.pk)
    # PostgreSQL gives back the integer 602214076000000000000000, SQLite the float.
    assert float(stored.context.get("avogadro")) == 6.02214076e23
    stored.current_task_id = "next"
    stored.save()
    assert Session.objects.get(pk=session.pk).current_task_id == "next"
