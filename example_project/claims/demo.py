"""Realistic demo conversations, made by running the real workflow in memory.

Each conversation is a scripted customer talking to :data:`claims_graph`: a car or apartment
incident, a cost under or over the $1000 threshold, and a stop somewhere along the way, so
some sessions wait for input (a description, a cost, an approval) and others are finished.
The sessions are what ``POST /execute`` would have stored, only back-dated: they can be
browsed in the admin and continued over HTTP. A seed makes the conversations reproducible
(the ids are always new).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.utils import timezone

from graphflow_sessions.models import Session

from .runner import take_user_input
from .tasks import APARTMENT, CAR, CLAIM_DECISION, claims_graph

_INCIDENTS: dict[str, list[tuple[str, str]]] = {
    CAR: [
        ("Someone rear-ended my car at a red light on Main Street", "The rear bumper is dented"),
        (
            "A shopping cart rolled into my car in the supermarket parking lot",
            "There is a long scratch along the passenger door",
        ),
        ("Hail damaged my car during last night's storm", "The hood has dozens of small dents"),
        ("A stone cracked my windshield on the highway", "The crack runs across the driver side"),
        ("I backed my car into a pole in a parking garage", "The rear fender is crushed"),
        (
            "My car was broken into overnight on my street",
            "The side window is smashed and the radio is gone",
        ),
        (
            "Another driver sideswiped my vehicle while changing lanes",
            "Both doors on the driver side are scraped and the mirror is broken",
        ),
        ("A tree branch fell on my car in the storm", "The roof and the windshield are damaged"),
    ],
    APARTMENT: [
        (
            "A pipe burst under the kitchen sink in my apartment",
            "Water soaked the cabinets and the floor",
        ),
        (
            "There was a small kitchen fire in my apartment",
            "The stove and the wall behind it are badly damaged",
        ),
        (
            "My apartment was burglarized while I was away for the weekend",
            "They took a laptop and a TV and broke the door lock",
        ),
        (
            "Water is leaking through the ceiling of my apartment from the flat above",
            "The bedroom ceiling is stained and the carpet is ruined",
        ),
        (
            "The washing machine overflowed and flooded the bathroom of my apartment",
            "The floor tiles came loose and the wall is wet",
        ),
        (
            "A storm blew in the balcony door of my apartment",
            "Rain ruined the living room floor and a sofa",
        ),
    ],
}

_OPENERS = [
    "Hi, I need to file a claim.",
    "Hello",
    "Good morning, I'd like to report some damage.",
    "Hi there, can you help me with a claim?",
    "I want to make an insurance claim.",
]
_VAGUE = [
    "Something got damaged and I need it covered.",
    "It's about some damage, I'm not sure what you need from me.",
    "There was an accident yesterday.",
]
_COST_ANSWERS = [
    "The repair shop quoted ${amount}.",
    "About ${amount}.",
    "Roughly {amount} dollars.",
    "The estimate is ${amount}.",
    "{amount}",
]
_AUTO_APPROVED_REPLIES = ["Yes, please.", "Yes", "Sure, show me the summary.", "Go ahead."]
_APPROVALS = ["approved", "Approved.", "Claim approved, thanks.", "I have approved it."]
_REJECTIONS = ["rejected", "Rejected, the damage was pre-existing.", "Denied."]
_ANY_TIME = [
    "Thanks, what happens next?",
    "How long will this take?",
]


def _rfc3339(moment: datetime) -> str:
    # format_timestamp's output for a UTC moment, by isoformat (several times faster than
    # strftime, which dominated generating 100,000 sessions).
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _amount(rng: random.Random) -> float:
    if rng.random() < 0.6:
        return round(rng.uniform(90, 999), 2)  # auto-approved
    return round(rng.choice([rng.uniform(1000, 4000), rng.uniform(4000, 18000)]), 2)


def _money(amount: float, rng: random.Random) -> str:
    return f"{amount:,.2f}" if rng.random() < 0.5 else f"{round(amount):,}"


def conversation(rng: random.Random) -> list[str]:
    """The customer's messages of one whole claim, first to last."""
    kind = CAR if rng.random() < 0.55 else APARTMENT
    incident, damage = rng.choice(_INCIDENTS[kind])
    amount = _amount(rng)
    style = rng.random()
    if style < 0.4:  # greets, then tells the story
        turns = [rng.choice(_OPENERS), f"{incident}. {damage}."]
    elif style < 0.7:  # tells the story at once, then adds the damage
        turns = [f"{incident}.", f"{damage}."]
    else:  # vague at first: the assistant has to ask car or apartment
        turns = [rng.choice(_OPENERS), rng.choice(_VAGUE), f"It's my {kind}. {incident}."]
    if rng.random() < 0.35:
        turns[-1] += f" The estimate is ${_money(amount, rng)}."
    else:
        turns.append(rng.choice(_COST_ANSWERS).format(amount=_money(amount, rng)))
    if amount < 1000:
        turns.append(rng.choice(_AUTO_APPROVED_REPLIES))
    else:
        if rng.random() < 0.2:
            turns.append(rng.choice(_ANY_TIME))  # answered with "waiting for approval"
        turns.append(rng.choice(_REJECTIONS if rng.random() < 0.15 else _APPROVALS))
    return turns


def demo_session(rng: random.Random, now: datetime, *, days: int = 60) -> Session:
    """One back-dated session: a conversation run through the workflow, finished or not."""
    turns = conversation(rng)
    if rng.random() < 0.4:  # stopped part way: waiting for the customer
        turns = turns[: rng.randrange(1, len(turns))]
    # Fresh ids even with a seed: running the generator twice must not collide.
    session = claims_graph.new_session(uuid.uuid4())
    for text in turns:
        take_user_input(session, text)
        claims_graph.execute(session, in_place=True)
    # Spread the messages over a realistic timeline ending before ``now``.
    data = session.context.to_dict()
    messages = data["chat_history"]["messages"]
    moment = now - timedelta(seconds=rng.uniform(600, days * 86400))
    created = moment
    for message in messages:
        moment += timedelta(
            seconds=rng.uniform(1, 4) if message["role"] == "Assistant" else rng.uniform(15, 600)
        )
        message["timestamp"] = _rfc3339(moment)
    decision = data["data"].get(CLAIM_DECISION)
    if decision:
        decision["timestamp"] = _rfc3339(moment)
    session.context = data
    session.created_at, session.updated_at = created, moment
    # One save per step: the version a row gets after this many /execute calls.
    session.version = len(turns)
    return session


def demo_sessions(count: int, *, seed: int | None = None) -> Iterator[Session]:
    rng = random.Random(seed)
    now = timezone.now()
    for _ in range(count):
        yield demo_session(rng, now)
