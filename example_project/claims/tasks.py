"""The insurance-claims workflow: graph-flow's ``insurance-claims-service``, rule-based.

    InitialClaimQuery -> InsuranceTypeClassifier -> CarInsuranceDetails | ApartmentInsuranceDetails
                      -> SmartClaimValidator -> FinalSummary

The Rust service asks a language model at each task; here keyword rules and a money regex
stand in for it, so the workflow runs offline and always answers the same way. The context
keys, task ids, status messages and the $1000 auto-approval threshold are the service's.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.utils import timezone

from graphflow_sessions.context import Context, MessageRole, format_timestamp

from .graph import Graph, NextAction, Task, TaskResult
from .runner import SESSION_ID, USER_INPUT

# Context keys (the Rust service's ``session_keys``; the runner writes the first two).
CLAIM_DETAILS = "claim_details"
INSURANCE_TYPE = "insurance_type"
CLAIM_DECISION = "claim_decision"
APPROVAL_STATE = "approval_state"

CAR = "car"
APARTMENT = "apartment"

#: Claims below this many dollars are approved without a human (the service's threshold).
AUTO_APPROVAL_LIMIT = Decimal("1000")

GRAPH_ID = "insurance_claims"

# Rust task ids are type paths; ours are the same strings, so rows read alike in both.
_RUST_MODULE = "insurance_claims_service::tasks"


@functools.lru_cache(maxsize=4096)
def _words(text: str) -> frozenset[str]:
    # Cached: the classifier re-reads the whole chat every turn (and the demo generator
    # sends the same scripted sentences thousands of times).
    return frozenset(re.findall(r"[a-z]+(?:-[a-z]+)*", text.lower()))


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_KEYWORDS: dict[str, frozenset[str]] = {
    CAR: _word_set(
        "car cars vehicle auto automobile bumper windshield fender hood trunk collision "
        "crash rear-ended sideswiped parking highway driver driving tire tyre truck "
        "motorcycle headlight mirror scooter van"
    ),
    APARTMENT: _word_set(
        "apartment flat home house kitchen bathroom bedroom pipe ceiling flood flooded "
        "leak leaking burglar burglarized burglary fire stove sink floor wall furniture "
        "landlord renter renters tenant plumbing"
    ),
}

# "$1,250.50", "$1.2k", "USD 800", "800 dollars", "2 thousand dollars".
_AMOUNT = re.compile(
    r"(?:\$|\busd\s?)\s*(?P<a>\d[\d,]*(?:\.\d+)?)(?:\s*(?P<ak>k|thousand)\b)?"
    r"|\b(?P<b>\d[\d,]*(?:\.\d+)?)\s*(?P<bk>k|thousand)?\s*(?:dollars|usd|bucks)\b",
    re.IGNORECASE,
)
_BARE_NUMBER = re.compile(r"\b\d[\d,]*(?:\.\d+)?\b")


def find_amount(text: str, *, allow_bare: bool = False) -> Decimal | None:
    """The dollar amount in ``text``; a bare number counts only in a short answer."""
    match = _AMOUNT.search(text)
    if match:
        digits = match.group("a") or match.group("b")
        thousands = match.group("ak") or match.group("bk")
    else:
        numbers = _BARE_NUMBER.findall(text)
        # "around 1200" answers "how much?"; "my 2019 Toyota ..." does not.
        if not (allow_bare and len(numbers) == 1 and len(text) <= 40):
            return None
        digits, thousands = numbers[0], None
    try:
        amount = Decimal(digits.replace(",", ""))
    except ArithmeticError:
        return None
    if thousands:
        amount *= 1000
    return amount.quantize(Decimal("0.01"))


def format_money(amount: Decimal | float) -> str:
    return f"${Decimal(str(amount)):,.2f}"


def _without_amount(text: str) -> str:
    return _BARE_NUMBER.sub(" ", _AMOUNT.sub(" ", text))


@functools.lru_cache(maxsize=4096)
def _is_description(text: str) -> bool:
    """Enough different words, once money is taken out, to say what happened."""
    return len(_words(_without_amount(text))) >= 5


def classify(texts: Iterable[str]) -> str | None:
    """``car`` or ``apartment`` when the words point one way, else None."""
    scores = dict.fromkeys(_KEYWORDS, 0)
    for text in texts:
        words = _words(text)
        for kind, keywords in _KEYWORDS.items():
            scores[kind] += len(words & keywords)
    best = max(scores, key=lambda kind: scores[kind])
    if scores[best] == 0 or list(scores.values()).count(scores[best]) > 1:
        return None
    return best


def _user_messages(context: Context) -> list[str]:
    return [m.content for m in context.get_all_messages() if m.role is MessageRole.USER]


def _claim_details(context: Context) -> dict[str, Any]:
    empty = {"insurance_type": None, "description": None, "estimated_cost": None}
    return {**empty, "additional_info": None, **(context.get(CLAIM_DETAILS) or {})}


def _user_input(context: Context) -> str:
    value = context.get(USER_INPUT)
    if not isinstance(value, str):
        raise LookupError("user_input not found in the context")
    return value


def _reply(context: Context, response: str, action: NextAction, status_message: str) -> TaskResult:
    context.add_assistant_message(response)
    return TaskResult(response, action, status_message)


class InitialClaimQueryTask(Task):
    task_id = f"{_RUST_MODULE}::initial_claim_query::InitialClaimQueryTask"

    def run(self, context: Context) -> TaskResult:
        text = _user_input(context)
        if _is_description(text) and classify([text]):
            response = (
                "Thank you, and I'm sorry to hear that. I'll help you file this claim. "
                "Could you tell me a little more: when and where did it happen, and what "
                "exactly was damaged?"
            )
        else:
            response = (
                "Hello! I'm your claims assistant and I'll help you file an insurance claim. "
                "Please describe what happened: is it about your car or your apartment?"
            )
        return _reply(
            context,
            response,
            NextAction.CONTINUE,
            "Welcomed the customer - waiting for a description of the incident",
        )


class InsuranceTypeClassifierTask(Task):
    task_id = f"{_RUST_MODULE}::insurance_type_classifier::InsuranceTypeClassifierTask"

    def run(self, context: Context) -> TaskResult:
        messages = _user_messages(context)
        insurance_type = classify(messages)
        if insurance_type is None:
            return _reply(
                context,
                "I'm not sure which policy this is about. Is the claim about your car or "
                "about your apartment?",
                NextAction.WAIT_FOR_INPUT,
                "Waiting for insurance type classification - need more information",
            )
        context.set(INSURANCE_TYPE, insurance_type)
        details = _claim_details(context)
        details["insurance_type"] = insurance_type
        # The message that says most about the incident becomes its description.
        keywords = _KEYWORDS[insurance_type]
        described = [m for m in messages if _is_description(m)]
        if described and details["description"] is None:
            details["description"] = max(described, key=lambda m: len(_words(m) & keywords)).strip()
        context.set(CLAIM_DETAILS, details)
        return TaskResult(
            None,
            NextAction.CONTINUE_AND_EXECUTE,
            f"Insurance type classified as: {insurance_type} - proceeding to collect "
            "specific details",
        )


class _DetailsTask(Task):
    """Collects what happened and what it costs; the two policies ask in their own words."""

    insurance_type: str
    describe_question: str
    cost_question: str

    def run(self, context: Context) -> TaskResult:
        text = _user_input(context).strip()
        details = _claim_details(context)
        details["insurance_type"] = self.insurance_type
        description = details["description"]
        amount = find_amount(text, allow_bare=description is not None)
        if description is None:
            if _is_description(text):
                details["description"] = text
        elif text not in description and _is_description(text):
            extra = details["additional_info"]
            details["additional_info"] = f"{extra} {text}" if extra else text
        if amount is not None:
            details["estimated_cost"] = float(amount)
        context.set(CLAIM_DETAILS, details)
        label = self.insurance_type.capitalize()
        if details["description"] is None:
            return _reply(
                context,
                self.describe_question,
                NextAction.WAIT_FOR_INPUT,
                f"Collecting {self.insurance_type} insurance details - waiting for a "
                "description of what happened",
            )
        if details["estimated_cost"] is None:
            return _reply(
                context,
                self.cost_question,
                NextAction.WAIT_FOR_INPUT,
                f"Collecting {self.insurance_type} insurance details - waiting for complete "
                "description and cost estimate",
            )
        return TaskResult(
            None,
            NextAction.CONTINUE_AND_EXECUTE,
            f"{label} insurance details collected - Description: {details['description']}, "
            f"Cost: {format_money(details['estimated_cost'])} - proceeding to validation",
        )


class CarInsuranceDetailsTask(_DetailsTask):
    task_id = f"{_RUST_MODULE}::car_insurance_details::CarInsuranceDetailsTask"
    insurance_type = CAR
    describe_question = "Please describe what happened to your car and what was damaged."
    cost_question = (
        "Thanks. What is the estimated repair or replacement cost for your car, in dollars?"
    )


class ApartmentInsuranceDetailsTask(_DetailsTask):
    task_id = f"{_RUST_MODULE}::apartment_insurance_details::ApartmentInsuranceDetailsTask"
    insurance_type = APARTMENT
    describe_question = "Please describe what happened in your apartment and what was damaged."
    cost_question = (
        "Thanks. What is the estimated cost to repair or replace what was damaged, in dollars?"
    )


_REJECTED = re.compile(r"\b(reject(ed)?|den(y|ied)|declined?|not approved)\b", re.IGNORECASE)
_APPROVED = re.compile(r"\bapprove[ds]?\b", re.IGNORECASE)
_CORRECTION = re.compile(r"\b(change|correct(ion)?|update|wrong|mistake)\b", re.IGNORECASE)


def _decision(approved: bool, reason: str) -> dict[str, Any]:
    return {
        "approved": approved,
        "decision_reason": reason,
        "timestamp": format_timestamp(timezone.now()),
    }


class SmartClaimValidatorTask(Task):
    """Approves claims under $1000 at once; others wait for a reviewer's "approved"."""

    task_id = f"{_RUST_MODULE}::smart_claim_validator::SmartClaimValidatorTask"

    def run(self, context: Context) -> TaskResult:
        if context.get(APPROVAL_STATE) == "pending":
            return self._review(context, _user_input(context))
        details = context.get(CLAIM_DETAILS)
        if not details or details.get("estimated_cost") is None:
            raise LookupError("claim_details with an estimated_cost not found in the context")
        amount = Decimal(str(details["estimated_cost"]))
        if amount < AUTO_APPROVAL_LIMIT:
            context.set(
                CLAIM_DECISION,
                _decision(True, "Auto-approved: claim amount under $1000 threshold"),
            )
            context.set(APPROVAL_STATE, "completed")
            return _reply(
                context,
                f"Good news: your claim for {format_money(amount)} has been auto-approved. "
                "Shall I prepare the final summary?",
                NextAction.CONTINUE,
                f"Claim auto-approved - Amount: {format_money(amount)} (under $1000) - "
                "proceeding to final summary",
            )
        context.set(APPROVAL_STATE, "pending")
        return _reply(
            context,
            f"Your {details.get('insurance_type') or 'insurance'} claim for "
            f"{format_money(amount)} requires approval. Please respond with 'approved' to "
            "approve this claim or 'rejected' to reject it.",
            NextAction.WAIT_FOR_INPUT,
            f"Manual approval required - Amount: {format_money(amount)} (over $1000) - "
            "waiting for approval decision",
        )

    def _review(self, context: Context, text: str) -> TaskResult:
        if _REJECTED.search(text):
            context.set(CLAIM_DECISION, _decision(False, "Claim rejected by manual review"))
            context.set(APPROVAL_STATE, "completed")
            return TaskResult(
                None,
                NextAction.CONTINUE_AND_EXECUTE,
                "Manual rejection received - proceeding to final summary",
            )
        if _APPROVED.search(text):
            context.set(CLAIM_DECISION, _decision(True, "Claim approved by manual review"))
            context.set(APPROVAL_STATE, "completed")
            return TaskResult(
                None,
                NextAction.CONTINUE_AND_EXECUTE,
                "Manual approval received - proceeding to final summary",
            )
        if _CORRECTION.search(text):
            details = _claim_details(context)
            details["estimated_cost"] = None
            context.set(CLAIM_DETAILS, details)
            context.remove(APPROVAL_STATE)
            kind = details["insurance_type"] or context.get(INSURANCE_TYPE)
            back = CarInsuranceDetailsTask if kind == CAR else ApartmentInsuranceDetailsTask
            return _reply(
                context,
                "Of course. What is the corrected estimated cost, in dollars?",
                NextAction.goto(back.task_id),
                "Claim details being corrected - returning to details collection",
            )
        return _reply(
            context,
            "Waiting for the approval decision: please respond with 'approved' or 'rejected'.",
            NextAction.WAIT_FOR_INPUT,
            "Waiting for approval decision - please respond with 'approved' to approve",
        )


class FinalSummaryTask(Task):
    task_id = f"{_RUST_MODULE}::final_summary::FinalSummaryTask"

    def run(self, context: Context) -> TaskResult:
        details = _claim_details(context)
        decision = context.get(CLAIM_DECISION) or {}
        verdict = "approved" if decision.get("approved") else "not approved"
        cost = details["estimated_cost"]
        lines = [
            f"Here is the summary of your claim (reference {str(context.get(SESSION_ID))[:8]}):",
            f"- Type: {details['insurance_type'] or 'unknown'} insurance",
            f"- What happened: {details['description'] or 'not described'}",
            f"- Estimated cost: {format_money(cost) if cost is not None else 'unknown'}",
            f"- Decision: {verdict} ({decision.get('decision_reason', 'no decision yet')})",
        ]
        if details["additional_info"]:
            lines.insert(3, f"- Additional information: {details['additional_info']}")
        lines.append(
            "Thank you. We will contact you about the payment."
            if decision.get("approved")
            else "Thank you. A claims adjuster will contact you to explain the decision."
        )
        return _reply(
            context,
            "\n".join(lines),
            NextAction.END,
            f"Claim processing completed - claim {verdict}",
        )


def build_claims_graph() -> Graph:
    """The service's graph: one fixed path, with a car/apartment branch after classification."""
    initial, classifier = InitialClaimQueryTask(), InsuranceTypeClassifierTask()
    car, apartment = CarInsuranceDetailsTask(), ApartmentInsuranceDetailsTask()
    validator, summary = SmartClaimValidatorTask(), FinalSummaryTask()
    graph = Graph(GRAPH_ID)
    for task in (initial, classifier, car, apartment, validator, summary):
        graph.add_task(task)
    graph.add_edge(initial.id, classifier.id)
    graph.add_conditional_edge(
        classifier.id, lambda context: context.get(INSURANCE_TYPE) == CAR, car.id, apartment.id
    )
    graph.add_edge(car.id, validator.id)
    graph.add_edge(apartment.id, validator.id)
    graph.add_edge(validator.id, summary.id)
    return graph


#: The workflow the views, the runner and the demo generator share (tasks keep no state).
claims_graph = build_claims_graph()
