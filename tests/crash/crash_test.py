#!/usr/bin/env python3
"""Kill the local stack with SIGKILL while Meta delivers, restart it on the same data, and account
for every message: nothing acknowledged is lost, nothing is answered twice.

    python tests/crash/crash_test.py --bin target/debug/mostrador [--messages 300] [--kills 4]

A separate process plays Meta: it posts signed deliveries ("hola" from a distinct customer each) to
the demo branch as fast as the stack takes them, on several connections, and delivers again whatever
was not answered 200 (as Meta retries). Meanwhile the stack is killed with SIGKILL at random moments
and restarted on the same data directory. At the end, once the queues drain, every customer must
have exactly one stored inbound message and exactly one greeting in the outbox (the demo merchant is
in sandbox mode, so replies land in the outbox instead of Meta). Prints the counts; exits 1 on any
loss or double.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

ADMIN_KEY = "crash-test-admin-key-0123456789"
APP_SECRET = "crash-test-app-secret"
PHONE = "100000000000001"  # the demo pharmacy's Centro branch


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Stack:
    def __init__(self, binary: str, data: Path):
        self.binary, self.data = binary, data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = open(data.parent / "stack.log", "ab")
        self.starts = 0

    def start(self) -> float:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "MOSTRADOR_ADDR": f"127.0.0.1:{self.port}",
            "MOSTRADOR_DATA_DIR": str(self.data),
            "MOSTRADOR_ADMIN_KEY": ADMIN_KEY,
            "MOSTRADOR_WHATSAPP_APP_SECRET": APP_SECRET,
            "MOSTRADOR_WHATSAPP_VERIFY_TOKEN": "crash-test-verify",
            "MOSTRADOR_LOG": "warn",
        }
        t0 = time.monotonic()
        self.proc = subprocess.Popen([self.binary], env=env, stdout=self.log, stderr=self.log)
        self.starts += 1
        deadline = t0 + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the stack exited at start (see {self.log.name})")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return time.monotonic() - t0
            except OSError:
                time.sleep(0.05)
        raise SystemExit("the stack did not answer /healthz within 60 s")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(timeout=30)
        return 0


def call(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None, timeout: float = 5):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def delivery(customer: str, wamid: str) -> bytes:
    return json.dumps({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "5215550000001", "phone_number_id": PHONE},
            "contacts": [{"profile": {"name": "Cliente"}, "wa_id": customer}],
            "messages": [{"from": customer, "id": wamid, "timestamp": str(int(time.time())), "type": "text", "text": {"body": "hola"}}],
        }}]}],
    }).encode()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--kills", type=int, default=4)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args()
    random.seed(args.seed)

    work = Path(tempfile.mkdtemp(prefix="mostrador-crash-"))
    print(f"crash: data in {work}")
    stack = Stack(args.bin, work / "data")
    stack.start()
    demo = json.loads((work / "data" / "demo.json").read_text())
    key = demo["api_key"]

    customers = [f"52155{i:08d}" for i in range(args.messages)]
    pending = list(range(args.messages))
    acknowledged: set[int] = set()
    lock = threading.Lock()
    stats = Counter()

    def sender() -> None:
        while True:
            with lock:
                if not pending:
                    return
                i = pending.pop(0)
            body = delivery(customers[i], f"wamid.crash.{i}")
            sig = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
            try:
                status, _ = call(f"{stack.url}/webhooks/whatsapp", "POST", body,
                                 {"content-type": "application/json", "x-hub-signature-256": sig})
            except OSError:
                status = 0
            with lock:
                stats[f"http_{status}"] += 1
                if status == 200:
                    acknowledged.add(i)
                else:
                    pending.append(i)  # Meta delivers again
            if status != 200:
                time.sleep(0.05)

    def killer() -> None:
        for k in range(args.kills):
            time.sleep(random.uniform(0.3, 2.0))
            stack.kill()
            stats["kills"] += 1
            restart = stack.start()
            stats["restart_ms_max"] = max(stats["restart_ms_max"], int(restart * 1000))

    t0 = time.monotonic()
    threads = [threading.Thread(target=sender) for _ in range(args.connections)]
    kill_thread = threading.Thread(target=killer)
    kill_thread.start()
    for t in threads:
        t.start()
    kill_thread.join()
    # Senders may have given up while the stack was down: keep delivering until all are answered.
    while True:
        for t in threads:
            t.join(timeout=0.1)
        with lock:
            left = list(pending)
        if not left and not any(t.is_alive() for t in threads):
            break
        if left and not any(t.is_alive() for t in threads):
            threads = [threading.Thread(target=sender) for _ in range(args.connections)]
            for t in threads:
                t.start()
    sent_s = time.monotonic() - t0

    # Wait for the queues to drain (what the last process was holding included).
    drain_t0 = time.monotonic()
    while True:
        status, body = call(f"{stack.url}/v1/admin/queues", headers={"authorization": f"Bearer {ADMIN_KEY}"})
        q = json.loads(body)["queues"]
        busy = sum(q[n]["visible"] + q[n]["in_flight"] for n in ("inbound", "outbound"))
        if busy == 0:
            break
        if time.monotonic() - drain_t0 > 120:
            print(f"crash: the queues did not drain: {q}", file=sys.stderr)
            return 1
        time.sleep(0.2)
    drain_s = time.monotonic() - drain_t0
    dead = {n: q[n]["dead"] for n in ("inbound", "outbound")}

    # Account for every customer.
    lost, doubled, unanswered, doubled_replies = [], [], [], []
    auth = {"authorization": f"Bearer {key}"}
    replies: Counter = Counter()
    cursor = None
    while True:
        path = "/v1/outbox?limit=200" + (f"&cursor={urllib.request.quote(cursor)}" if cursor else "")
        status, body = call(stack.url + path, headers=auth)
        page = json.loads(body)
        for m in page["messages"]:
            replies[(m["to"], m["id"])] += 1
        cursor = page.get("cursor")
        if not cursor:
            break
    per_customer = Counter(to for (to, _id) in replies)
    for (to, rid), n in replies.items():
        if n > 1:
            doubled_replies.append((to, rid, n))
    for i in sorted(acknowledged):
        wa = "52" + customers[i][3:]
        status, body = call(f"{stack.url}/v1/conversations/{wa}/messages?limit=50", headers=auth)
        msgs = json.loads(body).get("messages", [])
        inbound = [m for m in msgs if m.get("direction") == "in"]
        if len(inbound) == 0:
            lost.append(i)
        elif len(inbound) > 1:
            doubled.append(i)
        if per_customer.get(wa, 0) == 0:
            unanswered.append(i)
    diagnosis = []
    for i in unanswered[:3]:
        wa = "52" + customers[i][3:]
        _, conv = call(f"{stack.url}/v1/conversations/{wa}/messages?limit=50", headers=auth)
        diagnosis.append(f"{wa}: {conv.decode()[:600]}")
    code = stack.stop()
    for d in diagnosis:
        print(f"crash: unanswered {d}", file=sys.stderr)

    print(f"crash: {len(acknowledged)} deliveries acknowledged in {sent_s:.1f} s over {stats['kills']} SIGKILLs "
          f"(seed {args.seed}); HTTP answers {dict(sorted((k, v) for k, v in stats.items() if k.startswith('http_')))}")
    print(f"crash: stored once {len(acknowledged) - len(lost) - len(doubled)}, lost {len(lost)}, stored twice {len(doubled)}; "
          f"answered {len(acknowledged) - len(unanswered)}, unanswered {len(unanswered)}, replies sent twice {len(doubled_replies)}")
    print(f"crash: slowest restart {stats['restart_ms_max']} ms; queues drained {drain_s:.1f} s after the last delivery; "
          f"dead letters {dead}; SIGTERM exit code {code}")
    ok = not lost and not doubled and not unanswered and not doubled_replies and code == 0 and not any(dead.values())
    if not ok:
        print(f"crash: FAILED in {work} (lost {lost[:10]}, doubled {doubled[:10]}, unanswered {[customers[i] for i in unanswered[:10]]}, "
              f"replies twice {doubled_replies[:5]}); log in {work}/stack.log", file=sys.stderr)
        return 1
    print("crash: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
