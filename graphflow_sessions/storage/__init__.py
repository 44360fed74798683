"""Session storage backends with graph-flow's semantics: save (upsert), create, get, delete.

    from graphflow_sessions.storage import PostgresSessionStorage

    storage = PostgresSessionStorage()        # GRAPHFLOW_SESSIONS["DATABASE"], or using="alias"
    storage.save(session)                     # one INSERT ... ON CONFLICT DO UPDATE, one round trip
    storage.get(session_id)                   # a Session, or None
    storage.delete(session_id)                # deleting an absent id is not an error
    await storage.asave(session)              # async twins: asave, aget, adelete
    storage.save_many(sessions)               # batches: save_many, get_many, delete_many

``DatabaseSessionStorage(native_async=True)`` (what ``aconnect()`` returns) runs the async
twins on psycopg's AsyncConnectionPool instead of a worker thread.

Modules: ``base`` (the trait, the row checks, the version rules), ``sql`` (every statement on
the sessions table), ``executor`` (running them on psycopg 3: cursor, prepared statements),
``orm`` (databases without an upsert), ``database`` and ``memory`` (the two backends).

Nothing here imports the Session model at import time: graph-flow 0.5's plain-script use
does ``from graphflow_sessions.storage import PostgresSessionStorage`` before ``connect()``
has configured Django.
"""

from .base import SessionStorage
from .database import DatabaseSessionStorage, PostgresSessionStorage
from .memory import InMemorySessionStorage

__all__ = [
    "DatabaseSessionStorage",
    "InMemorySessionStorage",
    "PostgresSessionStorage",
    "SessionStorage",
]
