#!/usr/bin/env python3
"""Kill the local stack with SIGKILL while Meta and a payment provider call it, restart it on the
same data, and account for everything: nothing acknowledged is lost, nothing is done twice.

    python tests/crash/crash_test.py --bin target/debug/mostrador [--messages 300] [--orders 30] [--kills 4]

A separate process plays Meta and the payment provider:
- "hola" from a distinct customer each, posted as signed deliveries to the demo branch as fast as the
  stack takes them on persistent connections, delivered again whenever not answered 200 (as Meta
  retries);
- `--orders` customers who buy: a catalog order, "Confirmar" once the summary arrives, then the
  sandbox provider's signed payment callback once the payment link arrives (repeated until the
  order is paid, as providers retry).
Meanwhile the stack is killed with SIGKILL at random moments and restarted on the same data
directory. At the end, once the queues drain: every greeting customer has exactly one stored message
and exactly one reply; every buyer has exactly one order, paid, one payment link and one payment
confirmation in the outbox (the demo merchant is in sandbox mode, so replies land there instead of
Meta); stock moved by exactly what was sold; no reply was sent twice. Prints the counts; exits 1 on
any loss or double.

With `MOSTRADOR_ENGINE=aws` (and the AWS variables of README) in the environment the stack runs on
DynamoDB, SQS, S3 and KMS (moto), on the same data directory for its local secrets.
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
import http.client
import re
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
        # The AWS engine against moto: the caller's MOSTRADOR_ENGINE, endpoint, table and credentials.
        for name, value in os.environ.items():
            if name.startswith(("MOSTRADOR_ENGINE", "MOSTRADOR_AWS", "MOSTRADOR_TABLE", "MOSTRADOR_BUCKET",
                                "MOSTRADOR_KMS", "AWS_")) or name.endswith("_QUEUE_URL"):
                env[name] = value
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


SKU = "7501008491072"  # Paracetamol 500 mg, stocked at Centro by the demo seed
UNITS_PER_ORDER = 2


def call(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None, timeout: float = 30):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def read(url: str, headers: dict) -> dict:
    """GET a JSON document once the stack is up (the accounting after the last kill), retrying
    connection errors and 5xx for up to a minute."""
    deadline = time.monotonic() + 60
    while True:
        try:
            status, body = call(url, headers=headers)
            if status == 200:
                return json.loads(body)
            if status < 500:
                raise SystemExit(f"GET {url}: {status} {body[:300]!r}")
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"GET {url}: no answer within a minute")
        time.sleep(0.5)


def call_json(url: str, headers: dict):
    """GET a JSON document; None while the stack is down or answers an error."""
    try:
        status, body = call(url, headers=headers)
    except OSError:
        return None
    return json.loads(body) if status == 200 else None


def delivery(customer: str, wamid: str, message: dict) -> bytes:
    message = {"from": customer, "id": wamid, "timestamp": str(int(time.time())), **message}
    return json.dumps({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "5215550000001", "phone_number_id": PHONE},
            "contacts": [{"profile": {"name": "Cliente"}, "wa_id": customer}],
            "messages": [message],
        }}]}],
    }).encode()


HOLA = {"type": "text", "text": {"body": "hola"}}
ORDER = {"type": "order", "order": {"catalog_id": "1", "product_items": [
    {"product_retailer_id": SKU, "quantity": UNITS_PER_ORDER, "item_price": 45.5, "currency": "MXN"}]}}
CONFIRM = {"type": "interactive", "interactive": {"type": "button_reply",
                                                  "button_reply": {"id": "confirmar", "title": "Confirmar"}}}


class Meta:
    """Posts signed deliveries on one persistent connection, as Meta does, reconnecting after a kill."""

    def __init__(self, stack: Stack):
        self.stack, self.conn = stack, None

    def post(self, body: bytes) -> int:
        sig = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.stack.port, timeout=10)
            self.conn.request("POST", "/webhooks/whatsapp", body,
                              {"content-type": "application/json", "x-hub-signature-256": sig})
            r = self.conn.getresponse()
            r.read()
            return r.status
        except (OSError, http.client.HTTPException):
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return 0

    def deliver(self, body: bytes, stats: Counter, lock: threading.Lock, give_up: float) -> bool:
        """Delivers until answered 200 (Meta retries); False if `give_up` passes first."""
        while time.monotonic() < give_up:
            status = self.post(body)
            with lock:
                stats[f"http_{status}"] += 1
            if status == 200:
                return True
            time.sleep(0.05)
        return False


def out_messages(stack: Stack, auth: dict, wa: str) -> list[dict]:
    conv = call_json(f"{stack.url}/v1/conversations/{wa}/messages?limit=50", auth)
    if conv is None:
        return []
    return [m.get("message") or {} for m in conv.get("messages", []) if m.get("direction") == "out"]


def text_of(m: dict) -> str:
    return json.dumps(m, ensure_ascii=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--orders", type=int, default=30)
    ap.add_argument("--kills", type=int, default=4)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--drain-limit", type=float, default=120, help="seconds the queues may take to drain")
    ap.add_argument("--buyer-patience", type=float, default=240,
                    help="seconds a buyer waits for their whole purchase (longer against moto)")
    args = ap.parse_args()
    random.seed(args.seed)

    work = Path(tempfile.mkdtemp(prefix="mostrador-crash-"))
    print(f"crash: data in {work}")
    stack = Stack(args.bin, work / "data")
    stack.start()
    demo = json.loads((work / "data" / "demo.json").read_text())
    key, merchant = demo["api_key"], demo["merchant_id"]
    auth = {"authorization": f"Bearer {key}"}
    centro = next(b["id"] for b in demo["branches"] if b["phone_number_id"] == PHONE)
    stock_units = UNITS_PER_ORDER * args.orders + 10
    status, body = call(f"{stack.url}/v1/branches/{centro}/stock", "PUT",
                        json.dumps([{"sku": SKU, "quantity": stock_units}]).encode(),
                        {**auth, "content-type": "application/json"})
    if status != 200:
        raise SystemExit(f"setting the stock failed: {status} {body[:300]!r}")

    customers = [f"52155{i:08d}" for i in range(args.messages)]
    buyers = [f"52156{i:08d}" for i in range(args.orders)]
    pending = list(range(args.messages))
    acknowledged: set[int] = set()
    lock = threading.Lock()
    stats = Counter()
    placed: dict[int, str] = {}
    paid: set[int] = set()
    stuck: dict[int, str] = {}
    done = threading.Event()

    def greeter() -> None:
        meta = Meta(stack)
        while True:
            with lock:
                if not pending:
                    return
                i = pending.pop(0)
            status = meta.post(delivery(customers[i], f"wamid.crash.{i}", HOLA))
            with lock:
                stats[f"http_{status}"] += 1
                if status == 200:
                    acknowledged.add(i)
                else:
                    pending.append(i)  # Meta delivers again
            if status != 200:
                time.sleep(0.05)

    def wait_for(i: int, what: str, found, give_up: float):
        wa = "52" + buyers[i][3:]
        while time.monotonic() < give_up:
            for m in out_messages(stack, auth, wa):
                hit = found(m)
                if hit:
                    return hit
            time.sleep(0.2)
        stuck[i] = what
        return None

    def buyer(mine: list[int]) -> None:
        meta = Meta(stack)
        for i in mine:
            give_up = time.monotonic() + args.buyer_patience
            if not meta.deliver(delivery(buyers[i], f"wamid.crash.order.{i}", ORDER), stats, lock, give_up):
                stuck[i] = "order delivered"
                continue
            if not wait_for(i, "the summary with Confirmar", lambda m: '"confirmar"' in text_of(m), give_up):
                continue
            if not meta.deliver(delivery(buyers[i], f"wamid.crash.confirm.{i}", CONFIRM), stats, lock, give_up):
                stuck[i] = "confirmation delivered"
                continue
            link = wait_for(i, "the payment link",
                            lambda m: re.search(r"/sandbox/pay/([A-Za-z0-9_-]+)\?m=", text_of(m)), give_up)
            if not link:
                continue
            order = link.group(1)
            with lock:
                placed[i] = order
            # The provider calls back until it is answered, and the order must end paid.
            while time.monotonic() < give_up:
                try:
                    status, _ = call(f"{stack.url}/sandbox/pay/{order}?m={merchant}&method=card", "POST", b"")
                except OSError:
                    status = 0
                with lock:
                    stats[f"pay_{status}"] += 1
                o = call_json(f"{stack.url}/v1/orders/{order}", auth)
                if o and o.get("status") in ("paid", "ready", "delivered", "picked_up"):
                    with lock:
                        paid.add(i)
                    break
                time.sleep(0.3)
            else:
                stuck[i] = "the order paid"

    def killer() -> None:
        for k in range(args.kills):
            time.sleep(random.uniform(0.1, 0.4))
            stack.kill()
            stats["kills"] += 1
            with lock:
                if pending:
                    stats["kills_while_greeting"] += 1
            restart = stack.start()
            stats["restart_ms_max"] = max(stats["restart_ms_max"], int(restart * 1000))
        done.set()

    t0 = time.monotonic()
    greeters = [threading.Thread(target=greeter) for _ in range(args.connections)]
    lanes = 4
    buyer_threads = [threading.Thread(target=buyer, args=(list(range(n, args.orders, lanes)),)) for n in range(lanes)]
    kill_thread = threading.Thread(target=killer)
    kill_thread.start()
    for t in greeters + buyer_threads:
        t.start()
    for t in greeters:
        t.join()
    greet_s = time.monotonic() - t0
    kill_thread.join()
    # Greeters may have given up while the stack was down: keep delivering until all are answered.
    while True:
        with lock:
            left = list(pending)
        if not left:
            break
        extra = [threading.Thread(target=greeter) for _ in range(args.connections)]
        for t in extra:
            t.start()
        for t in extra:
            t.join()
    for t in buyer_threads:
        t.join()
    sent_s = time.monotonic() - t0

    # Wait for the queues to drain (what the last process was holding included).
    drain_t0 = time.monotonic()
    while True:
        q = read(f"{stack.url}/v1/admin/queues", {"authorization": f"Bearer {ADMIN_KEY}"})["queues"]
        busy = sum(q[n]["visible"] + q[n]["in_flight"] for n in ("inbound", "outbound"))
        if busy == 0:
            break
        if time.monotonic() - drain_t0 > args.drain_limit:
            print(f"crash: the queues did not drain: {q}", file=sys.stderr)
            return 1
        time.sleep(0.2)
    drain_s = time.monotonic() - drain_t0
    dead = {n: q[n]["dead"] for n in ("inbound", "outbound")}

    # Account for every customer.
    lost, doubled, unanswered, doubled_replies, logged_twice = [], [], [], [], []
    replies: Counter = Counter()
    texts: dict[str, list[str]] = {}
    cursor = None
    while True:
        path = "/v1/outbox?limit=200" + (f"&cursor={urllib.request.quote(cursor)}" if cursor else "")
        page = read(stack.url + path, auth)
        for m in page["messages"]:
            replies[(m["to"], m["id"])] += 1
            texts.setdefault(m["to"], []).append(text_of(m.get("message") or {}))
        cursor = page.get("cursor")
        if not cursor:
            break
    per_customer = Counter(to for (to, _id) in replies)
    for (to, rid), n in replies.items():
        if n > 1:
            doubled_replies.append((to, rid, n))
    for i in sorted(acknowledged):
        wa = "52" + customers[i][3:]
        msgs = read(f"{stack.url}/v1/conversations/{wa}/messages?limit=50", auth).get("messages", [])
        inbound = [m for m in msgs if m.get("direction") == "in"]
        outbound = [m for m in msgs if m.get("direction") == "out"]
        if len(inbound) == 0:
            lost.append(i)
        elif len(inbound) > 1:
            doubled.append(i)
        if len(outbound) > 1:
            # The conversation staff read must show the one reply once, however often the
            # greeting was handled.
            logged_twice.append(i)
        if per_customer.get(wa, 0) == 0:
            unanswered.append(i)

    # Buyers: one order each, paid, one link and one payment confirmation.
    orders_by_customer: Counter = Counter()
    cursor = None
    while True:
        path = "/v1/orders?limit=100" + (f"&cursor={urllib.request.quote(cursor)}" if cursor else "")
        page = read(stack.url + path, auth)
        for o in page["orders"]:
            orders_by_customer[o["wa_id"]] += 1
        cursor = page.get("cursor")
        if not cursor:
            break
    buyer_problems = []
    for i in range(args.orders):
        wa = "52" + buyers[i][3:]
        said = texts.get(wa, [])
        links = sum(1 for t in said if "/sandbox/pay/" in t)
        thanks = sum(1 for t in said if "Recibimos tu pago" in t)
        if orders_by_customer.get(wa, 0) != 1 or i not in paid or links != 1 or thanks != 1:
            buyer_problems.append((wa, orders_by_customer.get(wa, 0), i in paid, links, thanks, stuck.get(i)))
    stock = read(f"{stack.url}/v1/branches/{centro}/stock", auth)
    row = next((r for r in stock.get("stock", []) if r["sku"] == SKU), {})
    sold = UNITS_PER_ORDER * len(paid)
    stock_ok = row.get("available") == stock_units - sold and row.get("reserved") == 0

    diagnosis = []
    for i in unanswered[:3]:
        wa = "52" + customers[i][3:]
        conv = read(f"{stack.url}/v1/conversations/{wa}/messages?limit=50", auth)
        diagnosis.append(f"{wa}: {json.dumps(conv, ensure_ascii=False)[:600]}")
    code = stack.stop()
    for d in diagnosis:
        print(f"crash: unanswered {d}", file=sys.stderr)

    http = dict(sorted((k, v) for k, v in stats.items() if k.startswith(("http_", "pay_"))))
    print(f"crash: {len(acknowledged)} greetings acknowledged in {greet_s:.1f} s "
          f"({len(acknowledged) / max(greet_s, 0.001):.0f} deliveries/s) over {stats['kills']} SIGKILLs, "
          f"{stats['kills_while_greeting']} of them while greetings were arriving "
          f"(seed {args.seed}); HTTP answers {http}")
    print(f"crash: stored once {len(acknowledged) - len(lost) - len(doubled)}, lost {len(lost)}, stored twice {len(doubled)}; "
          f"answered {len(acknowledged) - len(unanswered)}, unanswered {len(unanswered)}, replies sent twice {len(doubled_replies)}, "
          f"replies logged twice in the conversation {len(logged_twice)}")
    print(f"crash: buyers {args.orders}: confirmations placed {len(placed)}, paid {len(paid)}, with a problem {len(buyer_problems)}; "
          f"stock {row.get('available')} available / {row.get('reserved')} reserved of {stock_units} after {sold} sold")
    print(f"crash: slowest restart {stats['restart_ms_max']} ms; queues drained {drain_s:.1f} s after the last call "
          f"({sent_s:.1f} s of traffic); dead letters {dead}; SIGTERM exit code {code}")
    ok = (not lost and not doubled and not unanswered and not doubled_replies and not logged_twice
          and not buyer_problems and stock_ok
          and code == 0 and not any(dead.values()))
    if not ok:
        print(f"crash: FAILED in {work} (lost {lost[:10]}, doubled {doubled[:10]}, logged twice {[customers[i] for i in logged_twice[:10]]}, "
              f"unanswered {[customers[i] for i in unanswered[:10]]}, "
              f"replies twice {doubled_replies[:5]}, buyers (wa, orders, paid, links, thanks, stuck at) {buyer_problems[:5]}, "
              f"stock {row}); log in {work}/stack.log", file=sys.stderr)
        return 1
    print("crash: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
