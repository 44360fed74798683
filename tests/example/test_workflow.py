"""The example project's workflow engine: what each next action does to a stored session.

A runner step loads the session, runs tasks, and saves once; when anything fails nothing is
saved. These run against the real database through DatabaseSessionStorage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from example_project.claims.graph import (
    ExecutionStatus,
    Graph,
    GraphError,
    NextAction,
    Task,
    TaskExecutionFailed,
    TaskNotFound,
    TaskResult,
    WrongGraph,
)
from example_project.claims.runner import FlowRunner
from graphflow_sessions.context import Context
from graphflow_sessions.exceptions import (
    ContextSerializationError,
    SessionConflict,
    SessionNotFound,
)
from graphflow_sessions.models import Session
from graphflow_sessions.signals import session_saved
from graphflow_sessions.storage import DatabaseSessionStorage

pytestmark = pytest.mark.django_db

Behaviour = Callable[[Context], TaskResult]


class ScriptedTask(Task):
    """A task that marks the context with its id, then does what the test says."""

    def __init__(self, task_id: str, behaviour: Behaviour) -> None:
        self.task_id = task_id
        self.behaviour = behaviour

    def run(self, context: Context) -> TaskResult:
        context.set(f"ran:{self.task_id}", context.get(f"ran:{self.task_id}", 0) + 1)
        return self.behaviour(context)


def returns(
    action: NextAction, response: str | None = None, status: str | None = None
) -> Behaviour:
    return lambda context: TaskResult(response, action, status)


def build(*tasks: tuple[str, Behaviour], edges: list[tuple[str, str]] | None = None) -> Graph:
    graph = Graph("test_graph")
    for task_id, behaviour in tasks:
        graph.add_task(ScriptedTask(task_id, behaviour))
    for from_id, to_id in edges or []:
        graph.add_edge(from_id, to_id)
    return graph


@pytest.fixture
def storage() -> DatabaseSessionStorage:
    return DatabaseSessionStorage()


@pytest.fixture
def saves() -> Iterator[list[Session]]:
    saved: list[Session] = []

    def receiver(sender: Any, session: Session, **kwargs: Any) -> None:
        saved.append(session)

    session_saved.connect(receiver)
    yield saved
    session_saved.disconnect(receiver)


def stored_at(storage: DatabaseSessionStorage, task_id: str, **data: Any) -> Session:
    context = Context()
    for key, value in data.items():
        context.set(key, value)
    session = Session(graph_id="test_graph", current_task_id=task_id, context=context)
    storage.save(session)
    return session


def snapshot(storage: DatabaseSessionStorage, session_id: Any) -> tuple[Any, ...]:
    row = storage.get(session_id)
    assert row is not None
    return (
        row.current_task_id,
        row.status_message,
        row.raw_context,
        row.version,
        row.updated_at,
    )


def test_continue_moves_to_the_next_task_and_stops(storage: DatabaseSessionStorage) -> None:
    graph = build(
        ("a", returns(NextAction.CONTINUE, "from a", "a done")),
        ("b", returns(NextAction.END)),
        edges=[("a", "b")],
    )
    session = stored_at(storage, "a")

    outcome = FlowRunner(graph, storage).run(session.id, "hello")

    assert (outcome.result.response, outcome.result.status) == ("from a", ExecutionStatus.PAUSED)
    stored = storage.get(session.id)
    assert stored is not None
    assert (stored.current_task_id, stored.status_message) == ("b", "a done")
    assert "ran:b" not in stored.context
    assert stored.context.get("user_input") == "hello"
    assert [m.content for m in stored.context.get_all_messages()] == ["hello"]


def test_continue_and_execute_runs_the_next_task_in_the_same_step_and_saves_once(
    storage: DatabaseSessionStorage, saves: list[Session]
) -> None:
    graph = build(
        ("a", returns(NextAction.CONTINUE_AND_EXECUTE, None, "a done")),
        ("b", returns(NextAction.CONTINUE_AND_EXECUTE, None, "b done")),
        ("c", returns(NextAction.WAIT_FOR_INPUT, "question from c", "c waits")),
        edges=[("a", "b"), ("b", "c")],
    )
    session = stored_at(storage, "a")
    saves.clear()

    outcome = FlowRunner(graph, storage).run(session.id, "go")

    assert outcome.result.response == "question from c"
    assert outcome.result.status is ExecutionStatus.WAITING_FOR_INPUT
    assert len(saves) == 1
    stored = storage.get(session.id)
    assert stored is not None
    assert (stored.current_task_id, stored.status_message) == ("c", "c waits")
    assert [stored.context.get(f"ran:{t}") for t in "abc"] == [1, 1, 1]
    assert stored.version == session.version + 1


def test_wait_for_input_stays_on_the_task(storage: DatabaseSessionStorage) -> None:
    graph = build(
        ("a", returns(NextAction.WAIT_FOR_INPUT, "tell me more")),
        ("b", returns(NextAction.END)),
        edges=[("a", "b")],
    )
    session = stored_at(storage, "a")
    runner = FlowRunner(graph, storage)

    first = runner.run(session.id, "one")
    second = runner.run(session.id, "two")

    assert first.result.status is second.result.status is ExecutionStatus.WAITING_FOR_INPUT
    stored = storage.get(session.id)
    assert stored is not None
    assert stored.current_task_id == "a"
    assert stored.context.get("ran:a") == 2
    assert [m.content for m in stored.context.get_all_messages()] == ["one", "two"]


def test_end_stays_on_the_task_and_completes(storage: DatabaseSessionStorage) -> None:
    graph = build(
        ("a", returns(NextAction.END, "bye", "finished")),
        ("b", returns(NextAction.END)),
        edges=[("a", "b")],
    )
    session = stored_at(storage, "a")

    outcome = FlowRunner(graph, storage).run(session.id, "done?")

    assert outcome.result.status is ExecutionStatus.COMPLETED
    stored = storage.get(session.id)
    assert stored is not None
    assert (stored.current_task_id, stored.status_message) == ("a", "finished")
    assert "ran:b" not in stored.context


def test_goto_jumps_to_the_named_task_without_running_it(storage: DatabaseSessionStorage) -> None:
    graph = build(
        ("a", returns(NextAction.goto("c"), "jumping")),
        ("b", returns(NextAction.END)),
        ("c", returns(NextAction.END)),
        edges=[("a", "b"), ("b", "c")],
    )
    session = stored_at(storage, "a")

    outcome = FlowRunner(graph, storage).run(session.id, "skip ahead")

    assert (outcome.result.status, outcome.result.next_task_id) == (ExecutionStatus.PAUSED, "c")
    stored = storage.get(session.id)
    assert stored is not None
    assert stored.current_task_id == "c"
    assert "ran:b" not in stored.context and "ran:c" not in stored.context


def test_continue_from_a_task_without_an_edge_completes_the_workflow(
    storage: DatabaseSessionStorage,
) -> None:
    graph = build(("only", returns(NextAction.CONTINUE, "that was all")))
    session = stored_at(storage, "only")

    outcome = FlowRunner(graph, storage).run(session.id)

    assert outcome.result.status is ExecutionStatus.COMPLETED
    assert storage.get(session.id).current_task_id == "only"  # type: ignore[union-attr]


def test_status_message_is_replaced_every_step_and_can_become_null(
    storage: DatabaseSessionStorage,
) -> None:
    graph = build(
        ("a", returns(NextAction.CONTINUE, None, "from a")),
        ("b", returns(NextAction.WAIT_FOR_INPUT, None, None)),
        edges=[("a", "b")],
    )
    session = stored_at(storage, "a")
    runner = FlowRunner(graph, storage)

    runner.run(session.id)
    assert storage.get(session.id).status_message == "from a"  # type: ignore[union-attr]
    runner.run(session.id)
    assert storage.get(session.id).status_message is None  # type: ignore[union-attr]


def _fails_after_writing(context: Context) -> TaskResult:
    context.set("half_written", True)
    context.add_assistant_message("this must not be stored")
    raise RuntimeError("the model timed out")


def test_a_failing_step_saves_nothing(
    storage: DatabaseSessionStorage, saves: list[Session]
) -> None:
    graph = build(
        ("a", returns(NextAction.CONTINUE_AND_EXECUTE, None, "a done")),
        ("b", _fails_after_writing),
        edges=[("a", "b")],
    )
    session = stored_at(storage, "a", claim="kept")
    before = snapshot(storage, session.id)
    saves.clear()

    with pytest.raises(TaskExecutionFailed, match=r"task 'b' of session .* failed") as caught:
        FlowRunner(graph, storage).run(session.id, "this input is lost with the step")

    assert isinstance(caught.value.__cause__, RuntimeError)
    assert saves == []
    assert snapshot(storage, session.id) == before


def test_a_step_whose_context_cannot_be_stored_saves_nothing(
    storage: DatabaseSessionStorage,
) -> None:
    graph = build(("a", returns(NextAction.WAIT_FOR_INPUT, "ok")))
    session = stored_at(storage, "a")
    before = snapshot(storage, session.id)

    with pytest.raises(ContextSerializationError, match="user_input"):
        FlowRunner(graph, storage).run(session.id, "a NUL \x00 character")

    assert snapshot(storage, session.id) == before


def test_goto_an_unknown_task_fails_and_saves_nothing(storage: DatabaseSessionStorage) -> None:
    graph = build(("a", returns(NextAction.goto("nowhere"))))
    session = stored_at(storage, "a")
    before = snapshot(storage, session.id)

    with pytest.raises(TaskNotFound, match="no task 'nowhere'"):
        FlowRunner(graph, storage).run(session.id, "x")

    assert snapshot(storage, session.id) == before


def test_a_session_at_a_task_the_graph_lacks_fails_clearly(storage: DatabaseSessionStorage) -> None:
    graph = build(("a", returns(NextAction.END)))
    session = stored_at(storage, "retired_task")

    with pytest.raises(TaskNotFound, match="has no task 'retired_task'"):
        FlowRunner(graph, storage).run(session.id)


def test_a_continue_and_execute_cycle_is_stopped_and_saves_nothing(
    storage: DatabaseSessionStorage,
) -> None:
    graph = build(
        ("a", returns(NextAction.CONTINUE_AND_EXECUTE)),
        ("b", returns(NextAction.CONTINUE_AND_EXECUTE)),
        edges=[("a", "b"), ("b", "a")],
    )
    session = stored_at(storage, "a")
    before = snapshot(storage, session.id)

    with pytest.raises(GraphError, match="cycle"):
        FlowRunner(graph, storage).run(session.id, "loop")

    assert snapshot(storage, session.id) == before


def test_running_an_unknown_session_raises_session_not_found(
    storage: DatabaseSessionStorage,
) -> None:
    graph = build(("a", returns(NextAction.END)))

    with pytest.raises(SessionNotFound, match="Session not found"):
        FlowRunner(graph, storage).run("6f1c2a4e-9b1d-4c1e-8f00-2b7d0c8a9e11", "hello")

    assert Session.objects.count() == 0


def test_a_step_racing_another_writer_conflicts_and_keeps_the_other_write(
    storage: DatabaseSessionStorage,
) -> None:
    def meanwhile_someone_else_saves(context: Context) -> TaskResult:
        other = storage.get(context.get("session_id"))
        assert other is not None
        other.context.set("written_by", "the other request")
        storage.save(other)
        return TaskResult("mine", NextAction.WAIT_FOR_INPUT)

    graph = build(("a", meanwhile_someone_else_saves))
    session = stored_at(storage, "a")

    with pytest.raises(SessionConflict):
        FlowRunner(graph, storage).run(session.id, "race")

    stored = storage.get(session.id)
    assert stored is not None
    assert stored.context.get("written_by") == "the other request"
    assert "ran:a" not in stored.context


def test_a_session_of_another_graph_is_refused_and_left_alone(
    storage: DatabaseSessionStorage,
) -> None:
    graph = build(("a", returns(NextAction.END)))
    session = stored_at(storage, "a")
    session.graph_id = "support_bot"
    storage.save(session)
    before = snapshot(storage, session.id)

    with pytest.raises(WrongGraph, match="belongs to graph 'support_bot', not 'test_graph'"):
        FlowRunner(graph, storage).run(session.id, "hi")

    assert snapshot(storage, session.id) == before


def test_start_creates_a_session_at_the_first_task(storage: DatabaseSessionStorage) -> None:
    graph = build(
        ("first", returns(NextAction.CONTINUE, "welcome")),
        ("second", returns(NextAction.END)),
        edges=[("first", "second")],
    )

    outcome = FlowRunner(graph, storage).start("hi")

    stored = storage.get(outcome.session.id)
    assert stored is not None
    assert (stored.graph_id, stored.current_task_id) == ("test_graph", "second")
    assert stored.context.get("session_id") == str(stored.id)
    assert stored.version == 1


def test_start_never_overwrites_a_session_that_has_the_id(storage: DatabaseSessionStorage) -> None:
    graph = build(("first", returns(NextAction.END)))
    taken = stored_at(storage, "elsewhere", owner="someone else")

    with pytest.raises(SessionConflict):
        FlowRunner(graph, storage).start("hi", session_id=taken.id)

    stored = storage.get(taken.id)
    assert stored is not None
    assert (stored.current_task_id, stored.context.get("owner")) == ("elsewhere", "someone else")
