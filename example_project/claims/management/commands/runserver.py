"""``manage.py runserver`` of the example (``make demo``): Django's, with a deeper listen queue.

Django's development server accepts at most 10 pending connections (``request_queue_size``);
more clients connecting at once, as the demo's load run does (58), are reset by the kernel
before a thread ever sees them. Everything else, static files included, is Django's.
"""

from __future__ import annotations

from django.contrib.staticfiles.management.commands.runserver import Command as StaticfilesCommand
from django.core.servers.basehttp import WSGIServer

#: Connections the kernel queues for the server while its threads are busy starting.
LISTEN_QUEUE = 128


class DemoWSGIServer(WSGIServer):
    request_queue_size = LISTEN_QUEUE


class Command(StaticfilesCommand):
    server_cls = DemoWSGIServer
