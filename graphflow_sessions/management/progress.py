"""How far a long command has got, shown on its stderr at ``--verbosity 2`` and above.

On a terminal, one line redrawn in place with ``\\r`` (a bar when the total is known), so a
run of a million rows does not scroll a million lines; anywhere else (a log file, a pipe,
cron's mail) a plain line per report, since a carriage return there is noise. Below
verbosity 2 nothing is shown at all.
"""

from __future__ import annotations

import shutil

from django.core.management.base import OutputWrapper

#: Verbosity from which progress is shown (Django: 0 errors only, 1 summary, 2 details).
PROGRESS_VERBOSITY = 2

BAR_WIDTH = 24

# Django styles everything a command writes to a terminal's stderr as an error (red);
# progress is not one.
PLAIN = str


def bar(done: float, total: float) -> str:
    """``[##########..............]  42%``; a done beyond the total counts as complete."""
    share = min(max(done / total, 0.0), 1.0) if total > 0 else 1.0
    filled = round(share * BAR_WIDTH)
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share * 100:3.0f}%"


class Progress:
    """Reports written to ``stream``: redrawn on a terminal, one per line elsewhere."""

    def __init__(self, stream: OutputWrapper, verbosity: int) -> None:
        self.stream = stream
        self.shown = verbosity >= PROGRESS_VERBOSITY
        self.on_terminal = self.shown and stream.isatty()
        self._drawn = 0  # characters of the line on screen, to blank what a shorter one leaves

    @property
    def wants_total(self) -> bool:
        """Whether a total is worth computing: only a terminal draws the bar."""
        return self.on_terminal

    def report(self, text: str, done: float | None = None, total: float | None = None) -> None:
        if not self.shown:
            return
        if not self.on_terminal:
            self.stream.write(text, style_func=PLAIN)
            return
        line = text if done is None or total is None else f"{bar(done, total)} {text}"
        # A line longer than the terminal wraps, and \r then redraws only its last part.
        line = line[: max(shutil.get_terminal_size().columns - 1, 1)]
        self.stream.write("\r" + line.ljust(self._drawn), style_func=PLAIN, ending="")
        self.stream.flush()
        self._drawn = len(line)

    def finish(self) -> None:
        """End the redrawn line, so that what is written next starts on a line of its own."""
        if self._drawn:
            self.stream.write("", ending="\n")
            self._drawn = 0
