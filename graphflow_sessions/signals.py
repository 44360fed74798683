"""Signals sent by the storage backends after a write has reached the database.

Receivers get ``sender`` (the storage class), ``session`` (or ``session_id`` for deletes)
and ``using`` (the database alias, None for the in-memory storage). They run after the
write; inside a caller's ``transaction.atomic`` use ``transaction.on_commit`` to act only
once it commits.

Pruning (``retention.prune_sessions`` and ``graphflow_sessions_prune``) sends
``sessions_pruned`` once per committed batch, with ``sender`` the Session model,
``session_ids`` (a list of UUIDs) and ``using``; and, only when ``session_deleted`` has
receivers, ``session_deleted`` for each pruned id with ``pruned=True``. Bulk import sends
neither ``session_saved`` nor these, as ``bulk_create`` sends no ``post_save``.
"""

from django.dispatch import Signal

session_saved = Signal()
session_deleted = Signal()
sessions_pruned = Signal()
