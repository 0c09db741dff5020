#!/usr/bin/env python3
"""Offline SAM transform of infra/template.yaml plus structural checks.

Usage: validate_template.py [--template infra/template.yaml] --output transformed.json

1. Parses the SAM template (CloudFormation short-form tags !Ref, !GetAtt, !Sub ... are understood
   through samtranslator's YAML helper).
2. Transforms it to plain CloudFormation with aws-sam-translator, offline: the translator only asks
   for the AWS managed policy map when a policy is given by *name*; instead of the IAM-calling
   ManagedPolicyLoader we hand it a loader that returns the map bundled with samtranslator.
   No network, no credentials (the caller sets a region and fake credentials so boto3 never goes
   looking for real ones).
3. Checks invariants of this project that neither SAM nor cfn-lint knows (visibility timeouts vs.
   function timeouts, redrive, DLQ alarms, the binaries, the schedule list).
4. Writes the transformed template as JSON to --output, for cfn-lint (run by validate-template.sh).

Exit status: 0 when the transform succeeded and every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", os.environ["AWS_DEFAULT_REGION"])
os.environ.setdefault("AWS_ACCESS_KEY_ID", "offline")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "offline")
# Never read ~/.aws or the instance metadata endpoint.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ.setdefault("AWS_CONFIG_FILE", os.devnull)
os.environ.setdefault("AWS_SHARED_CREDENTIALS_FILE", os.devnull)

from samtranslator.internal.managed_policies import get_bundled_managed_policy_map  # noqa: E402
from samtranslator.model.exceptions import InvalidDocumentException  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

# The contract with the Rust side. Binary = package name under functions/.
EXPECTED_BINARIES = {
    "WebhookIngestFunction": "webhook-ingest",
    "MerchantApiFunction": "merchant-api",
    "PaymentCallbackFunction": "payment-callback",
    "OrderConfirmFunction": "order-confirm",
    "MessageSenderFunction": "message-sender",
    "InvoiceStampFunction": "invoice-stamp",
    "RemindersFunction": "reminders",
}

# Scheduler jobs: event name -> (expression, job name in the Input JSON).
EXPECTED_SCHEDULES = {
    "PaymentReminders": ("rate(5 minutes)", "payment_reminders"),
    "ExpireOrders": ("rate(1 minute)", "expire_orders"),
    "AbandonedCarts": ("rate(15 minutes)", "abandoned_carts"),
    "GlobalInvoices": ("cron(30 0 * * ? *)", "global_invoices"),
    "DueNotifications": ("rate(1 minute)", "due_notifications"),
    "CatalogSync": ("rate(1 minute)", "catalog_sync"),
}
SCHEDULE_TIMEZONE = "America/Mexico_City"

# HTTP routes (DESIGN.md "HTTP surface"): function -> {(method, path)}.
EXPECTED_ROUTES = {
    "WebhookIngestFunction": {("GET", "/webhooks/whatsapp"), ("POST", "/webhooks/whatsapp")},
    "MerchantApiFunction": {
        ("ANY", "/v1/{proxy+}"),
        ("GET", "/l/{code}"),
        ("HEAD", "/l/{code}"),
        ("GET", "/files/{token}"),
        ("GET", "/healthz"),
        ("GET", "/panel"),
        ("GET", "/panel/{proxy+}"),
    },
    "PaymentCallbackFunction": {("POST", "/webhooks/payments/{provider}")},
}

DLQ_RETENTION_SECONDS = 14 * 24 * 3600
MAX_RECEIVE_COUNT = 5


class OfflineManagedPolicyLoader:
    """Stands in for samtranslator's ManagedPolicyLoader (which lists policies through IAM)."""

    def __init__(self, partition: str = "aws") -> None:
        self._partition = partition

    def load(self) -> dict[str, str]:
        return dict(get_bundled_managed_policy_map(self._partition) or {})


def ref_target(value: Any) -> str | None:
    """Logical id behind {"Ref": X} or {"Fn::GetAtt": [X, attr]}."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            getatt = value["Fn::GetAtt"]
            return getatt[0] if isinstance(getatt, list) else str(getatt).split(".", 1)[0]
    return None


def check_sam(sam: dict[str, Any]) -> list[str]:
    """Invariants on the SAM (pre-transform) template."""
    problems: list[str] = []
    resources: dict[str, Any] = sam.get("Resources", {})
    globals_fn = sam.get("Globals", {}).get("Function", {})

    functions = {k: v for k, v in resources.items() if v.get("Type") == "AWS::Serverless::Function"}
    if set(functions) != set(EXPECTED_BINARIES):
        problems.append(f"functions {sorted(functions)} != expected {sorted(EXPECTED_BINARIES)}")

    for name, fn in functions.items():
        meta = fn.get("Metadata", {})
        props = fn.get("Properties", {})
        if meta.get("BuildMethod") != "rust-cargolambda":
            problems.append(f"{name}: Metadata.BuildMethod must be rust-cargolambda")
        binary = meta.get("BuildProperties", {}).get("Binary")
        if name in EXPECTED_BINARIES and binary != EXPECTED_BINARIES[name]:
            problems.append(f"{name}: BuildProperties.Binary is {binary!r}, expected {EXPECTED_BINARIES[name]!r}")
        if binary and props.get("CodeUri", globals_fn.get("CodeUri")) != f"../functions/{binary}":
            problems.append(
                f"{name}: CodeUri must be '../functions/{binary}' (its package, where `cargo lambda build --bin {binary}` resolves)"
            )
        timeout = props.get("Timeout", globals_fn.get("Timeout", 3))

        routes = set()
        for ev_name, ev in props.get("Events", {}).items():
            if ev.get("Type") != "HttpApi":
                continue
            ev_props = ev.get("Properties", {})
            if ref_target(ev_props.get("ApiId")) != "HttpApi":
                problems.append(f"{name}.{ev_name}: ApiId must be !Ref HttpApi (not SAM's implicit API)")
            routes.add((str(ev_props.get("Method", "")).upper(), ev_props.get("Path")))
        if routes != EXPECTED_ROUTES.get(name, set()):
            problems.append(f"{name}: HTTP routes {sorted(routes)} != expected {sorted(EXPECTED_ROUTES.get(name, set()))}")

        for ev_name, ev in props.get("Events", {}).items():
            ev_props = ev.get("Properties", {})
            if ev.get("Type") != "SQS":
                continue
            queue_id = ref_target(ev_props.get("Queue"))
            queue = resources.get(queue_id or "", {}).get("Properties", {})
            where = f"{name}.{ev_name} ({queue_id})"
            if "ReportBatchItemFailures" not in ev_props.get("FunctionResponseTypes", []):
                problems.append(f"{where}: FunctionResponseTypes must include ReportBatchItemFailures")
            window = ev_props.get("MaximumBatchingWindowInSeconds", 0)
            if queue.get("FifoQueue"):
                if ev_props.get("BatchSize", 10) > 10:
                    problems.append(f"{where}: FIFO sources take BatchSize <= 10")
                if window:
                    problems.append(f"{where}: FIFO sources take no MaximumBatchingWindowInSeconds")
            visibility = queue.get("VisibilityTimeout", 30)
            if visibility < 6 * timeout + window:
                problems.append(
                    f"{where}: VisibilityTimeout {visibility} < 6 x Timeout {timeout} + window {window}"
                )

    # Queues: redrive and DLQ shape.
    queues = {k: v.get("Properties", {}) for k, v in resources.items() if v.get("Type") == "AWS::SQS::Queue"}
    dlqs = set()
    for qid, q in queues.items():
        redrive = q.get("RedrivePolicy")
        if not redrive:
            continue
        dlq_id = ref_target(redrive.get("deadLetterTargetArn"))
        dlqs.add(dlq_id)
        if redrive.get("maxReceiveCount") != MAX_RECEIVE_COUNT:
            problems.append(f"{qid}: RedrivePolicy.maxReceiveCount must be {MAX_RECEIVE_COUNT}")
        dlq = queues.get(dlq_id or "")
        if dlq is None:
            problems.append(f"{qid}: dead-letter target {dlq_id} is not a queue of this template")
            continue
        if bool(dlq.get("FifoQueue")) != bool(q.get("FifoQueue")):
            problems.append(f"{qid}: its DLQ {dlq_id} must be FIFO exactly when the queue is")
    for qid, q in queues.items():
        if not q.get("SqsManagedSseEnabled") and not q.get("KmsMasterKeyId"):
            problems.append(f"{qid}: not encrypted at rest")
        is_dlq = qid in dlqs or qid == "SchedulerDLQ"
        if is_dlq and q.get("MessageRetentionPeriod") != DLQ_RETENTION_SECONDS:
            problems.append(f"{qid}: DLQ MessageRetentionPeriod must be {DLQ_RETENTION_SECONDS}")
        if not is_dlq and not q.get("RedrivePolicy"):
            problems.append(f"{qid}: source queue without RedrivePolicy")
    dlqs.add("SchedulerDLQ")

    # One alarm per DLQ.
    alarmed = set()
    for res in resources.values():
        if res.get("Type") != "AWS::CloudWatch::Alarm":
            continue
        for dim in res.get("Properties", {}).get("Dimensions", []):
            if dim.get("Name") == "QueueName":
                alarmed.add(ref_target(dim.get("Value")))
    for dlq_id in sorted(d for d in dlqs if d):
        if dlq_id not in alarmed:
            problems.append(f"{dlq_id}: no CloudWatch alarm on it")

    # The schedules, exactly.
    reminders = resources.get("RemindersFunction", {}).get("Properties", {})
    schedules = {k: v.get("Properties", {}) for k, v in reminders.get("Events", {}).items() if v.get("Type") == "ScheduleV2"}
    if set(schedules) != set(EXPECTED_SCHEDULES):
        problems.append(f"schedules {sorted(schedules)} != expected {sorted(EXPECTED_SCHEDULES)}")
    for ev_name, (expression, job) in EXPECTED_SCHEDULES.items():
        props = schedules.get(ev_name)
        if props is None:
            continue
        if props.get("ScheduleExpression") != expression:
            problems.append(f"{ev_name}: ScheduleExpression {props.get('ScheduleExpression')!r} != {expression!r}")
        if props.get("ScheduleExpressionTimezone") != SCHEDULE_TIMEZONE:
            problems.append(f"{ev_name}: ScheduleExpressionTimezone must be {SCHEDULE_TIMEZONE}")
        try:
            payload = json.loads(props.get("Input", ""))
        except (TypeError, ValueError):
            payload = None
        if payload != {"job": job}:
            problems.append(f"{ev_name}: Input must be the JSON {{\"job\": \"{job}\"}}, got {props.get('Input')!r}")
        if not props.get("OmitName") and not props.get("Name"):
            problems.append(f"{ev_name}: set OmitName: true or a stage-unique Name")
        if ref_target(props.get("DeadLetterConfig", {}).get("Arn")) != "SchedulerDLQ":
            problems.append(f"{ev_name}: DeadLetterConfig.Arn must be SchedulerDLQ")
        if "RetryPolicy" not in props:
            problems.append(f"{ev_name}: RetryPolicy missing")
    return problems


def package_offline(sam: dict[str, Any]) -> dict[str, Any]:
    """What `sam package` does to local paths, without uploading: the translator accepts only
    S3 locations for code, so local CodeUri values become placeholder s3:// URIs."""
    packaged = json.loads(json.dumps(sam))
    for logical_id, res in packaged.get("Resources", {}).items():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::Serverless::Function":
            code_uri = props.get("CodeUri")
            if isinstance(code_uri, str) and not code_uri.startswith("s3://"):
                props["CodeUri"] = f"s3://offline-validation/{logical_id}.zip"
    return packaged


def check_transformed(cfn: dict[str, Any]) -> list[str]:
    """Invariants on the transformed CloudFormation."""
    problems: list[str] = []
    resources = cfn.get("Resources", {})
    schedules = [r for r in resources.values() if r.get("Type") == "AWS::Scheduler::Schedule"]
    if len(schedules) != len(EXPECTED_SCHEDULES):
        problems.append(f"{len(schedules)} AWS::Scheduler::Schedule resources, expected {len(EXPECTED_SCHEDULES)}")
    mappings = [r for r in resources.values() if r.get("Type") == "AWS::Lambda::EventSourceMapping"]
    if len(mappings) != 3:
        problems.append(f"{len(mappings)} event source mappings, expected 3")
    for logical_id, res in resources.items():
        if res.get("Type") == "AWS::Serverless::Function" or res.get("Type", "").startswith("AWS::Serverless::"):
            problems.append(f"{logical_id}: still a SAM resource after the transform")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default=str(Path(__file__).with_name("template.yaml")))
    parser.add_argument("--output", required=True, help="where to write the transformed template (JSON)")
    args = parser.parse_args()

    sam = yaml_parse(Path(args.template).read_text(encoding="utf-8"))
    problems = check_sam(sam)

    try:
        # transform() mutates its input; package_offline() returns a copy.
        cfn = transform(package_offline(sam), {}, OfflineManagedPolicyLoader())
    except InvalidDocumentException as exc:
        for cause in exc.causes:
            print(f"SAM transform error: {cause.message}", file=sys.stderr)
        return 1

    problems += check_transformed(cfn)
    Path(args.output).write_text(json.dumps(cfn, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    for problem in problems:
        print(f"template check failed: {problem}", file=sys.stderr)
    if problems:
        return 1
    kinds: dict[str, int] = {}
    for res in cfn["Resources"].values():
        kinds[res["Type"]] = kinds.get(res["Type"], 0) + 1
    summary = ", ".join(f"{n} {t}" for t, n in sorted(kinds.items()))
    print(f"SAM transform OK: {len(cfn['Resources'])} resources ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
