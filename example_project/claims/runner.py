"""Runs one workflow step against stored sessions: load, execute, save once.

graph-flow's ``FlowRunner`` with its chat service's habits: the user's message is put in the
context (``user_input``) and the chat history before the step, and the session is saved
once, after the whole step (ContinueAndExecute chains included) has succeeded. If a task
fails, or the save is refused, nothing is written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from graphflow_sessions.models import Session
from graphflow_sessions.storage import PostgresSessionStorage, SessionStorage

from .graph import ExecutionResult, Graph

USER_INPUT = "user_input"
SESSION_ID = "session_id"


@dataclass(frozen=True)
class StepOutcome:
    session: Session
    result: ExecutionResult


def take_user_input(session: Session, content: str) -> None:
    """Hand the user's message to the next task, as the Rust service's handler does."""
    context = session.context
    context.set(USER_INPUT, content)
    context.set(SESSION_ID, str(session.id))
    context.add_user_message(content)


class FlowRunner:
    def __init__(self, graph: Graph, storage: SessionStorage | None = None) -> None:
        self.graph = graph
        self.storage = storage if storage is not None else PostgresSessionStorage()

    def start(
        self, user_input: str | None = None, *, session_id: uuid.UUID | str | None = None
    ) -> StepOutcome:
        """Create a session at the graph's first task and run its first step."""
        session = self.graph.new_session(session_id if session_id is not None else uuid.uuid4())
        # expected_version=0: the id must still be free (never overwrite someone's session).
        return self._step(session, user_input, expected_version=0)

    def run(self, session_id: uuid.UUID | str, user_input: str | None = None) -> StepOutcome:
        """Load the session (SessionNotFound: "Session not found"), run one step, save it."""
        session = self.storage.get_or_raise(session_id)
        # The version read: a concurrent step on the same session makes this save fail with
        # SessionConflict instead of silently overwriting the other step's answer.
        return self._step(session, user_input, expected_version=session.version)

    def _step(self, session: Session, user_input: str | None, expected_version: int) -> StepOutcome:
        if user_input is not None:
            take_user_input(session, user_input)
        result = self.graph.execute(session)
        self.storage.save(session, expected_version=expected_version)
        return StepOutcome(session, result)
