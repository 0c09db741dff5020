"""moto on one thread: requests are served strictly one at a time.

moto_server's threaded server does not serialize DynamoDB conditional writes, so concurrent
conditional updates can all succeed (DynamoDB itself never allows that). The table contract suite's
race test runs against this server; everything else uses the threaded one, because SQS long polls
would block a single thread.

Usage: python tests/moto_serial.py HOST PORT
"""

import sys

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

host, port = sys.argv[1], int(sys.argv[2])
run_simple(host, port, DomainDispatcherApplication(create_backend_app), threaded=False, use_reloader=False)
