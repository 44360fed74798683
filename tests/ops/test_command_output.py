"""What the commands print at each --verbosity: errors only, a summary, then progress.

A terminal gets one progress line redrawn with a carriage return; a file or pipe gets
plain lines. The terminal here is a real pseudo-terminal, not a stand-in.
"""

from __future__ import annotations

import json
import os
import pty
import stat
import threading
import tty
import uuid
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any, TextIO

import pytest
from django.core.management import CommandError, call_command
from django.core.management.base import OutputWrapper
from django.utils import timezone, translation

from graphflow_sessions.context import Context
from graphflow_sessions.management.progress import BAR_WIDTH, Progress, bar
from graphflow_sessions.models import Session
from graphflow_sessions.storage import DatabaseSessionStorage

pytestmark = pytest.mark.django_db


def stored_sessions(count: int, *, age: timedelta | None = None, messages: int = 0) -> None:
    storage = DatabaseSessionStorage()
    for _ in range(count):
        session = Session(graph_id="claims", current_task_id="start")
        session.context = Context(max_messages=None)
        for index in range(messages):
            session.context.add_user_message(f"message {index}")
        storage.save(session)
    if age is not None:
        Session.objects.update(updated_at=timezone.now() - age)


def jsonl(path: Path, *, good: int, bad: int = 0) -> str:
    context = {"data": {}, "chat_history": {"messages": [], "max_messages": 1000}}
    lines = [
        json.dumps(
            {
                "id": str(uuid.uuid4()),
                "graph_id": "claims",
                "current_task_id": "start",
                "context": context,
            }
        )  # fmt: skip
        for _ in range(good)
    ] + ['{"id": "not a uuid"}'] * bad
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def run(command: str, *args: str, stderr: TextIO | None = None) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=stderr or err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def terminal() -> Iterator[tuple[TextIO, Any]]:
    """A pseudo-terminal: the file a command writes to, and a function reading what it got."""
    main, replica = pty.openpty()
    tty.setraw(replica)  # no "\n" -> "\r\n" translation: the test sees the bytes written
    writer = open(replica, "w", encoding="utf-8")  # noqa: SIM115 (closed below)

    def screen() -> str:
        writer.flush()
        received = b""
        os.set_blocking(main, False)
        try:
            while chunk := os.read(main, 65536):
                received += chunk
        except BlockingIOError:
            pass
        return received.decode()

    yield writer, screen
    writer.close()
    os.close(main)


# --verbosity 0: nothing but errors -------------------------------------------------------


def test_export_at_verbosity_0_writes_the_data_and_nothing_else() -> None:
    stored_sessions(2)

    out, err = run("graphflow_sessions_export", "-v", "0")

    assert len(out.splitlines()) == 2
    assert err == ""


def test_export_to_a_file_at_verbosity_0_prints_nothing(tmp_path: Path) -> None:
    stored_sessions(1)

    out, err = run("graphflow_sessions_export", "-o", str(tmp_path / "out.jsonl"), "-v", "0")

    assert (out, err) == ("", "")
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 1


def test_export_into_a_pipe_writes_through_it_and_leaves_it_a_pipe(tmp_path: Path) -> None:
    stored_sessions(2)
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text()), daemon=True)
    reader.start()

    run("graphflow_sessions_export", "-o", str(pipe), "-v", "0")
    reader.join(timeout=10)

    assert len(received[0].splitlines()) == 2
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert not (tmp_path / "pipe.partial").exists()


def test_import_at_verbosity_0_prints_only_the_rejected_lines(tmp_path: Path) -> None:
    source = jsonl(tmp_path / "in.jsonl", good=2, bad=1)
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match="1 of 3 lines was rejected"):
        call_command("graphflow_sessions_import", source, "-v", "0", stdout=out, stderr=err)

    assert out.getvalue() == ""
    assert err.getvalue().splitlines() == [
        "line 3: missing field(s): context, current_task_id, graph_id"
    ]
    assert Session.objects.count() == 2


def test_a_clean_import_at_verbosity_0_prints_nothing(tmp_path: Path) -> None:
    out, err = run("graphflow_sessions_import", jsonl(tmp_path / "in.jsonl", good=2), "-v", "0")

    assert (out, err) == ("", "")
    assert Session.objects.count() == 2


def test_prune_at_verbosity_0_prints_nothing() -> None:
    stored_sessions(3, age=timedelta(days=40))

    out, err = run(
        "graphflow_sessions_prune", "--older-than", "30d", "--batch-size", "1", "-v", "0"
    )

    assert (out, err) == ("", "")
    assert Session.objects.count() == 0


def test_trim_at_verbosity_0_prints_nothing() -> None:
    stored_sessions(2, messages=3)
    Session.objects.update(
        context={"data": {}, "chat_history": {"messages": [], "max_messages": 1}}
    )

    out, err = run("graphflow_sessions_prune", "--trim-messages", "-v", "0")

    assert (out, err) == ("", "")


def test_verbosity_0_shows_no_progress_even_on_a_terminal(terminal: Any) -> None:
    writer, screen = terminal
    stored_sessions(3, age=timedelta(days=40))

    run("graphflow_sessions_prune", "--older-than", "30d", "--batch-size", "1", "-v", "0",
        stderr=writer)  # fmt: skip

    assert screen() == ""


# Counts read as English: one session, two sessions -------------------------------------


@pytest.mark.parametrize(
    ("bad", "expected"), [(1, "; 1 line rejected."), (2, "; 2 lines rejected.")]
)
def test_import_counts_rejected_lines_in_singular_and_plural(
    tmp_path: Path, bad: int, expected: str
) -> None:
    out = StringIO()

    with pytest.raises(CommandError):
        call_command("graphflow_sessions_import", jsonl(tmp_path / "in.jsonl", good=1, bad=bad),
                     stdout=out, stderr=StringIO())  # fmt: skip

    assert out.getvalue().startswith("Imported 1 session (1 new, 0 replaced) from ")
    assert out.getvalue().rstrip().endswith(expected)


@pytest.mark.parametrize(("count", "noun"), [(1, "session"), (2, "sessions")])
def test_export_and_prune_count_sessions_in_singular_and_plural(
    tmp_path: Path, count: int, noun: str
) -> None:
    stored_sessions(count, age=timedelta(days=40))
    target = tmp_path / "out.jsonl"

    _, exported = run("graphflow_sessions_export", "-o", str(target))
    pruned, _ = run("graphflow_sessions_prune", "--older-than", "30d")

    assert f"Exported {count} {noun} to {target} in " in exported
    assert f"Deleted {count} {noun} in total in " in pruned


def test_prune_summary_says_one_batch_in_the_singular() -> None:
    stored_sessions(2, age=timedelta(days=40))

    out, _ = run("graphflow_sessions_prune", "--older-than", "30d")

    assert "Deleted 2 sessions in total in " in out
    assert " (1 batch, " in out


# Progress: -v 2, lines in a file, a bar on a terminal ----------------------------------


def test_progress_is_not_shown_at_the_default_verbosity() -> None:
    stored_sessions(3, age=timedelta(days=40))

    out, err = run("graphflow_sessions_prune", "--older-than", "30d", "--batch-size", "1")

    assert err == ""
    assert "Deleted 3 sessions in total" in out


def test_progress_off_a_terminal_is_one_plain_line_per_batch(tmp_path: Path) -> None:
    _, err = run("graphflow_sessions_import", jsonl(tmp_path / "in.jsonl", good=3),
                 "--batch-size", "1", "-v", "2")  # fmt: skip

    assert err.splitlines() == [
        "1 line read, 1 session written",
        "2 lines read, 2 sessions written",
        "3 lines read, 3 sessions written",
    ]
    assert "\r" not in err


def test_progress_on_a_terminal_is_one_bar_redrawn_to_the_end(
    tmp_path: Path, terminal: Any
) -> None:
    writer, screen = terminal
    source = jsonl(tmp_path / "in.jsonl", good=3)

    out, _ = run("graphflow_sessions_import", source, "--batch-size", "1", "-v", "2",
                 stderr=writer)  # fmt: skip

    shown = screen()
    assert shown.count("\r") == 3
    assert shown.endswith("\n") and shown.count("\n") == 1
    last = shown.rstrip("\n").rsplit("\r", 1)[1]
    assert last.startswith(f"[{'#' * BAR_WIDTH}] 100% 3 lines read, 3 sessions written")
    assert "\x1b[" not in shown  # progress is not styled as an error
    assert out.startswith("Imported 3 sessions")


def test_prune_on_a_terminal_draws_its_bar_against_the_rows_it_will_delete(
    terminal: Any,
) -> None:
    writer, screen = terminal
    stored_sessions(4, age=timedelta(days=40))

    run("graphflow_sessions_prune", "--older-than", "30d", "--batch-size", "2", "-v", "2",
        stderr=writer)  # fmt: skip

    frames = screen().rstrip("\n").split("\r")[1:]
    assert [frame[: len(bar(2, 4))] for frame in frames] == [bar(2, 4), bar(4, 4)]
    assert "50%" in frames[0] and "100%" in frames[1]


def test_trim_on_a_terminal_draws_its_bar_against_the_sessions_it_scans(terminal: Any) -> None:
    writer, screen = terminal
    stored_sessions(2, messages=3)

    run("graphflow_sessions_prune", "--trim-messages", "--batch-size", "1", "-v", "2",
        stderr=writer)  # fmt: skip

    frames = screen().rstrip("\n").split("\r")[1:]
    assert [frame[: len(bar(1, 2))] for frame in frames] == [bar(1, 2), bar(2, 2)]


def test_a_shorter_redraw_blanks_what_the_longer_one_left(terminal: Any) -> None:
    writer, screen = terminal
    progress = Progress(OutputWrapper(writer), verbosity=2)
    progress.report("a long line of text")
    progress.report("short")
    progress.finish()

    assert screen() == "\ra long line of text\r" + "short".ljust(19) + "\n"


def test_the_bar_fills_in_proportion_and_never_past_the_end() -> None:
    assert bar(0, 4) == f"[{'.' * BAR_WIDTH}]   0%"
    assert bar(1, 4) == f"[{'#' * (BAR_WIDTH // 4)}{'.' * (BAR_WIDTH * 3 // 4)}]  25%"
    assert bar(9, 4) == f"[{'#' * BAR_WIDTH}] 100%"


# In the active language ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "summary", "failure"),
    [
        ("de", "1 Sitzung importiert (1 neu, 0 ersetzt) aus 2 Zeilen in ", "1 von 2 Zeilen wurde"),
        ("fr", "Import terminé : 1 session (nouvelles : 1, remplacées : 0), depuis 2 lignes",
         "1 ligne sur 2 a été rejetée"),
    ],
)  # fmt: skip
def test_import_reports_in_the_active_language(
    tmp_path: Path, language: str, summary: str, failure: str
) -> None:
    out = StringIO()

    with translation.override(language), pytest.raises(CommandError, match=failure):
        call_command("graphflow_sessions_import", jsonl(tmp_path / "in.jsonl", good=1, bad=1),
                     stdout=out, stderr=StringIO())  # fmt: skip

    assert out.getvalue().startswith(summary)
