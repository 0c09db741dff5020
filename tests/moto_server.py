"""moto for the test suite, made to keep the two guarantees mostrador relies on.

Stock moto_server differs from AWS in two ways that make tests flaky under load:

- Its threaded server does not serialize requests, so two concurrent DynamoDB conditional writes can
  both succeed (DynamoDB never allows that). Here every request runs under one lock: each call is
  atomic, as each DynamoDB and SQS call is in AWS.
- An SQS long poll keeps the set of busy FIFO message groups it saw when the poll began. A second
  consumer already waiting then receives a customer's next message while the first is still being
  handled, which AWS never does (a message group goes to one consumer at a time), and the poll spins
  on the CPU while only busy groups have messages. Here a long poll is a series of short receives,
  each seeing the groups busy at that moment, with the lock released between them so other requests
  go on.

Usage: python tests/moto_server.py HOST PORT [--serial]
  --serial  one request at a time on one thread (no long polls); the table contract suite's race
            test uses it as a second, independent store.
"""

import sys
import threading
import time

from moto.server import DomainDispatcherApplication, create_backend_app
from moto.sqs.models import SQSBackend
from werkzeug.serving import run_simple

LOCK = threading.Lock()
POLL_STEP = 0.02

_receive = SQSBackend.receive_message


def receive_message(self, queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names=None):
    deadline = time.monotonic() + (wait_seconds_timeout or 0)
    while True:
        messages = _receive(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
        if messages or time.monotonic() >= deadline:
            return messages
        # The caller holds LOCK (see Serialized): let other requests in while this poll waits.
        LOCK.release()
        try:
            time.sleep(POLL_STEP)
        finally:
            LOCK.acquire()


class Serialized:
    """WSGI middleware: one request at a time, its whole response produced under the lock."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        with LOCK:
            return list(self.app(environ, start_response))


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    serial = "--serial" in sys.argv[3:]
    SQSBackend.receive_message = receive_message
    app = Serialized(DomainDispatcherApplication(create_backend_app))
    run_simple(host, port, app, threaded=not serial, use_reloader=False)


if __name__ == "__main__":
    main()
