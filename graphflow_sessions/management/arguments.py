"""Command-line values the management commands share, checked with a message that names the
option (argparse's own "invalid int value" says neither which option nor what is allowed)."""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _


def batch_size(text: str) -> int:
    """``--batch-size``: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise CommandError(
            _("--batch-size must be a whole number, got %(text)r") % {"text": text}
        ) from None
    if value < 1:
        raise CommandError(_("--batch-size must be at least 1, got %(value)d") % {"value": value})
    return value


def add_database_argument(parser: CommandParser) -> None:
    """``--database ALIAS``, as the commands writing to the sessions' database take it."""
    parser.add_argument(
        "--database",
        metavar="ALIAS",
        help='Database alias (default: GRAPHFLOW_SESSIONS["DATABASE"]).',
    )
