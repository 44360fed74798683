"""Signals sent by the storage backends after a write has reached the database.

Receivers get ``sender`` (the storage class), ``session`` (or ``session_id`` for deletes)
and ``using`` (the database alias, None for the in-memory storage). They run after the
write; inside a caller's ``transaction.atomic`` use ``transaction.on_commit`` to act only
once it commits.
"""

from django.dispatch import Signal

session_saved = Signal()
session_deleted = Signal()
