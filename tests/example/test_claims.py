"""The example's insurance-claims workflow: its rules, its context keys, its transcript."""

from __future__ import annotations

from decimal import Decimal

import pytest

from example_project.claims.graph import ExecutionStatus, TaskExecutionFailed
from example_project.claims.runner import FlowRunner, StepOutcome
from example_project.claims.tasks import (
    ApartmentInsuranceDetailsTask,
    CarInsuranceDetailsTask,
    FinalSummaryTask,
    InsuranceTypeClassifierTask,
    SmartClaimValidatorTask,
    claims_graph,
    classify,
    find_amount,
)
from graphflow_sessions.context import MessageRole, parse_timestamp
from graphflow_sessions.models import Session
from graphflow_sessions.storage import InMemorySessionStorage


class Conversation:
    def __init__(self) -> None:
        self.storage = InMemorySessionStorage()
        self.runner = FlowRunner(claims_graph, self.storage)
        self.session_id: object = None
        self.statuses: list[ExecutionStatus] = []

    def say(self, text: str) -> StepOutcome:
        if self.session_id is None:
            outcome = self.runner.start(text)
            self.session_id = outcome.session.id
        else:
            outcome = self.runner.run(self.session_id, text)  # type: ignore[arg-type]
        self.statuses.append(outcome.result.status)
        return outcome

    @property
    def stored(self) -> Session:
        session = self.storage.get(self.session_id)  # type: ignore[arg-type]
        assert session is not None
        return session


@pytest.mark.parametrize(
    ("text", "allow_bare", "amount"),
    [
        ("The repair shop quoted $1,250.50.", False, Decimal("1250.50")),
        ("about 800 dollars", False, Decimal("800.00")),
        ("roughly $1.2k", False, Decimal("1200.00")),
        ("USD 640 for the glass", False, Decimal("640.00")),
        ("around 1200", True, Decimal("1200.00")),
        ("around 1200", False, None),
        ("It is a 2019 Toyota with 40000 miles on it, parked outside", True, None),
        ("no idea yet", True, None),
    ],
)
def test_find_amount_reads_dollars_and_bare_numbers_only_in_short_answers(
    text: str, allow_bare: bool, amount: Decimal | None
) -> None:
    assert find_amount(text, allow_bare=allow_bare) == amount


@pytest.mark.parametrize(
    ("texts", "kind"),
    [
        (["Someone rear-ended my car at a red light"], "car"),
        (["A pipe burst in the kitchen of my apartment"], "apartment"),
        (["Hello", "It's my car."], "car"),
        (["There was an accident yesterday."], None),
        (["my car was parked in front of my apartment"], None),
    ],
)
def test_classify_needs_the_words_to_point_one_way(texts: list[str], kind: str | None) -> None:
    assert classify(texts) == kind


def test_task_ids_are_the_rust_services_type_paths() -> None:
    assert SmartClaimValidatorTask().id == (
        "insurance_claims_service::tasks::smart_claim_validator::SmartClaimValidatorTask"
    )
    assert claims_graph.start_task_id == (
        "insurance_claims_service::tasks::initial_claim_query::InitialClaimQueryTask"
    )


def test_a_car_claim_under_1000_is_auto_approved_and_summarised() -> None:
    chat = Conversation()
    chat.say("Hi, I need to file a claim.")
    chat.say("Someone rear-ended my car at a red light, the bumper is smashed")
    assert chat.stored.current_task_id == CarInsuranceDetailsTask.task_id
    approved = chat.say("The body shop quoted $850")
    assert "auto-approved" in (approved.result.response or "")
    summary = chat.say("Yes, please.")

    assert chat.statuses == [
        ExecutionStatus.PAUSED,
        ExecutionStatus.WAITING_FOR_INPUT,
        ExecutionStatus.PAUSED,
        ExecutionStatus.COMPLETED,
    ]
    session = chat.stored
    assert session.current_task_id == FinalSummaryTask.task_id
    data = session.context.data
    assert data["insurance_type"] == "car"
    assert data["claim_details"] == {
        "insurance_type": "car",
        "description": "Someone rear-ended my car at a red light, the bumper is smashed",
        "estimated_cost": 850.0,
        "additional_info": None,
    }
    assert data["claim_decision"]["approved"] is True
    assert data["claim_decision"]["decision_reason"] == (
        "Auto-approved: claim amount under $1000 threshold"
    )
    parse_timestamp(data["claim_decision"]["timestamp"])
    assert data["approval_state"] == "completed"
    assert data["session_id"] == str(session.id)
    assert "$850.00" in (summary.result.response or "")


def test_the_transcript_alternates_user_and_assistant_without_duplicates() -> None:
    chat = Conversation()
    for text in ["Hello", "A pipe burst under the kitchen sink of my apartment", "$400", "yes"]:
        chat.say(text)

    messages = chat.stored.context.get_all_messages()
    roles = [m.role for m in messages]
    assert roles == [MessageRole.USER, MessageRole.ASSISTANT] * 4
    users = [m.content for m in messages if m.role is MessageRole.USER]
    assert users == ["Hello", "A pipe burst under the kitchen sink of my apartment", "$400", "yes"]


def test_a_claim_of_1000_or_more_waits_for_approval_then_is_approved() -> None:
    chat = Conversation()
    chat.say("A pipe burst under the kitchen sink in my apartment and flooded the floor")
    chat.say("It happened last night, the cabinets and the floor are soaked")
    waiting = chat.say("The contractor estimates 2,400 dollars")
    assert waiting.result.status is ExecutionStatus.WAITING_FOR_INPUT
    assert "requires approval" in (waiting.result.response or "")
    assert chat.stored.context.get("approval_state") == "pending"
    assert "claim_decision" not in chat.stored.context

    still = chat.say("what happens now?")
    assert still.result.status is ExecutionStatus.WAITING_FOR_INPUT
    assert chat.stored.current_task_id == SmartClaimValidatorTask.task_id

    done = chat.say("approved")
    assert done.result.status is ExecutionStatus.COMPLETED
    data = chat.stored.context.data
    assert (data["approval_state"], data["claim_decision"]["approved"]) == ("completed", True)
    assert data["claim_decision"]["decision_reason"] == "Claim approved by manual review"
    assert data["claim_details"]["estimated_cost"] == 2400.0
    assert data["claim_details"]["additional_info"] == (
        "It happened last night, the cabinets and the floor are soaked"
    )


def test_a_rejected_claim_ends_not_approved() -> None:
    chat = Conversation()
    chat.say("My car was broken into overnight and the window is smashed")
    chat.say("The radio is gone too, the damage is about $1,800")
    done = chat.say("Rejected, the damage was pre-existing.")

    assert done.result.status is ExecutionStatus.COMPLETED
    assert chat.stored.context.get("claim_decision")["approved"] is False
    assert "not approved" in (done.result.response or "")


def test_a_correction_during_review_goes_back_to_the_details_task() -> None:
    chat = Conversation()
    chat.say("A storm blew in the balcony door of my apartment and rain ruined the floor")
    chat.say("The floor and a sofa are ruined, about $3,000 in total")
    back = chat.say("Sorry, I need to correct the amount")

    assert back.result.status is ExecutionStatus.PAUSED
    assert chat.stored.current_task_id == ApartmentInsuranceDetailsTask.task_id
    assert chat.stored.context.get("claim_details")["estimated_cost"] is None
    assert "approval_state" not in chat.stored.context

    again = chat.say("$700")
    assert "auto-approved" in (again.result.response or "")


def test_an_unclear_claim_gets_a_question_and_stays_with_the_classifier() -> None:
    chat = Conversation()
    chat.say("Hello")
    asked = chat.say("Something got damaged and I need it covered.")

    assert asked.result.status is ExecutionStatus.WAITING_FOR_INPUT
    assert "car or about your apartment" in (asked.result.response or "")
    assert chat.stored.current_task_id == InsuranceTypeClassifierTask.task_id


def test_the_validator_without_claim_details_fails_the_step() -> None:
    storage = InMemorySessionStorage()
    session = claims_graph.new_session()
    session.current_task_id = SmartClaimValidatorTask.task_id
    storage.save(session)

    with pytest.raises(TaskExecutionFailed, match="claim_details"):
        FlowRunner(claims_graph, storage).run(session.id, "approve me")

    assert storage.get(session.id).context.is_chat_history_empty()  # type: ignore[union-attr]
