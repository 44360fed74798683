"""Django storage, admin and REST API for graph-flow agent workflow sessions.

Importing this package imports nothing from Django, so ``graphflow_sessions.context``
stays usable in plain Python.
"""

__version__ = "0.1.0.dev0"
