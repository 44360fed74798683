"""A small Python take on graph-flow's execution model: tasks, next actions, and a graph.

A task reads and writes the session's Context and returns a :class:`TaskResult`: an optional
response for the user, a :class:`NextAction`, and an optional status message. The graph
decides where each action leads; :meth:`Graph.execute` runs one step of a session the way
graph-flow's ``Graph::execute_session`` does:

- ``Continue``: move to the next task and stop (status ``Paused``);
- ``ContinueAndExecute``: move to the next task and run it now, in the same step;
- ``WaitForInput``: stay on this task and wait for the user (status ``WaitingForInput``);
- ``End``: stay on this task; the workflow is finished (status ``Completed``);
- ``GoTo(task_id)``: jump to any task of the graph and stop (status ``Paused``).

A step works on a copy of the context and only hands it back when every task succeeded,
so a failing step leaves the session exactly as it was loaded.
"""

from __future__ import annotations

import abc
import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from graphflow_sessions.context import Context
from graphflow_sessions.models import Session

__all__ = [
    "END",
    "ExecutionResult",
    "ExecutionStatus",
    "Graph",
    "GraphError",
    "NextAction",
    "Task",
    "TaskExecutionFailed",
    "TaskNotFound",
    "TaskResult",
    "WrongGraph",
]


class GraphError(Exception):
    """A workflow step could not run (the session is left as it was loaded)."""


class TaskNotFound(GraphError):
    """The session (or a GoTo) names a task the graph does not have."""


class WrongGraph(GraphError):
    """The session belongs to another graph (its ``graph_id`` names a different workflow)."""


class TaskExecutionFailed(GraphError):
    """A task raised; the original exception is chained."""


class _Kind(enum.Enum):
    CONTINUE = "Continue"
    CONTINUE_AND_EXECUTE = "ContinueAndExecute"
    WAIT_FOR_INPUT = "WaitForInput"
    END = "End"
    GOTO = "GoTo"


@dataclass(frozen=True)
class NextAction:
    """Where the workflow goes after a task: build it with the class attributes or ``goto``."""

    kind: _Kind
    target: str | None = None

    # The four actions without a target, set below the class.
    CONTINUE: ClassVar[NextAction]
    CONTINUE_AND_EXECUTE: ClassVar[NextAction]
    WAIT_FOR_INPUT: ClassVar[NextAction]
    END: ClassVar[NextAction]

    @classmethod
    def goto(cls, task_id: str) -> NextAction:
        return cls(_Kind.GOTO, task_id)

    def __repr__(self) -> str:
        if self.kind is _Kind.GOTO:
            return f"GoTo({self.target!r})"
        return self.kind.value


NextAction.CONTINUE = NextAction(_Kind.CONTINUE)
NextAction.CONTINUE_AND_EXECUTE = NextAction(_Kind.CONTINUE_AND_EXECUTE)
NextAction.WAIT_FOR_INPUT = NextAction(_Kind.WAIT_FOR_INPUT)
NextAction.END = NextAction(_Kind.END)


@dataclass(frozen=True)
class TaskResult:
    response: str | None
    next_action: NextAction
    status_message: str | None = None


class Task(abc.ABC):
    """One node of the graph. ``id`` defaults to a Rust-like type path of the class."""

    #: The Rust crate names a task by ``std::any::type_name::<Self>()``, e.g.
    #: ``insurance_claims_service::tasks::initial_claim_query::InitialClaimQueryTask``;
    #: subclasses set the same kind of path, so sessions read the same in either service.
    task_id: str = ""

    @property
    def id(self) -> str:
        return self.task_id or f"{type(self).__module__.replace('.', '::')}::{type(self).__name__}"

    @abc.abstractmethod
    def run(self, context: Context) -> TaskResult:
        """Do the task's work on ``context`` and say what comes next."""


class ExecutionStatus(str, enum.Enum):
    """What a step ended in (graph-flow's ``ExecutionStatus``, by its variant name)."""

    PAUSED = "Paused"
    WAITING_FOR_INPUT = "WaitingForInput"
    COMPLETED = "Completed"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ExecutionResult:
    response: str | None
    status: ExecutionStatus
    #: The task the next step will run (the session's new ``current_task_id``).
    next_task_id: str


#: An edge target meaning "no next task": Continue into it completes the workflow.
END = "__end__"

Condition = Callable[[Context], bool]


class Graph:
    """Tasks, plain edges and conditional edges (graph-flow's ``GraphBuilder``, as methods)."""

    #: A ContinueAndExecute chain longer than this is a cycle in the graph, not a workflow.
    max_chain = 100

    def __init__(self, graph_id: str) -> None:
        self.graph_id = graph_id
        self._tasks: dict[str, Task] = {}
        self._edges: dict[str, Callable[[Context], str]] = {}
        self.start_task_id: str | None = None

    def add_task(self, task: Task) -> Graph:
        if task.id in self._tasks:
            raise ValueError(f"graph {self.graph_id!r} already has a task {task.id!r}")
        self._tasks[task.id] = task
        if self.start_task_id is None:
            self.start_task_id = task.id
        return self

    def add_edge(self, from_id: str, to_id: str) -> Graph:
        self._require(from_id)
        self._require(to_id)
        self._edges[from_id] = lambda context: to_id
        return self

    def add_conditional_edge(
        self, from_id: str, condition: Condition, yes_id: str, no_id: str
    ) -> Graph:
        for task_id in (from_id, yes_id, no_id):
            self._require(task_id)
        self._edges[from_id] = lambda context: yes_id if condition(context) else no_id
        return self

    def task(self, task_id: str) -> Task:
        try:
            return self._tasks[task_id]
        except KeyError:
            raise TaskNotFound(
                f"graph {self.graph_id!r} has no task {task_id!r} "
                f"(it has: {', '.join(self._tasks)})"
            ) from None

    def _require(self, task_id: str) -> None:
        if task_id != END:
            self.task(task_id)

    def next_task_id(self, task_id: str, context: Context) -> str:
        edge = self._edges.get(task_id)
        return END if edge is None else edge(context)

    def new_session(self, session_id: uuid.UUID | str | None = None) -> Session:
        """An unsaved session at the start task (graph-flow's ``Session::new_from_task``)."""
        if self.start_task_id is None:
            raise GraphError(f"graph {self.graph_id!r} has no tasks")
        session = Session(graph_id=self.graph_id, current_task_id=self.start_task_id)
        if session_id is not None:
            session.id = session_id
        return session

    def execute(self, session: Session, *, in_place: bool = False) -> ExecutionResult:
        """Run one step of ``session`` in memory: its context and task move only on success.

        ``in_place=True`` skips copying the context first, for callers that throw the session
        away when a step fails (the demo generator builds thousands of sessions a second).
        """
        if session.graph_id != self.graph_id:
            raise WrongGraph(
                f"session {session.id} belongs to graph {session.graph_id!r}, not {self.graph_id!r}"
            )
        context = session.context if in_place else session.context.copy()
        task_id = session.current_task_id
        response: str | None = None
        status_message: str | None = None
        for _ in range(self.max_chain):
            task = self.task(task_id)
            try:
                result = task.run(context)
            except Exception as exc:
                raise TaskExecutionFailed(
                    f"task {task_id!r} of session {session.id} failed: {exc}"
                ) from exc
            response, status_message = result.response, result.status_message
            action = result.next_action
            if action.kind is _Kind.WAIT_FOR_INPUT:
                status = ExecutionStatus.WAITING_FOR_INPUT
            elif action.kind is _Kind.END:
                status = ExecutionStatus.COMPLETED
            elif action.kind is _Kind.GOTO:
                assert action.target is not None
                task_id = self.task(action.target).id
                status = ExecutionStatus.PAUSED
            else:
                following = self.next_task_id(task_id, context)
                if following == END:  # nothing after this task: the workflow is done
                    status = ExecutionStatus.COMPLETED
                elif action.kind is _Kind.CONTINUE_AND_EXECUTE:
                    task_id = following
                    continue
                else:
                    task_id, status = following, ExecutionStatus.PAUSED
            break
        else:
            raise GraphError(
                f"graph {self.graph_id!r}: more than {self.max_chain} tasks chained with "
                f"ContinueAndExecute in one step (session {session.id}); the graph has a cycle"
            )
        session.context = context
        session.current_task_id = task_id
        session.status_message = status_message
        return ExecutionResult(response, status, task_id)
