"""Realistic graph-flow contexts of a chosen size, modelled on the insurance-claims service.

The data keys are the ones that service writes (``claim_details``, ``claim_decision``...);
the chat history alternates short user turns with longer assistant answers, as an LLM
conversation does, with a little non-ASCII text. Everything is generated from a fixed seed
so every run and every contender stores the same bytes.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any

# fmt: off
_WORDS = (
    "claim", "policy", "vehicle", "damage", "bumper", "windscreen", "apartment", "water",
    "leak", "kitchen", "ceiling", "estimate", "repair", "invoice", "deductible", "coverage",
    "adjuster", "photo", "receipt", "incident", "report", "police", "collision", "parking",
    "hail", "storm", "theft", "burglary", "contents", "liability", "approval", "customer",
    "agent", "review", "amount", "threshold", "insured", "premium", "renewal", "garage",
    "quote", "déjà", "façade", "naïve", "€",
)
# fmt: on

_USER_TURNS = (
    "I'd like to file a claim",
    "It's a car insurance claim",
    "Someone hit my car in a parking lot yesterday evening",
    "about $150",
    "The rear bumper is scratched and one tail light is cracked",
    "Yes, I have photos of the damage",
)


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def _timestamp(start: datetime, index: int) -> str:
    moment = start + timedelta(seconds=7 * index, microseconds=137 * index)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def claim_data(session_id: str) -> dict[str, Any]:
    """The data keys the insurance-claims service leaves after a full run."""
    return {
        "user_input": "about $150",
        "session_id": session_id,
        "insurance_type": "car",
        "claim_details": {
            "insurance_type": "car",
            "description": "Rear bumper scratched and tail light cracked in a parking lot",
            "estimated_cost": 150.0,
            "additional_info": "Photos available; the other driver left a note",
        },
        "claim_decision": {
            "approved": True,
            "decision_reason": "Auto-approved: claim amount under $1000 threshold",
            "timestamp": "2025-06-10T17:32:27.573057+00:00",
        },
        "approval_state": "completed",
        "retry_count": 0,
        "validation_passed": True,
        "workflow_completed": True,
    }


def context_dict(target_bytes: int, *, seed: int = 2025) -> dict[str, Any]:
    """A contract-shaped context (``Context.to_dict()`` form) of about ``target_bytes`` as JSON.

    Messages are added until the compact JSON reaches the target, so the result is within
    one message of it.
    """
    rng = random.Random(seed)
    start = datetime(2025, 6, 10, 17, 30, 48, 727954, tzinfo=timezone.utc)
    value: dict[str, Any] = {
        "data": claim_data("6f1c2a4e-9b1d-4c1e-8f00-2b7d0c8a9e11"),
        "chat_history": {"messages": [], "max_messages": None},
    }
    messages: list[dict[str, str]] = value["chat_history"]["messages"]
    size = len(_encode(value))
    index = 0
    while size < target_bytes:
        if index % 2 == 0:
            role = "User"
            content = _USER_TURNS[(index // 2) % len(_USER_TURNS)]
            if index >= 2 * len(_USER_TURNS):
                content = _sentence(rng, rng.randint(8, 30))
        else:
            role = "Assistant"
            content = " ".join(
                _sentence(rng, rng.randint(10, 25)) for _ in range(rng.randint(3, 9))
            )
        message = {"role": role, "content": content, "timestamp": _timestamp(start, index)}
        extra = len(_encode(message)) + 1
        if messages and size + extra > target_bytes * 1.02:
            # Trim the last message's content rather than overshoot the target.
            room = target_bytes - size - (extra - len(content.encode()))
            if room < 20:
                break
            message["content"] = content.encode()[:room].decode("utf-8", "ignore")
            extra = len(_encode(message)) + 1
        messages.append(message)
        size += extra
        index += 1
    return value


def _encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
