"""Test settings with the sessions table in its own database, alias ``sessions``.

Used by tests/storage/test_routing.py, which runs tests/support/multidb_cases.py under these
settings in a subprocess (``pytest --ds tests.settings_multidb``). Both aliases get test
database names of their own, so this run never touches the database of the suite that started
it.
"""

import copy
import os

from .settings import *  # noqa: F403
from .settings import DATABASES

_default = DATABASES["default"]
if "sqlite" in _default["ENGINE"]:
    _dir = os.path.dirname(_default["NAME"])
    _default["TEST"] = {"NAME": os.path.join(_dir, f"graphflow-multidb-{os.getpid()}.sqlite3")}
    _sessions = copy.deepcopy(_default)
    _sessions["NAME"] = os.path.join(_dir, "graphflow-sessions.sqlite3")
    _sessions["TEST"] = {"NAME": os.path.join(_dir, f"graphflow-sessions-{os.getpid()}.sqlite3")}
else:
    _default["TEST"] = {"NAME": f"test_{_default['NAME']}_multidb_default"}
    _sessions = copy.deepcopy(_default)
    _sessions["TEST"] = {"NAME": f"test_{_default['NAME']}_multidb_sessions"}
DATABASES["sessions"] = _sessions

GRAPHFLOW_SESSIONS = {"DATABASE": "sessions"}
DATABASE_ROUTERS = ["graphflow_sessions.routers.SessionsRouter"]
