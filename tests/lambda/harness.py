#!/usr/bin/env python3
"""The seven function binaries as SAM builds them, run under a Lambda Runtime API emulator against
moto, wired as the template wires them.

    python tests/lambda/harness.py --build-dir DIR [--report FILE]

DIR holds <LogicalId>/bootstrap for every function of infra/template.yaml (tests/sam/build.sh
--keep DIR makes it). What it does, in order:

1. Creates the template's resources on moto (MOSTRADOR_TEST_AWS_ENDPOINT): the table with its
   key schema and indexes, every queue with its redrive policy, the bucket, the data key and the
   platform secret. Each function gets the environment the template gives it (Globals and its own
   variables, with Ref/GetAtt/Sub/If resolved to those resources) and nothing else but the moto
   endpoint, a fake Graph API and MOSTRADOR_AWS_OPERATIONS_LOG.
2. Starts each binary with its own Runtime API (AWS_LAMBDA_RUNTIME_API), as Lambda does, and
   measures its cold start: init (process start to its first /next), the first and a warm
   invocation, and peak memory (VmHWM).
3. Feeds every event of events/<function>/ and checks the answer; then a customer conversation
   through the whole pipeline: API Gateway v2 events to the HTTP functions, SQS batches built from
   what the functions really put on the queues (deleting what the function did not report as
   failed, as Lambda's event source mapping does), and the scheduler's job events.
4. Compares what each function did on AWS (MOSTRADOR_AWS_OPERATIONS_LOG) with what its role
   allows after the SAM transform: fails on an operation the role does not grant, and on a grant
   that no function used unless it is listed in UNEXERCISED with the reason.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import hmac
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))
import validate_template as vt  # noqa: E402  (SAM transform, offline)

REGION = "us-east-1"
ACCOUNT = "123456789012"
API_ID = "k3x9pd2m4q"  # the API id of the fixtures' requestContext
API_DOMAIN = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
APP_SECRET = "test-app-secret"  # what the fixtures are signed with
VERIFY_TOKEN = "test-verify-token"
ADMIN_KEY = "lambda-harness-admin-key-0123456789"
PHONE_NUMBER_ID = "106540352242922"  # the fixtures' business number
CUSTOMER = "5215598765432"  # not the fixtures' customer: their FIFO group may still be held

# Grants the scenario cannot exercise, with the reason. Anything else granted and never used fails.
UNEXERCISED: dict[str, str] = {
    # "iam:Action": "why no function performs it in this run although the code needs it"
    "dynamodb:Scan": "merchant-api's export and erasure of a customer's data (LFPDPPP ARCO); "
    "tested end to end on moto (tests/tests/e2e/privacy.rs), not by this run's purchase",
    "s3:DeleteObject": "merchant-api's erasure of the media and documents a customer sent (LFPDPPP "
    "cancelación); tested end to end on moto (tests/tests/e2e/privacy.rs)",
}

# AWS managed policies SAM attaches (their SQS parts; logs and X-Ray are not AWS SDK calls here).
MANAGED = {
    "AWSLambdaSQSQueueExecutionRole": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
    "AWSLambdaBasicExecutionRole": [],
    "AWSXrayWriteOnlyAccess": [],
}


# ------------------------------------------------------------------------------------------------
# Lambda Runtime API
# ------------------------------------------------------------------------------------------------
class Runtime:
    """One function's Runtime API: /next hands out events, /response and /error answer them."""

    def __init__(self, name: str):
        self.name = name
        self.events: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.answers: dict[str, tuple[str, bytes]] = {}
        self.done = threading.Condition()
        self.first_next: float | None = None
        self.init_error: bytes | None = None
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def _reply(self, status: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self._reply(404)
                with runtime.done:
                    if runtime.first_next is None:
                        runtime.first_next = time.monotonic()
                request_id, event = runtime.events.get()
                self._reply(
                    200,
                    event,
                    {
                        "Lambda-Runtime-Aws-Request-Id": request_id,
                        "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 60_000),
                        "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{runtime.name}",
                        "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
                    },
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                m = re.fullmatch(r"/2018-06-01/runtime/invocation/([^/]+)/(response|error)", self.path)
                if self.path == "/2018-06-01/runtime/init/error":
                    with runtime.done:
                        runtime.init_error = body
                        runtime.done.notify_all()
                    return self._reply(202)
                if not m:
                    return self._reply(404)
                with runtime.done:
                    runtime.answers[m.group(1)] = (m.group(2), body)
                    runtime.done.notify_all()
                self._reply(202)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def invoke(self, event: Any, timeout: float = 60) -> tuple[str, Any, float]:
        """(response|error, decoded payload, milliseconds)."""
        request_id = str(uuid.uuid4())
        t0 = time.monotonic()
        self.events.put((request_id, json.dumps(event).encode()))
        with self.done:
            ok = self.done.wait_for(lambda: request_id in self.answers or self.init_error is not None, timeout)
        if self.init_error is not None:
            raise AssertionError(f"{self.name}: init error {self.init_error!r}")
        if not ok:
            raise AssertionError(f"{self.name}: no answer within {timeout}s")
        kind, body = self.answers.pop(request_id)
        return kind, json.loads(body or b"null"), (time.monotonic() - t0) * 1000


# ------------------------------------------------------------------------------------------------
# Fake providers: the Graph API (sends, media) and Stripe (Checkout Sessions), on one server
# ------------------------------------------------------------------------------------------------
class Graph:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.sessions: list[str] = []
        graph = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                # Media: Graph's metadata of a media id, then the file it points at.
                m = re.fullmatch(r"/v[0-9.]+/([A-Za-z0-9_-]+)", self.path.split("?")[0])
                if m:
                    data = json.dumps({"url": f"{graph.url}/media-file/{m.group(1)}", "mime_type": "image/jpeg", "id": m.group(1)}).encode()
                    ctype = "application/json"
                elif self.path.startswith("/media-file/"):
                    data, ctype = b"\xff\xd8\xff\xe0 harness jpeg", "image/jpeg"
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/v1/checkout/sessions":
                    # Stripe: a Checkout Session for the order.
                    session = f"cs_test_harness{len(graph.sessions) + 1}"
                    graph.sessions.append(body.decode())
                    answer = {"id": session, "object": "checkout.session", "url": f"https://checkout.stripe.com/c/pay/{session}", "expires_at": int(time.time()) + 3600}
                    status = 200
                elif re.fullmatch(r"/v[0-9.]+/[0-9]+/messages", self.path):
                    message = json.loads(body)
                    graph.sent.append({"path": self.path, "message": message})
                    answer = {
                        "messaging_product": "whatsapp",
                        "contacts": [{"input": message.get("to"), "wa_id": message.get("to")}],
                        "messages": [{"id": f"wamid.harness.{len(graph.sent)}"}],
                    }
                    status = 200
                else:
                    answer, status = {"error": {"message": "unknown path", "code": 100}}, 400
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


# ------------------------------------------------------------------------------------------------
# The template's resources on moto
# ------------------------------------------------------------------------------------------------
class Stack:
    def __init__(self, sam: dict[str, Any], endpoint: str) -> None:
        self.sam = sam
        self.prefix = "lh" + uuid.uuid4().hex[:10]
        self.physical: dict[str, dict[str, str]] = {}
        kw = {"endpoint_url": endpoint, "region_name": REGION}
        self.ddb = boto3.client("dynamodb", **kw)
        self.sqs = boto3.client("sqs", **kw)
        self.s3 = boto3.client("s3", **kw)
        self.kms = boto3.client("kms", **kw)
        self.secrets = boto3.client("secretsmanager", **kw)
        self.create()

    def resources(self, kind: str) -> dict[str, Any]:
        return {k: v for k, v in self.sam["Resources"].items() if v["Type"] == kind}

    def create(self) -> None:
        for name, res in self.resources("AWS::DynamoDB::Table").items():
            p = res["Properties"]
            table = self.prefix
            self.ddb.create_table(
                TableName=table,
                AttributeDefinitions=p["AttributeDefinitions"],
                KeySchema=p["KeySchema"],
                GlobalSecondaryIndexes=p.get("GlobalSecondaryIndexes", []),
                BillingMode=p.get("BillingMode", "PAY_PER_REQUEST"),
            )
            ttl = p.get("TimeToLiveSpecification")
            if ttl:
                self.ddb.update_time_to_live(TableName=table, TimeToLiveSpecification=ttl)
            self.physical[name] = {"Ref": table, "Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"}
        for name in self.resources("AWS::S3::Bucket"):
            bucket = f"{self.prefix}-{name.lower()}"
            self.s3.create_bucket(Bucket=bucket)
            self.physical[name] = {"Ref": bucket, "Arn": f"arn:aws:s3:::{bucket}"}
        for name in self.resources("AWS::KMS::Key"):
            arn = self.kms.create_key(Description=f"{self.prefix} {name}")["KeyMetadata"]["Arn"]
            self.physical[name] = {"Ref": arn.rsplit("/", 1)[1], "Arn": arn}
        queues = self.resources("AWS::SQS::Queue")
        # Dead-letter queues first: the others' redrive policies name them.
        for name in sorted(queues, key=lambda n: "RedrivePolicy" in queues[n].get("Properties", {})):
            p = queues[name].get("Properties", {})
            qname = f"{self.prefix}-{name}" + (".fifo" if p.get("FifoQueue") else "")
            attrs: dict[str, str] = {}
            for key in ("FifoQueue", "ContentBasedDeduplication", "VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds"):
                if key in p:
                    attrs[key] = str(p[key]).lower() if isinstance(p[key], bool) else str(p[key])
            if "RedrivePolicy" in p:
                rp = p["RedrivePolicy"]
                attrs["RedrivePolicy"] = json.dumps(
                    {"deadLetterTargetArn": self.value(rp["deadLetterTargetArn"]), "maxReceiveCount": str(rp["maxReceiveCount"])}
                )
            url = self.sqs.create_queue(QueueName=qname, Attributes=attrs)["QueueUrl"]
            self.physical[name] = {
                "Ref": url,
                "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{qname}",
                "QueueName": qname,
                "QueueUrl": url,
            }
        secret = self.secrets.create_secret(
            Name=f"{self.prefix}-platform",
            SecretString=json.dumps(
                {"admin_key": ADMIN_KEY, "whatsapp_app_secret": APP_SECRET, "whatsapp_verify_token": VERIFY_TOKEN}
            ),
        )["ARN"]
        self.parameters = {
            "Stage": "dev",
            "PlatformSecretArn": secret,
            "GraphApiVersion": "v25.0",
            "AlarmEmail": "",
            "PublicUrl": "",
            "LogLevel": "info",
        }
        self.physical["HttpApi"] = {"Ref": API_ID}

    def condition(self, name: str) -> bool:
        return {"IsProd": False, "HasAlarmEmail": False, "HasPublicUrl": False}[name]

    def value(self, v: Any) -> Any:
        """A template value with intrinsics resolved; None for AWS::NoValue."""
        if isinstance(v, (str, int, bool)):
            return v
        if isinstance(v, dict) and len(v) == 1:
            (fn, arg), = v.items()
            if fn == "Ref":
                if arg in self.parameters:
                    return self.parameters[arg]
                pseudo = {"AWS::NoValue": None, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::URLSuffix": "amazonaws.com", "AWS::Partition": "aws", "AWS::StackName": self.prefix}
                if arg in pseudo:
                    return pseudo[arg]
                return self.physical[arg]["Ref"]
            if fn == "Fn::GetAtt":
                name, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.physical[name][attr]
            if fn == "Fn::If":
                cond, yes, no = arg
                return self.value(yes if self.condition(cond) else no)
            if fn == "Fn::Sub":
                text, names = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

                def sub(m: re.Match[str]) -> str:
                    ref = m.group(1)
                    if ref in names:
                        return str(self.value(names[ref]))
                    if "." in ref:
                        n, a = ref.split(".", 1)
                        return self.physical[n][a]
                    return str(self.value({"Ref": ref}))

                return re.sub(r"\$\{([^}!]+)\}", sub, text)
        raise ValueError(f"cannot resolve {v!r}")

    def environment(self, function: str) -> dict[str, str]:
        env: dict[str, str] = {}
        globals_vars = self.sam.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        own = self.sam["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
        for k, v in {**globals_vars, **own}.items():
            resolved = self.value(v)
            if resolved is not None:
                env[k] = str(resolved)
        return env

    def logical_of_queue_url(self, url: str) -> str | None:
        for name, phys in self.physical.items():
            if phys.get("QueueUrl") == url:
                return name
        return None


# ------------------------------------------------------------------------------------------------
# Functions
# ------------------------------------------------------------------------------------------------
class Function:
    def __init__(self, logical: str, binary: str, bootstrap: Path, env: dict[str, str], work: Path):
        self.logical, self.binary = logical, binary
        self.bootstrap = bootstrap
        self.runtime = Runtime(f"harness-{binary}")
        self.ops_log = work / f"{binary}.operations.jsonl"
        self.stderr = open(work / f"{binary}.log", "w+")
        full = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_LAMBDA_RUNTIME_API": self.runtime.address,
            "AWS_LAMBDA_FUNCTION_NAME": self.runtime.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.runtime.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "harness",
            "_HANDLER": "bootstrap",
            "MOSTRADOR_AWS_OPERATIONS_LOG": str(self.ops_log),
            **env,
        }
        self.t_start = time.monotonic()
        self.process = subprocess.Popen([str(bootstrap)], env=full, stdout=self.stderr, stderr=subprocess.STDOUT)
        self.first_ms: float | None = None
        self.warm_ms: list[float] = []

    def wait_ready(self, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while self.runtime.first_next is None:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.binary} exited during init:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.binary} did not ask for an event within {timeout}s:\n{self.log()}")
            time.sleep(0.002)
        return (self.runtime.first_next - self.t_start) * 1000

    def invoke(self, event: Any) -> tuple[str, Any]:
        kind, payload, ms = self.runtime.invoke(event)
        if self.first_ms is None:
            self.first_ms = ms
        else:
            self.warm_ms.append(ms)
        return kind, payload

    def peak_kib(self) -> int:
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def log(self) -> str:
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read()[-4000:]

    def operations(self) -> set[tuple[str, str]]:
        if not self.ops_log.exists():
            return set()
        out = set()
        for line in self.ops_log.read_text().splitlines():
            d = json.loads(line)
            out.add((d["action"], d["resource"]))
        return out

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        self.runtime.server.shutdown()


# ------------------------------------------------------------------------------------------------
# Events
# ------------------------------------------------------------------------------------------------
def links_sqlite(binary: Path) -> bool:
    data = binary.read_bytes()
    return b"SQLite format 3" in data or b"sqlite3_prepare_v2" in data


def fixture(function: str, name: str) -> dict[str, Any]:
    return json.loads((ROOT / "events" / function / name).read_text())


def http_event(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, route: str | None = None) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, shaped like the fixtures."""
    event = fixture("merchant-api", "healthz.json")
    raw_path, _, query = path.partition("?")
    text = body if isinstance(body, str) else ("" if body is None else json.dumps(body))
    h = {"host": API_DOMAIN, "x-forwarded-proto": "https", "content-length": str(len(text.encode()))}
    if body is not None:
        h["content-type"] = "application/json"
    h.update(headers or {})
    event.update({
        "routeKey": route or f"{method} {raw_path}",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": h,
        "body": text,
        "isBase64Encoded": False,
    })
    if query:
        event["queryStringParameters"] = dict(kv.split("=", 1) for kv in query.split("&"))
    event["requestContext"] = {**event["requestContext"], "http": {**event["requestContext"]["http"], "method": method, "path": raw_path}, "requestId": uuid.uuid4().hex[:16]}
    return event


def signed_webhook(body: dict[str, Any]) -> dict[str, Any]:
    raw = json.dumps(body)
    sig = "sha256=" + hmac.new(APP_SECRET.encode(), raw.encode(), hashlib.sha256).hexdigest()
    return http_event("POST", "/webhooks/whatsapp", raw, {"x-hub-signature-256": sig, "content-type": "application/json"})


def text_message(wamid: str, text: str) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "525550001234", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "María Guadalupe"}, "wa_id": CUSTOMER}],
            "messages": [{"from": CUSTOMER, "id": wamid, "timestamp": str(int(time.time())), "type": "text", "text": {"body": text}}],
        }}]}],
    }


def status(answer: tuple[str, Any]) -> int:
    kind, payload = answer
    assert kind == "response", f"expected an HTTP response, got {kind}: {payload}"
    return int(payload["statusCode"])


def body_json(answer: tuple[str, Any]) -> Any:
    payload = answer[1]
    return json.loads(payload.get("body") or "null")


class Mapping:
    """Lambda's SQS event source mapping for one queue: receive a batch, invoke, delete what the
    function did not report as failed."""

    def __init__(self, stack: Stack, queue_logical: str, function: Function, batch: int):
        self.stack, self.function, self.batch = stack, function, batch
        self.url = stack.physical[queue_logical]["QueueUrl"]
        self.arn = stack.physical[queue_logical]["Arn"]

    def drain(self, within: float = 30) -> int:
        """Hands every message to the function until the queue is empty, in flight included: a
        record the function reports as failed stays on the queue (the function may have delayed its
        retry with ChangeMessageVisibility, as for a customer's pair rate) and is handed over again
        when it is visible. Returns how many records were handled successfully."""
        handled = 0
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            got = self.stack.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=self.batch, AttributeNames=["All"], MessageAttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
            if not got:
                attrs = self.stack.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
                if int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"]) == 0:
                    return handled
                time.sleep(0.5)
                continue
            records = [{
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {
                    k: {"stringValue": v.get("StringValue"), "dataType": v["DataType"], "stringListValues": [], "binaryListValues": []}
                    for k, v in m.get("MessageAttributes", {}).items()
                },
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": self.arn,
                "awsRegion": REGION,
            } for m in got]
            kind, payload = self.function.invoke({"Records": records})
            assert kind == "response", f"{self.function.binary}: batch failed as a whole: {payload}\n{self.function.log()}"
            failed = {f["itemIdentifier"] for f in (payload or {}).get("batchItemFailures", [])}
            for m in got:
                if m["MessageId"] not in failed:
                    self.stack.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
                    handled += 1
        raise AssertionError(f"{self.function.binary}: the queue did not empty within {within}s\n{self.function.log()}")


# ------------------------------------------------------------------------------------------------
# Permissions
# ------------------------------------------------------------------------------------------------
def names_in(expr: Any) -> set[str]:
    """Logical ids and parameters an IAM Resource expression refers to."""
    found: set[str] = set()
    if isinstance(expr, dict):
        if "Ref" in expr:
            found.add(expr["Ref"])
        elif "Fn::GetAtt" in expr:
            a = expr["Fn::GetAtt"]
            found.add(a[0] if isinstance(a, list) else a.split(".")[0])
        elif "Fn::Sub" in expr:
            arg = expr["Fn::Sub"]
            text, names = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            for ref in re.findall(r"\$\{([^}!]+)\}", text):
                if ref in names:
                    found |= names_in(names[ref])
                elif not ref.startswith("AWS::"):
                    found.add(ref.split(".")[0])
        else:
            for v in expr.values():
                found |= names_in(v)
    elif isinstance(expr, list):
        for v in expr:
            found |= names_in(v)
    return found


def grants(cfn: dict[str, Any], function: str) -> dict[str, set[str]]:
    """IAM action -> logical ids (or '*') the function's role allows it on."""
    role_name = cfn["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    role = cfn["Resources"][role_name]["Properties"]
    out: dict[str, set[str]] = {}
    for policy in role.get("Policies", []):
        statements = policy["PolicyDocument"]["Statement"]
        for st in statements if isinstance(statements, list) else [statements]:
            if st.get("Effect") != "Allow":
                continue
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            resources = st.get("Resource", "*")
            items = resources if isinstance(resources, list) else [resources]
            for a in actions:
                entry = out.setdefault(a, set())
                for item in items:
                    if item == "*":
                        entry.add("*")
                        continue
                    text = json.dumps(item)
                    for t in names_in(item):
                        # "<bucket arn>/*" grants the objects, the bare bucket ARN the bucket;
                        # "<table arn>/index/*" the table's indexes.
                        if "/index/" in text:
                            entry.add(t + "/index")
                        elif t == "DocumentsBucket" and "/*" in text:
                            entry.add("DocumentsBucket/objects")
                        else:
                            entry.add(t)
    for arn in role.get("ManagedPolicyArns", []):
        name = arn if isinstance(arn, str) else json.dumps(arn)
        for managed, actions in MANAGED.items():
            if managed in name:
                for a in actions:
                    out.setdefault(a, set()).add("*")
    return out


def needed(stack: Stack, action: str, resource: str) -> str:
    """The logical resource an operation acted on."""
    service = action.split(":")[0]
    if service == "dynamodb":
        return "Table/index" if "/index/" in resource else "Table"
    if service == "sqs":
        return stack.logical_of_queue_url(resource) or resource
    if service == "s3":
        return "DocumentsBucket" if resource == "bucket" else "DocumentsBucket/objects"
    if service == "kms":
        return "DataKey"
    if service == "secretsmanager":
        return "PlatformSecretArn"
    return resource


def allowed_on(granted: dict[str, set[str]], action: str) -> set[str]:
    """Where the role allows `action` (granted actions may be patterns such as sqs:SendMessage*)."""
    out: set[str] = set()
    for pattern, targets in granted.items():
        if fnmatch.fnmatchcase(action, pattern):
            out |= targets
    return out


SERVICES = ("dynamodb", "sqs", "s3", "kms", "secretsmanager")


def check_permissions(cfn: dict[str, Any], stack: Stack, functions: list[Function]) -> tuple[list[str], list[str]]:
    """(problems, notes): an operation a role does not grant is a problem, and so is a granted
    action that no function performed (unless UNEXERCISED names it); a grant unused by one function
    but used by another is a note."""
    problems: list[str] = []
    notes: list[str] = []
    performed: set[str] = set()
    granted_by: dict[str, dict[str, set[str]]] = {}
    for f in functions:
        granted = grants(cfn, f.logical)
        granted_by[f.logical] = granted
        did = {(a, needed(stack, a, r)) for a, r in f.operations()}
        if any(a == "s3:GetObject" for a, _ in did):
            # A GET of a missing object is 404 only with s3:ListBucket (403 without): the Blobs
            # port's "not found" needs it wherever objects are read.
            did.add(("s3:ListBucket", "DocumentsBucket"))
        performed |= {a for a, _ in did}
        for action, target in sorted(did):
            allowed = allowed_on(granted, action)
            if "*" not in allowed and target not in allowed:
                problems.append(f"{f.logical} performs {action} on {target}, which its role does not grant (granted on: {sorted(allowed) or 'nothing'})")
    for logical, granted in granted_by.items():
        for pattern, targets in sorted(granted.items()):
            if pattern.split(":")[0] not in SERVICES:
                continue
            if pattern in MANAGED["AWSLambdaSQSQueueExecutionRole"] and targets == {"*"}:
                continue  # the event source mapping's own calls, made by Lambda with this role
            used_here = any(fnmatch.fnmatchcase(a, pattern) for a, _ in {(a, None) for a in performed_by(functions, logical)})
            used_anywhere = any(fnmatch.fnmatchcase(a, pattern) for a in performed)
            if used_here:
                continue
            reason = UNEXERCISED.get(pattern)
            if not used_anywhere and reason is None:
                problems.append(f"{logical} is granted {pattern}, which no function performs")
            else:
                notes.append(f"{logical} is granted {pattern}, not performed by it in this run ({reason or 'performed by another function'})")
    return problems, notes


def performed_by(functions: list[Function], logical: str) -> set[str]:
    for f in functions:
        if f.logical == logical:
            did = {a for a, _ in f.operations()}
            if "s3:GetObject" in did:
                did.add("s3:ListBucket")
            return did
    return set()


# ------------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", required=True, type=Path)
    parser.add_argument("--report", type=Path, help="write the cold-start measurements here (JSON)")
    args = parser.parse_args()
    endpoint = os.environ.get("MOSTRADOR_TEST_AWS_ENDPOINT")
    if not endpoint:
        print("harness: MOSTRADOR_TEST_AWS_ENDPOINT is not set (tests/run starts moto)", file=sys.stderr)
        return 2
    for k, v in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION}.items():
        os.environ.setdefault(k, v)

    sam = vt.yaml_parse((ROOT / "infra" / "template.yaml").read_text())
    cfn = vt.transform(vt.package_offline(sam), {}, vt.OfflineManagedPolicyLoader())
    stack = Stack(sam, endpoint)
    graph = Graph()
    work = Path(tempfile.mkdtemp(prefix="mostrador-lambda-"))

    functions: dict[str, Function] = {}
    init_ms: dict[str, float] = {}
    for logical, res in stack.resources("AWS::Serverless::Function").items():
        binary = res["Metadata"]["BuildProperties"]["Binary"]
        env = stack.environment(logical)
        env["MOSTRADOR_AWS_ENDPOINT"] = endpoint
        env["MOSTRADOR_GRAPH_API_BASE"] = graph.url
        env["MOSTRADOR_STRIPE_API_BASE"] = graph.url
        env["MOSTRADOR_LOG_FORMAT"] = "text"
        if not Path(env.get("SSL_CERT_FILE", "/")).is_file():
            # The template names Amazon Linux 2023's bundle; this machine's equivalent.
            env["SSL_CERT_FILE"] = "/etc/ssl/certs/ca-certificates.crt"
        bootstrap = args.build_dir / logical / "bootstrap"
        if not bootstrap.is_file():
            print(f"harness: no {bootstrap} (run tests/sam/build.sh --keep {args.build_dir})", file=sys.stderr)
            return 2
        # One at a time, so each init is measured without the others competing for the CPU.
        functions[binary] = Function(logical, binary, bootstrap, env, work)
        init_ms[binary] = functions[binary].wait_ready()

    failures: list[str] = []

    def case(name: str, fn: Any) -> None:
        try:
            fn()
            print(f"harness: ok    {name}")
        except AssertionError as e:
            failures.append(f"{name}: {e}")
            print(f"harness: FAIL  {name}: {e}")

    # -- the deployed binaries carry no embedded engine --------------------------------------------
    # SQLite compiled in leaves its file header string and its API names in the binary.
    for b, f in functions.items():
        case(f"{b} does not link SQLite", lambda f=f: expect(not links_sqlite(f.bootstrap), f"{f.bootstrap} contains SQLite"))

    api, ingest, pay = functions["merchant-api"], functions["webhook-ingest"], functions["payment-callback"]
    inbound = Mapping(stack, "InboundQueue", functions["order-confirm"], 10)
    outbound = Mapping(stack, "OutboundQueue", functions["message-sender"], 10)
    invoicing = Mapping(stack, "InvoicingQueue", functions["invoice-stamp"], 5)

    # -- every fixture of events/, one event per case ------------------------------------------
    case("merchant-api healthz.json answers 200", lambda: expect(status(api.invoke(fixture("merchant-api", "healthz.json"))) == 200))
    case("merchant-api no-api-key.json answers 401", lambda: expect(status(api.invoke(fixture("merchant-api", "no-api-key.json"))) == 401))
    case("merchant-api unknown-route.json answers 404", lambda: expect(status(api.invoke(fixture("merchant-api", "unknown-route.json"))) == 404))
    case("webhook-ingest verify.json answers the challenge", lambda: verify_handshake(ingest))
    case("webhook-ingest bad-signature.json is refused", lambda: expect(status(ingest.invoke(fixture("webhook-ingest", "bad-signature.json"))) in (401, 403)))
    case("webhook-ingest message-text.json for an unknown number is acknowledged, not queued", lambda: unrouted(ingest))
    case("payment-callback unknown-provider.json answers 404", lambda: expect(status(pay.invoke(fixture("payment-callback", "unknown-provider.json"))) == 404))
    case("reminders expire-orders.json runs", lambda: job_ok(functions["reminders"], fixture("reminders", "expire-orders.json")))
    case("reminders unknown-job.json is an error", lambda: expect(functions["reminders"].invoke(fixture("reminders", "unknown-job.json"))[0] == "error"))
    case("order-confirm malformed-record.json: dead-lettered at once, the batch succeeds", lambda: malformed(stack, functions["order-confirm"]))
    case("order-confirm inbound-batch.json for an unknown merchant succeeds", lambda: batch_ok(functions["order-confirm"], fixture("order-confirm", "inbound-batch.json")))
    case("message-sender outbound-batch.json for an unknown merchant succeeds", lambda: batch_ok(functions["message-sender"], fixture("message-sender", "outbound-batch.json")))
    case("invoice-stamp invoice-batch.json for unknown orders: dead-lettered at once", lambda: no_order_to_invoice(stack, functions["invoice-stamp"]))

    # -- a conversation through the whole pipeline -----------------------------------------------
    state: dict[str, Any] = {}
    case("merchant-api: a merchant, its key and a branch on the fixtures' number", lambda: onboard(api, state))
    case("payment settings name the API's public domain, never loopback", lambda: public_callback(api, state))
    case("a signed message is queued once, answered through order-confirm and message-sender", lambda: conversation(ingest, inbound, outbound, graph, api, state))
    case("the merchant's own message goes out through message-sender", lambda: merchant_message(api, outbound, graph, state))
    case("a catalog order: confirmed, stock reserved, a Stripe link sent", lambda: purchase(api, ingest, inbound, outbound, graph, state))
    case("Stripe's signed callback marks it paid through payment-callback", lambda: paid(api, pay, outbound, state))
    case("the invoice is stamped by invoice-stamp, stored, and its files served", lambda: invoiced(api, invoicing, outbound, graph, state))
    case("the operator's dead-letter view and replay", lambda: dead_letters(api, stack))
    case("every scheduled job runs on the deployed function", lambda: all_jobs(functions["reminders"], outbound, invoicing))

    # -- cold start and permissions ----------------------------------------------------------------
    report = {}
    for b, f in functions.items():
        report[b] = {
            "init_ms": round(init_ms[b], 1),
            "first_invocation_ms": round(f.first_ms or 0, 1),
            "warm_invocation_ms": round(sorted(f.warm_ms)[len(f.warm_ms) // 2], 1) if f.warm_ms else None,
            "peak_rss_mib": round(f.peak_kib() / 1024, 1),
        }
    print("harness: cold start (debug build, moto on loopback): function init / first / warm (median) / peak RSS")
    for b, r in report.items():
        print(f"harness:   {b:17} {r['init_ms']:7.1f} ms {r['first_invocation_ms']:8.1f} ms {r['warm_invocation_ms'] or 0:8.1f} ms {r['peak_rss_mib']:6.1f} MiB")
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n")

    problems, notes = check_permissions(cfn, stack, list(functions.values()))
    for n in notes:
        print(f"harness: note  permissions: {n}")
    for p in problems:
        print(f"harness: FAIL  permissions: {p}")
    if not problems:
        print("harness: ok    every AWS operation each function performed is granted by its role, and every grant is used")
    failures += problems

    for f in functions.values():
        f.stop()
    if failures:
        print(f"harness: {len(failures)} failure(s); function logs in {work}", file=sys.stderr)
        return 1
    print(f"harness: OK ({len(functions)} functions)")
    return 0


def expect(condition: bool, message: str = "unexpected answer") -> None:
    if not condition:
        raise AssertionError(message)


def verify_handshake(ingest: Function) -> None:
    event = fixture("webhook-ingest", "verify.json")
    answer = ingest.invoke(event)
    challenge = event["queryStringParameters"]["hub.challenge"]
    expect(status(answer) == 200 and answer[1].get("body") == challenge, f"{answer}")


def unrouted(ingest: Function) -> None:
    answer = ingest.invoke(fixture("webhook-ingest", "message-text.json"))
    expect(status(answer) == 200, f"{answer}")
    expect(body_json(answer).get("unrouted") == 1, f"{answer}")


def job_ok(reminders: Function, event: Any) -> None:
    kind, payload = reminders.invoke(event)
    expect(kind == "response", f"{kind}: {payload}\n{reminders.log()}")


def batch_ok(function: Function, event: Any) -> None:
    kind, payload = function.invoke(event)
    expect(kind == "response", f"{kind}: {payload}\n{function.log()}")
    expect(not (payload or {}).get("batchItemFailures"), f"{payload}\n{function.log()}")


def via_queue(stack: Stack, queue_logical: str, function: Function, event: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    """A fixture batch through the real queue: its bodies are sent, received back (so receipts are
    moto's) and handed to the function; what it does not report as failed is deleted. Failed records
    are made visible again and handed over until none is left, as the event source mapping would
    after the visibility timeout. Returns the first answer and what reached the dead-letter queue."""
    url = stack.physical[queue_logical]["QueueUrl"]
    fifo = url.endswith(".fifo")
    for r in event["Records"]:
        extra = {}
        if fifo:
            extra = {"MessageGroupId": r.get("attributes", {}).get("MessageGroupId", "g"), "MessageDeduplicationId": uuid.uuid4().hex}
        stack.sqs.send_message(QueueUrl=url, MessageBody=r["body"], **extra)
    mapping = Mapping(stack, queue_logical, function, 10)
    first = None
    for _ in range(len(event["Records"]) + 1):
        got = stack.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
        if not got:
            break
        records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"], "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": mapping.arn, "awsRegion": REGION} for m in got]
        kind, payload = function.invoke({"Records": records})
        expect(kind == "response", f"{kind}: {payload}\n{function.log()}")
        first = first if first is not None else payload
        failed = {f["itemIdentifier"] for f in (payload or {}).get("batchItemFailures", [])}
        for m in got:
            if m["MessageId"] in failed:
                stack.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
            else:
                stack.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    dlq_logical = queue_logical.replace("Queue", "DLQ")
    dlq = stack.physical[dlq_logical]["QueueUrl"]
    dead = stack.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    for m in dead:
        stack.sqs.delete_message(QueueUrl=dlq, ReceiptHandle=m["ReceiptHandle"])
    return first, dead


def malformed(stack: Stack, confirm: Function) -> None:
    event = fixture("order-confirm", "malformed-record.json")
    _, dead = via_queue(stack, "InboundQueue", confirm, event)
    expect(len(dead) == 1, f"one record dead-lettered, not {len(dead)}\n{confirm.log()}")


def no_order_to_invoice(stack: Stack, stamp: Function) -> None:
    event = fixture("invoice-stamp", "invoice-batch.json")
    answer, dead = via_queue(stack, "InvoicingQueue", stamp, event)
    expect(not (answer or {}).get("batchItemFailures"), f"{answer}")
    expect(len(dead) == len(event["Records"]), f"every request for an unknown order dead-lettered: {len(dead)}\n{stamp.log()}")


def admin(method: str, path: str, body: Any = None) -> dict[str, Any]:
    return http_event(method, path, body, {"authorization": f"Bearer {ADMIN_KEY}"}, route="ANY /v1/{proxy+}")


def merchant(state: dict[str, Any], method: str, path: str, body: Any = None) -> dict[str, Any]:
    return http_event(method, path, body, {"authorization": f"Bearer {state['key']}"}, route="ANY /v1/{proxy+}")


def onboard(api: Function, state: dict[str, Any]) -> None:
    a = api.invoke(admin("POST", "/v1/admin/merchants", {"name": "Farmacia Harness"}))
    expect(status(a) == 201, f"{a}")
    state["merchant"] = body_json(a)["id"]
    a = api.invoke(admin("POST", f"/v1/admin/merchants/{state['merchant']}/api-keys", {}))
    expect(status(a) == 201, f"{a}")
    state["key"] = body_json(a)["api_key"]
    a = api.invoke(merchant(state, "POST", "/v1/branches", {"name": "Centro", "postal_code": "06700", "phone_number_id": PHONE_NUMBER_ID, "address": "Av. Álvaro Obregón 1"}))
    expect(status(a) == 201, f"{a}")
    state["branch"] = body_json(a)["id"]
    a = api.invoke(merchant(state, "PUT", "/v1/settings/whatsapp", {"access_token": "EAAG" + "h4rn3ss" * 20}))
    expect(status(a) in (200, 204), f"{a}")


def public_callback(api: Function, state: dict[str, Any]) -> None:
    a = api.invoke(merchant(state, "PUT", "/v1/settings/payments", {"provider": "stripe", "secret_key": "sk_test_51Harness", "webhook_secret": "whsec_harness"}))
    expect(status(a) == 200, f"{a}")
    url = body_json(a)["callback_url"]
    expect(url.startswith(f"https://{API_DOMAIN}/webhooks/payments/stripe?m="), url)
    a = api.invoke(merchant(state, "GET", "/v1/settings/payments"))
    expect(status(a) == 200, f"{a}")


def conversation(ingest: Function, inbound: Mapping, outbound: Mapping, graph: Graph, api: Function, state: dict[str, Any]) -> None:
    wamid = f"wamid.harness.{uuid.uuid4().hex}"
    first = ingest.invoke(signed_webhook(text_message(wamid, "Hola")))
    expect(status(first) == 200 and body_json(first).get("enqueued") == 1, f"{first}\n{ingest.log()}")
    again = ingest.invoke(signed_webhook(text_message(wamid, "Hola")))
    expect(status(again) == 200 and body_json(again).get("duplicates") == 1, f"Meta's retry: {again}")
    expect(inbound.drain() == 1, "one inbound message")
    before = len(graph.sent)
    expect(outbound.drain() >= 1, "a reply was queued")
    replies = graph.sent[before:]
    # Mexican mobile numbers arrive as 521XXXXXXXXXX and are sent to as 52XXXXXXXXXX.
    expect(replies and all(r["message"].get("to") in (CUSTOMER, "52" + CUSTOMER[3:]) for r in replies), f"{replies}")
    expect(all(r["path"] == f"/v25.0/{PHONE_NUMBER_ID}/messages" for r in replies), f"{replies}")
    a = api.invoke(merchant(state, "GET", f"/v1/conversations/{CUSTOMER}/messages"))
    expect(status(a) == 200, f"{a}")


def merchant_message(api: Function, outbound: Mapping, graph: Graph, state: dict[str, Any]) -> None:
    a = api.invoke(merchant(state, "POST", "/v1/messages", {"to": CUSTOMER, "branch_id": state["branch"], "message": {"type": "text", "text": {"body": "Su pedido está listo"}}}))
    expect(status(a) in (200, 201, 202), f"{a}")
    before = len(graph.sent)
    expect(outbound.drain() == 1, "the merchant's message was queued")
    expect(len(graph.sent) == before + 1, "and sent")
    a = api.invoke(merchant(state, "GET", "/v1/outbox"))
    expect(status(a) == 200, f"{a}")


SKU = "7501008491072"


def chat(ingest: Function, inbound: Mapping, outbound: Mapping, graph: Graph, message: dict[str, Any]) -> list[dict[str, Any]]:
    """One customer message through ingest, order-confirm and message-sender; the replies sent."""
    body = text_message(f"wamid.harness.{uuid.uuid4().hex}", "")
    msg = body["entry"][0]["changes"][0]["value"]["messages"][0]
    del msg["text"]
    msg.update(message)
    a = ingest.invoke(signed_webhook(body))
    expect(status(a) == 200 and body_json(a).get("enqueued") == 1, f"{a}")
    inbound.drain()
    before = len(graph.sent)
    outbound.drain()
    return [r["message"] for r in graph.sent[before:]]


def text_of(m: dict[str, Any]) -> str:
    return m.get("text", {}).get("body") or m.get("interactive", {}).get("body", {}).get("text") or ""


def purchase(api: Function, ingest: Function, inbound: Mapping, outbound: Mapping, graph: Graph, state: dict[str, Any]) -> None:
    product = {"sku": SKU, "name": "Paracetamol 500 mg 20 tabletas", "price": 4550, "tax": "iva0", "clave_prod_serv": "51142001", "clave_unidad": "H87", "categories": ["Analgésicos"]}
    a = api.invoke(merchant(state, "PUT", f"/v1/products/{SKU}", product))
    expect(status(a) == 200, f"{a}")
    a = api.invoke(merchant(state, "PUT", f"/v1/branches/{state['branch']}/stock", [{"sku": SKU, "quantity": 10}]))
    expect(status(a) == 200, f"{a}")
    replies = chat(ingest, inbound, outbound, graph, {"type": "order", "order": {"catalog_id": "1", "product_items": [{"product_retailer_id": SKU, "quantity": 2, "item_price": 0.01, "currency": "MXN"}]}})
    expect(any("$91.00" in text_of(m) for m in replies), f"a summary of 2 × $45.50: {replies}")
    replies = chat(ingest, inbound, outbound, graph, {"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "confirmar", "title": "Confirmar"}}})
    expect(any("checkout.stripe.com" in json.dumps(m) for m in replies), f"the Stripe link: {replies}")
    a = api.invoke(merchant(state, "GET", "/v1/orders"))
    orders = body_json(a)["orders"]
    expect(len(orders) == 1 and orders[0]["status"] == "awaiting_payment" and orders[0]["total"] == 9100, f"{orders}")
    state["order"] = orders[0]["id"]
    a = api.invoke(merchant(state, "GET", f"/v1/branches/{state['branch']}/stock"))
    row = next(r for r in body_json(a)["stock"] if r["sku"] == SKU)
    expect((row["available"], row["reserved"]) == (8, 2), f"{row}")


def paid(api: Function, pay: Function, outbound: Mapping, state: dict[str, Any]) -> None:
    event = {"id": f"evt_harness_{uuid.uuid4().hex[:12]}", "object": "event", "type": "checkout.session.completed", "data": {"object": {
        "id": "cs_test_harness1", "object": "checkout.session", "client_reference_id": state["order"], "metadata": {"order_id": state["order"]},
        "amount_total": 9100, "currency": "mxn", "payment_status": "paid", "payment_method_types": ["card"], "payment_intent": "pi_harness1"}}}
    raw = json.dumps(event)
    t = int(time.time())
    sig = hmac.new(b"whsec_harness", f"{t}.{raw}".encode(), hashlib.sha256).hexdigest()
    path = f"/webhooks/payments/stripe?m={state['merchant']}"
    a = pay.invoke(http_event("POST", path, raw, {"stripe-signature": f"t={t},v1={sig}"}, route="POST /webhooks/payments/{provider}") | {"pathParameters": {"provider": "stripe"}})
    expect(status(a) == 200, f"{a}\n{pay.log()}")
    forged = pay.invoke(http_event("POST", path, raw, {"stripe-signature": f"t={t},v1={'0' * 64}"}, route="POST /webhooks/payments/{provider}") | {"pathParameters": {"provider": "stripe"}})
    expect(status(forged) in (400, 401), f"a forged signature: {forged}")
    a = api.invoke(merchant(state, "GET", f"/v1/orders/{state['order']}"))
    expect(body_json(a)["status"] == "paid", f"{a}")
    outbound.drain()


def invoiced(api: Function, invoicing: Mapping, outbound: Mapping, graph: Graph, state: dict[str, Any]) -> None:
    csd = ROOT / "shared" / "cfdi" / "tests" / "fixtures" / "csd"
    import base64

    a = api.invoke(merchant(state, "PUT", "/v1/settings/invoicing", {"rfc": "EKU9003173C9", "nombre": "ESCUELA KEMPER URGATE", "regimen_fiscal": "601", "serie": "FH"}))
    expect(status(a) == 200, f"{a}")
    a = api.invoke(merchant(state, "PUT", "/v1/settings/invoicing/csd", {
        "certificate": base64.b64encode((csd / "EKU9003173C9.cer").read_bytes()).decode(),
        "private_key": base64.b64encode((csd / "EKU9003173C9.key").read_bytes()).decode(),
        "password": "12345678a"}))
    expect(status(a) == 200, f"{a}")
    a = api.invoke(merchant(state, "POST", f"/v1/orders/{state['order']}/invoice", {"rfc": "CACX7605101P8", "nombre": "Xochilt Casas Chavez", "codigo_postal": "36257", "regimen_fiscal": "626", "uso_cfdi": "G03"}))
    expect(status(a) == 202, f"{a}")
    expect(invoicing.drain() >= 1, "an invoicing request")
    a = api.invoke(merchant(state, "GET", f"/v1/invoices/{state['order']}"))
    invoice = body_json(a)
    expect(status(a) == 200 and invoice.get("status") == "stamped", f"{a}")
    a = api.invoke(merchant(state, "GET", f"/v1/invoices/{state['order']}/xml"))
    expect(status(a) == 200 and "cfdi:Comprobante" in (a[1].get("body") or ""), f"{str(a)[:400]}")
    before = len(graph.sent)
    outbound.drain()
    documents = [r["message"] for r in graph.sent[before:] if r["message"].get("type") == "document"]
    expect(documents, f"the invoice sent as a document: {graph.sent[before:]}")
    link = documents[0]["document"]["link"]
    expect(link.startswith(f"https://{API_DOMAIN}/files/"), link)
    token = link.rsplit("/", 1)[1]
    a = api.invoke(http_event("GET", f"/files/{token}", route="GET /files/{token}"))
    expect(status(a) == 200, f"the file behind the link: {str(a)[:300]}")
    a = api.invoke(http_event("GET", f"/files/{token[:-4]}AAAA", route="GET /files/{token}"))
    expect(status(a) in (403, 404), f"a forged file link: {str(a)[:300]}")


def dead_letters(api: Function, stack: Stack) -> None:
    a = api.invoke(admin("GET", "/v1/admin/queues"))
    expect(status(a) == 200, f"{a}")
    dlq = stack.physical["OutboundDLQ"]["QueueUrl"]
    stack.sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"harness": "dead letter"}), MessageGroupId="harness", MessageDeduplicationId=uuid.uuid4().hex)
    a = api.invoke(admin("GET", "/v1/admin/queues/outbound/dead-letters"))
    expect(status(a) == 200, f"{a}")
    a = api.invoke(admin("POST", "/v1/admin/queues/outbound/replay", {}))
    expect(status(a) == 200, f"{a}")


def all_jobs(reminders: Function, outbound: Mapping, invoicing: Mapping) -> None:
    for job in vt.EXPECTED_SCHEDULES.values():
        kind, payload = reminders.invoke({"job": job[1]})
        expect(kind == "response", f"{job[1]}: {kind} {payload}\n{reminders.log()}")
    outbound.drain()
    invoicing.drain()


if __name__ == "__main__":
    sys.exit(main())
